//! `Vu`: one virtual user — its session state and the steps it runs, setup once then iterations.
//!
//! A user is one small task: its variables, its HTTP connections and at most one open WebSocket.
//! Results go straight into the worker's `Recorder` (a `RefCell` on this thread, never held across
//! an await), so the hot path has no lock and no channel.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

use super::guard::FlowGuard;
use super::observer::{Done, Observer};
use super::Stop;
use crate::metrics::errors::{ErrorKind, Failure, Phase};
use crate::metrics::recorder::{Activity, Recorder};
use crate::metrics::transcript::{self, Direction, FrameType, Tape, Transcript};
use crate::plan::{Body, EventId, HttpStep, Plan, Step, StepId, StepKind, Think, WsConnect};
use crate::scenario::template::{Ctx, Template};
use crate::transport::http::{HttpClient, Request, Response};
use crate::transport::{push_query_encoded, ws};

/// An open WebSocket and the connect step whose responders apply to it.
pub struct Socket {
    pub stream: ws::Socket,
    pub connect_step: StepId,
}

/// Now, in seconds since the epoch (JWT times).
fn epoch_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// How long a user that ends (the run is over) waits for the closing handshake of its socket.
pub const END_CLOSE: Duration = Duration::from_secs(1);

/// One virtual user.
pub struct Vu<O: Observer> {
    pub plan: Arc<Plan>,
    pub rec: Rc<RefCell<Recorder>>,
    /// Global user number (unique across workers and shards).
    pub id: u64,
    pub iteration: u64,
    pub vars: Vec<Option<String>>,
    pub http: HttpClient,
    /// Boxed: the stream (with its TLS state) is large, and most users' sockets are idle.
    pub ws: Option<Box<Socket>>,
    /// Expected events seen in the current exchange (for diagnosis), reused between steps.
    pub seq: Vec<EventId>,
    pub obs: O,
    /// Open model: how late the current flow started after its intended start.
    pub lag: Option<Duration>,
    /// What the current flow is doing and since when (read if the flow is cut off).
    pub activity: Rc<Cell<(Activity, Instant)>>,
    /// Failed flows in a row (closed model backoff; reset by a passed flow).
    failures_in_row: u32,
    /// The current flow missed a budget (`ws.budgets`): if it passes, it is late, not good.
    pub late: bool,
    /// Buffers the exchange steps reuse for their stream figures.
    pub scratch: super::exchange::Scratch,
    setup_done: bool,
    /// When the session's token expires (read from it after the setup; `runner::token`).
    token: Option<super::token::Expiry>,
    url_buf: String,
    body_buf: String,
    /// The current flow's frames, for a failure transcript (`None` with `--transcripts 0`).
    /// Boxed: one pointer in the user while transcripts are off.
    pub tape: Option<Box<Tape>>,
    /// When the run started (a transcript says when its flow started in the run).
    pub run_start: Instant,
}

impl<O: Observer> Vu<O> {
    pub fn new(plan: Arc<Plan>, rec: Rc<RefCell<Recorder>>, id: u64, obs: O) -> Self {
        let mut vars: Vec<Option<String>> = plan.vars.iter().map(|v| v.default.clone()).collect();
        if let Some(feeder) = &plan.feeder {
            // The user's row, taken once at its start and kept for its whole life (a token
            // refresh runs the setup again with the same row).
            feeder.fill(id, &mut vars);
        }
        let setup_done = plan.setup_len == 0;
        let plan_transcripts = plan.transcripts;
        let raw_cap = transcript::raw_cap(&plan.secrets);
        let mut vu = Vu {
            plan,
            rec,
            id,
            iteration: 0,
            vars,
            http: HttpClient::default(),
            ws: None,
            seq: Vec::new(),
            obs,
            lag: None,
            activity: Rc::new(Cell::new((
                Activity {
                    step: 0,
                    after_event: None,
                },
                Instant::now(),
            ))),
            failures_in_row: 0,
            late: false,
            scratch: Default::default(),
            setup_done,
            token: None,
            url_buf: String::new(),
            body_buf: String::new(),
            tape: (plan_transcripts > 0).then(|| Box::new(Tape::new(raw_cap))),
            run_start: Instant::now(),
        };
        vu.http.bind = vu.bind();
        vu
    }

    /// This user's source address (`--local-addrs`), if any.
    fn bind(&self) -> Option<std::net::IpAddr> {
        let addrs = &self.plan.local_addrs;
        (!addrs.is_empty()).then(|| addrs[(self.id % addrs.len() as u64) as usize])
    }

    /// One flow: the setup steps if they have not passed yet, then one iteration. `lag` is how
    /// late the flow starts after its intended start (open model). True when it passed.
    pub async fn flow(&mut self, lag: Option<Duration>) -> bool {
        let plan = self.plan.clone();
        self.lag = lag;
        if let Some(tape) = self.tape.as_deref_mut() {
            tape.clear(Instant::now());
        }
        self.rec.borrow_mut().flow_started();
        // Accounts for the flow if it never gets to the end of this function: cut off by a
        // stop (interrupted) or by a panic (failed, kind `internal`).
        let guard = FlowGuard::new(self.rec.clone(), self.activity.clone());
        self.late = false;
        if self.setup_done && plan.token_refresh && self.token.is_some_and(|t| t.due(epoch_now())) {
            // The token is about to expire: log in again before this flow (the setup steps'
            // counts show each refresh).
            self.setup_done = false;
        }
        let passed = if !self.setup_done && !self.run_steps(plan.setup()).await {
            false
        } else {
            if !self.setup_done
                && !plan
                    .iteration()
                    .iter()
                    .any(|s| matches!(s.kind, StepKind::Http(_)))
            {
                // Setup's HTTP connections (the login) are not needed again: free them.
                self.http = HttpClient::default();
                self.http.bind = self.bind();
            }
            if !self.setup_done && plan.setup_len > 0 {
                self.token = super::token::Expiry::of(&self.vars);
            }
            self.setup_done = true;
            let started = Instant::now();
            let ok = self.run_steps(plan.iteration()).await;
            if ok {
                let late = std::mem::take(&mut self.late);
                self.rec
                    .borrow_mut()
                    .flow_passed(started.elapsed(), lag, late);
            }
            self.iteration += 1;
            ok
        };
        if !passed {
            self.rec.borrow_mut().flow_failed();
        }
        if let Some(tape) = self.tape.as_deref_mut() {
            tape.trim();
        }
        guard.done();
        passed
    }

    /// Records what the flow is doing now (for the summary, if a stop cuts it off).
    pub fn set_activity(
        &self,
        step: crate::plan::StepId,
        after_event: Option<EventId>,
        at: Instant,
    ) {
        self.activity.set((Activity { step, after_event }, at));
    }

    /// Closed model: iterates until `stop` says so (or, with a ramp, while the ramp counts this
    /// user in), re-running setup after it failed (with a pause, so a failing login is not hammered).
    pub async fn run(mut self, stop: Stop) -> O {
        self.run_start = stop.start;
        let mut done: u64 = 0;
        loop {
            if let Some(ramp) = &stop.ramp {
                // Wait until the ramp counts this user in; leave for good when it never will.
                let now = stop.start.elapsed().as_secs_f64();
                match ramp.next_time_above(self.id as f64, now) {
                    None => break,
                    Some(at) if at > now => {
                        let when = stop.start + Duration::from_secs_f64(at);
                        tokio::select! {
                            _ = tokio::time::sleep_until(when) => {}
                            _ = stop.soft.cancelled() => break,
                        }
                    }
                    Some(_) => {}
                }
            }
            if stop.should_stop(done) {
                break;
            }
            let passed = self.flow(None).await;
            done += 1;
            if passed {
                self.failures_in_row = 0;
            } else {
                self.failures_in_row = self.failures_in_row.saturating_add(1);
                if !stop.should_stop(done) {
                    self.back_off(&stop).await;
                }
            }
        }
        self.close().await;
        self.obs
    }

    /// After a failed flow: waits (exponential backoff with jitter, reset by a passed flow) so a
    /// broken target is not hammered; a stop ends the wait.
    async fn back_off(&mut self, stop: &Stop) {
        let Some(wait) = backoff_delay(
            &self.plan.load.backoff,
            self.failures_in_row,
            rand::thread_rng().gen_range(0.0..1.0),
        ) else {
            return;
        };
        let started = Instant::now();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.soft.cancelled() => {}
        }
        let mut rec = self.rec.borrow_mut();
        rec.backoffs += 1;
        rec.backoff_total += started.elapsed();
    }

    /// Closes the socket, if one is open, within `END_CLOSE`.
    pub async fn close(&mut self) {
        if let Some(mut s) = self.ws.take() {
            let by = ws::Deadline::after(Instant::now(), END_CLOSE, "at the end of a user");
            let _ = Box::pin(s.stream.close(1000, by)).await;
        }
    }

    /// Runs steps in order; stops at the first failure. True when all passed.
    async fn run_steps(&mut self, steps: &[Step]) -> bool {
        for (i, step) in steps.iter().enumerate() {
            self.set_activity(step.id, None, Instant::now());
            if let Some(crate::plan::SelfTestPanic::Step(name)) = &self.plan.self_test_panic {
                if *name == step.name {
                    panic!("self-test panic at step {name}");
                }
            }
            // A cause may quote what the server sent back, secrets included: masked first.
            let result = self.exec(step).await.map_err(|f| self.masked(f));
            self.obs.step(step, &result);
            match result {
                Ok(Done::Took(took)) => self.rec.borrow_mut().step_ok(step.id, took, self.lag),
                Ok(Done::Settled(_)) => self.rec.borrow_mut().step_settled(step.id),
                Err(f) => {
                    self.keep_transcript(step, &f);
                    self.rec.borrow_mut().step_err(step.id, &f);
                    for s in &steps[i + 1..] {
                        self.obs.skipped(s);
                    }
                    return false;
                }
            }
        }
        true
    }

    /// Runs one step. Each step's future is boxed while it runs: a user's task then stays a few
    /// hundred bytes between steps (while it thinks or waits for its next arrival) instead of
    /// carrying the largest step's state machine (the WebSocket handshake's is kilobytes) all
    /// its life. One allocation per step is nothing beside the step's system calls.
    async fn exec(&mut self, step: &Step) -> Result<Done, Failure> {
        let started = Instant::now();
        match &step.kind {
            StepKind::Http(h) => Box::pin(self.http_step(h)).await?,
            StepKind::WsConnect(c) => Box::pin(self.connect(step.id, c)).await?,
            StepKind::WsExchange(x) => return Box::pin(self.exchange(step, x)).await,
            StepKind::WsClose(c) => {
                let mut socket = self.ws.take().ok_or_else(no_socket)?;
                self.tape_frame(Direction::Sent, FrameType::WsClose, c.code, b"");
                let by = ws::Deadline::after(started, c.timeout, "ws.timeout");
                Box::pin(socket.stream.close(c.code, by)).await?;
            }
            StepKind::Think(t) => tokio::time::sleep(think_time(t)).await,
            StepKind::Jwt(j) => {
                let ctx = Ctx {
                    vu: self.id,
                    iteration: self.iteration,
                    vars: &self.vars,
                };
                let token =
                    super::mint::mint(j, &ctx, epoch_now() as u64).map_err(|e| match e {
                        super::mint::MintError::Unset(u) => unset(u, &self.plan),
                        super::mint::MintError::Failed(f) => f,
                    })?;
                if let Some(slot) = self.vars.get_mut(usize::from(j.into)) {
                    *slot = Some(token);
                }
            }
        }
        Ok(Done::Took(started.elapsed()))
    }

    pub fn render(&self, t: &Template) -> Result<String, Failure> {
        let ctx = Ctx {
            vu: self.id,
            iteration: self.iteration,
            vars: &self.vars,
        };
        t.render(&ctx).map_err(|u| unset(u, &self.plan))
    }

    /// Renders a header value; a line break would inject headers, so it fails the step.
    fn header_value(&self, name: &str, t: &Template) -> Result<String, Failure> {
        let v = self.render(t)?;
        if v.contains(['\r', '\n']) {
            return Err(
                Failure::new(ErrorKind::InvalidRequest, Phase::Template).cause(format!(
                    "the value of header {name} holds a line break (it would inject headers)"
                )),
            );
        }
        Ok(v)
    }

    /// Renders a step's headers (an empty list allocates nothing).
    fn header_list(
        &self,
        list: &[(http::HeaderName, Template)],
    ) -> Result<Vec<(http::HeaderName, String)>, Failure> {
        list.iter()
            .map(|(name, value)| Ok((name.clone(), self.header_value(name.as_str(), value)?)))
            .collect()
    }

    async fn http_step(&mut self, h: &HttpStep) -> Result<(), Failure> {
        // Scratch buffers live in the user and are reused: no allocation per request.
        let ctx = Ctx {
            vu: self.id,
            iteration: self.iteration,
            vars: &self.vars,
        };
        let plan = &self.plan;
        let unset = |u: crate::scenario::template::Unset| unset(u, plan);
        self.url_buf.clear();
        h.url.render_into(&ctx, &mut self.url_buf).map_err(unset)?;
        self.body_buf.clear();
        let headers = self.header_list(&h.headers)?;
        let content_type = match &h.body {
            None => None,
            Some(Body::Json(t)) => {
                t.render_into(&ctx, &mut self.body_buf).map_err(unset)?;
                Some("application/json")
            }
            Some(Body::Raw(t)) => {
                t.render_into(&ctx, &mut self.body_buf).map_err(unset)?;
                None
            }
        };
        if let Some(tape) = self.tape.as_deref_mut() {
            let (method, url) = (h.method.as_str(), self.url_buf.as_str());
            let list = headers.iter().map(|(n, v)| (n.as_str(), v.as_str()));
            let head = |out: &mut Vec<u8>| transcript::write_head(out, method, url, list);
            let body = self.body_buf.as_bytes();
            tape.record(
                Instant::now(),
                Direction::Sent,
                FrameType::HttpRequest,
                0,
                head,
                body,
            );
        }
        let resp = self
            .http
            .request(&Request {
                method: &h.method,
                url: &self.url_buf,
                headers: &headers,
                body: self.body_buf.as_bytes(),
                content_type,
                timeout: h.timeout,
                limits: h.limits,
            })
            .await?;
        if let Some(tape) = self.tape.as_deref_mut() {
            let (at, kind) = (Instant::now(), FrameType::HttpResponse);
            tape.frame(at, Direction::Received, kind, resp.status, resp.body);
        }
        let outcome = judge(h, &resp, &self.url_buf, &mut self.vars);
        // A large body is not kept for the rest of the user's life.
        self.http.trim();
        outcome
    }

    async fn connect(&mut self, step: StepId, c: &WsConnect) -> Result<(), Failure> {
        // A new connect replaces the previous socket (a scenario without a close step).
        self.ws = None;
        let mut url = self.render(&c.url)?;
        for (i, (key, value)) in c.query.iter().enumerate() {
            let sep = if i == 0 && !url.contains('?') {
                '?'
            } else {
                '&'
            };
            url.push(sep);
            push_query_encoded(&mut url, key);
            url.push('=');
            push_query_encoded(&mut url, &self.render(value)?);
        }
        let headers = self.header_list(&c.headers)?;
        let mut offer = String::new();
        for (i, p) in c.subprotocols.iter().enumerate() {
            if i > 0 {
                offer.push_str(", ");
            }
            offer.push_str(&self.header_value("Sec-WebSocket-Protocol", p)?);
        }
        let upgrade = ws::Upgrade {
            headers: &headers,
            subprotocols: &offer,
        };
        if let Some(tape) = self.tape.as_deref_mut() {
            let protocol = ("Sec-WebSocket-Protocol", offer.as_str());
            let list = headers.iter().map(|(n, v)| (n.as_str(), v.as_str()));
            let list = list.chain(Some(protocol).filter(|p| !p.1.is_empty()));
            let head = |out: &mut Vec<u8>| transcript::write_head(out, "GET", &url, list);
            tape.record(
                Instant::now(),
                Direction::Sent,
                FrameType::HttpRequest,
                0,
                head,
                b"",
            );
        }
        let connected = ws::connect(&url, &upgrade, c.timeout, self.bind(), c.max_message).await;
        let status = match &connected {
            Ok(_) => 101,
            // A refusal's body is quoted in the failure's cause.
            Err(f) => match f.kind {
                ErrorKind::WsRejected(status) => status,
                _ => 0,
            },
        };
        if status != 0 {
            self.tape_frame(Direction::Received, FrameType::HttpResponse, status, b"");
        }
        let stream = connected?;
        self.ws = Some(Box::new(Socket {
            stream,
            connect_step: step,
        }));
        Ok(())
    }
}

impl<O: Observer> Vu<O> {
    /// Records a frame of the current flow, now (nothing with transcripts off).
    pub(super) fn tape_frame(&mut self, dir: Direction, kind: FrameType, number: u16, body: &[u8]) {
        if let Some(tape) = self.tape.as_deref_mut() {
            tape.frame(Instant::now(), dir, kind, number, body);
        }
    }

    /// The values this user must never show: the environment's values the scenario uses, and
    /// its secret variables (marked secret, or named like one: `token`, `password`, ...).
    fn secrets(&self) -> Vec<&str> {
        let secret_vars = self
            .plan
            .vars
            .iter()
            .zip(&self.vars)
            .filter(|(d, _)| d.secret || crate::metrics::redact::is_secret_name(&d.name))
            .filter_map(|(_, v)| v.as_deref());
        self.plan
            .secrets
            .iter()
            .map(String::as_str)
            .chain(secret_vars)
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// A failure whose cause holds none of the user's secrets (error path only).
    fn masked(&self, mut f: Failure) -> Failure {
        if let Some(cause) = f.cause.as_deref() {
            let secrets = self.secrets();
            if secrets.iter().any(|s| cause.contains(s)) {
                let (text, _) = crate::metrics::redact::frame_body(
                    cause.as_bytes(),
                    true,
                    &secrets,
                    usize::MAX,
                );
                f.cause = Some(text.into_boxed_str());
            }
        }
        f
    }

    /// A step failed: keeps the flow's frames as a transcript if the worker has not kept enough
    /// of this error kind yet. Only here are they redacted and formatted.
    fn keep_transcript(&self, step: &Step, f: &Failure) {
        let Some(tape) = self.tape.as_deref() else {
            return;
        };
        if !self.rec.borrow().transcripts.wants(f.kind) {
            return;
        }
        let plan = &self.plan;
        let (frames, frames_left_out) = tape.frames(&self.secrets());
        let cause = f.cause.as_deref().map(str::to_string);
        let mut rec = self.rec.borrow_mut();
        let names = crate::metrics::summary::PlanNames {
            plan,
            unknown: &rec.unknown_events,
        };
        let t = Transcript {
            step: step.name.clone(),
            kind: f.kind.code(),
            detail: f.kind.describe(&names),
            cause,
            user: self.id,
            flow_start_s: tape
                .started()
                .saturating_duration_since(self.run_start)
                .as_secs_f64(),
            frames,
            frames_left_out,
        };
        rec.transcripts.keep(f.kind, t);
    }
}

/// Checks a response against the step (status, extractions into `vars`).
fn judge(
    h: &HttpStep,
    resp: &Response<'_>,
    url: &str,
    vars: &mut [Option<String>],
) -> Result<(), Failure> {
    let ok = if h.expect_status.is_empty() {
        (200..300).contains(&resp.status)
    } else {
        h.expect_status.contains(&resp.status)
    };
    let at = || request_label(&h.method, url);
    if !ok {
        let body = body_start(resp.body);
        let want = if h.expect_status.is_empty() {
            "2xx".to_string()
        } else {
            format!("{:?}", h.expect_status)
        };
        return Err(
            Failure::new(ErrorKind::HttpStatus(resp.status), Phase::Response).cause(format!(
                "{}: HTTP {} (expected {want}){}",
                at(),
                resp.status,
                if body.is_empty() {
                    String::new()
                } else {
                    format!(": {body}")
                }
            )),
        );
    }
    if !h.extract.is_empty() {
        let extract = |why: String| {
            Failure::new(ErrorKind::Extract, Phase::Response).cause(format!("{}: {why}", at()))
        };
        let json: serde_json::Value = serde_json::from_slice(resp.body).map_err(|e| {
            extract(format!(
                "the body is not JSON ({e}): {}",
                body_start(resp.body)
            ))
        })?;
        for x in &h.extract {
            let v = json
                .pointer(&x.pointer)
                .ok_or_else(|| extract(format!("the JSON body has no {}", x.pointer)))?;
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if let Some(slot) = vars.get_mut(x.var as usize) {
                *slot = Some(text);
            }
        }
    }
    Ok(())
}

/// The failure of a template that used a variable with no value yet.
fn unset(u: crate::scenario::template::Unset, plan: &Plan) -> Failure {
    let name = plan.vars.get(u.0 as usize).map_or("?", |v| v.name.as_str());
    Failure::from(ErrorKind::VariableUnset(u.0)).cause(format!(
        "variable {name} has no value yet (set it in [vars], or check the step that extracts it)"
    ))
}

/// A step that needs a WebSocket found none.
pub(super) fn no_socket() -> Failure {
    Failure::from(ErrorKind::NoSocket)
        .cause("no open WebSocket: an earlier connect failed or the socket was closed")
}

/// `METHOD scheme://host:port/path` of a request, for causes: the query is left out (it may
/// carry tokens), and so are credentials.
fn request_label(method: &http::Method, url: &str) -> String {
    match crate::transport::conn::parse_url(url, crate::transport::conn::HTTP) {
        Ok(t) => {
            let path = t.path.split('?').next().unwrap_or("/");
            format!("{method} {}{path}", t.label())
        }
        Err(_) => method.to_string(),
    }
}

/// The start of a response body for a message: one line, at most 120 characters, secrets masked.
fn body_start(body: &[u8]) -> String {
    crate::metrics::redact::snippet(body, 120)
}

/// The pause after the `n`-th failed flow in a row: `base·2^(n-1)` capped at `max`, with
/// "equal jitter" (half fixed, half uniform from `r` in [0, 1)), so users that failed together
/// do not retry together. `None` when backoff is off (`base` 0).
pub fn backoff_delay(b: &crate::plan::Backoff, n: u32, r: f64) -> Option<Duration> {
    if b.base.is_zero() || n == 0 {
        return None;
    }
    let factor = 2u32.saturating_pow(n.saturating_sub(1).min(30));
    let full = b.base.saturating_mul(factor).min(b.max.max(b.base));
    Some(full / 2 + full.mul_f64(r.clamp(0.0, 1.0) / 2.0))
}

fn think_time(t: &Think) -> Duration {
    if t.max <= t.min {
        return t.min;
    }
    let span = (t.max - t.min).as_micros() as u64;
    t.min + Duration::from_micros(rand::thread_rng().gen_range(0..=span))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{self, Overrides};

    /// A hundred thousand users must fit in memory: a user's whole task (its future, which holds
    /// the `Vu`) stays small because each step's state machine is boxed only while it runs.
    #[test]
    fn a_user_task_stays_small() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/golden-path.toml");
        let plan = Arc::new(scenario::load(&path, &Overrides::default(), &|_| None).unwrap());
        let rec = Rc::new(RefCell::new(Recorder::new(&plan)));
        let stop = Stop::new(Instant::now(), None, Some(1));
        let vu = Vu::new(plan, rec, 0, ());
        let vu_size = std::mem::size_of_val(&vu);
        let task = vu.run(stop);
        let size = std::mem::size_of_val(&task);
        eprintln!("Vu {vu_size} bytes, user task {size} bytes");
        assert!(size <= 1536, "a user's task is {size} bytes");
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_its_cap_and_zero_turns_it_off() {
        let b = crate::plan::Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        let ms = |n, r| backoff_delay(&b, n, r).map(|d| d.as_millis());
        assert_eq!(ms(0, 0.5), None, "no failure, no pause");
        assert_eq!(ms(1, 0.0), Some(50));
        assert_eq!(ms(1, 0.999_999), Some(99));
        assert_eq!(ms(2, 0.0), Some(100));
        assert_eq!(ms(3, 0.0), Some(200));
        assert_eq!(ms(5, 0.0), Some(500), "capped at max: 1 s, half fixed");
        assert_eq!(ms(60, 0.0), Some(500), "no overflow for long failure runs");
        let off = crate::plan::Backoff {
            base: Duration::ZERO,
            max: Duration::from_secs(1),
        };
        assert_eq!(backoff_delay(&off, 3, 0.5), None);
    }
}
