//! `Vu`: one virtual user — its session state and the steps it runs, setup once then iterations.
//!
//! A user is one small task: its variables, its HTTP connections and at most one open WebSocket.
//! Results go straight into the worker's `Recorder` (a `RefCell` on this thread, never held across
//! an await), so the hot path has no lock and no channel.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

use super::observer::Observer;
use super::Stop;
use crate::metrics::errors::ErrorKind;
use crate::metrics::recorder::Recorder;
use crate::plan::{Body, EventId, HttpStep, Plan, Step, StepId, StepKind, Think, WsConnect};
use crate::scenario::template::{Ctx, Template};
use crate::transport::http::HttpClient;
use crate::transport::{push_query_encoded, ws};

/// An open WebSocket and the connect step whose responders apply to it.
pub struct Socket {
    pub stream: ws::Stream,
    pub connect_step: StepId,
}

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
    setup_done: bool,
    url_buf: String,
    body_buf: String,
}

impl<O: Observer> Vu<O> {
    pub fn new(plan: Arc<Plan>, rec: Rc<RefCell<Recorder>>, id: u64, obs: O) -> Self {
        let vars = plan.vars.iter().map(|v| v.default.clone()).collect();
        let setup_done = plan.setup_len == 0;
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
            setup_done,
            url_buf: String::new(),
            body_buf: String::new(),
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
        self.rec.borrow_mut().flow_started();
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
            self.setup_done = true;
            let started = Instant::now();
            let ok = self.run_steps(plan.iteration()).await;
            if ok {
                self.rec.borrow_mut().flow_passed(started.elapsed(), lag);
            }
            self.iteration += 1;
            ok
        };
        if !passed {
            self.rec.borrow_mut().flow_failed();
        }
        passed
    }

    /// Closed model: iterates until `stop` says so (or, with a ramp, while the ramp counts this
    /// user in), re-running setup after it failed (with a pause, so a failing login is not hammered).
    pub async fn run(mut self, stop: Stop) -> O {
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
            let setup_was_done = self.setup_done;
            let passed = self.flow(None).await;
            done += 1;
            if !passed && !setup_was_done && !self.setup_done && !stop.should_stop(done) {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.soft.cancelled() => {}
                }
            }
        }
        self.close().await;
        self.obs
    }

    /// Closes the socket, if one is open (bounded).
    pub async fn close(&mut self) {
        if let Some(mut s) = self.ws.take() {
            let _ = Box::pin(ws::close(&mut s.stream, 1000, Duration::from_secs(1))).await;
        }
    }

    /// Runs steps in order; stops at the first failure. True when all passed.
    async fn run_steps(&mut self, steps: &[Step]) -> bool {
        for (i, step) in steps.iter().enumerate() {
            let result = self.exec(step).await;
            self.obs.step(step, &result);
            match result {
                Ok(took) => self.rec.borrow_mut().step_ok(step.id, took, self.lag),
                Err(kind) => {
                    self.rec.borrow_mut().step_err(step.id, kind);
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
    async fn exec(&mut self, step: &Step) -> Result<Duration, ErrorKind> {
        let started = Instant::now();
        match &step.kind {
            StepKind::Http(h) => Box::pin(self.http_step(h)).await?,
            StepKind::WsConnect(c) => Box::pin(self.connect(step.id, c)).await?,
            StepKind::WsExchange(x) => return Box::pin(self.exchange(step, x)).await,
            StepKind::WsClose(c) => {
                let mut socket = self.ws.take().ok_or(ErrorKind::NoSocket)?;
                Box::pin(ws::close(
                    &mut socket.stream,
                    c.code,
                    Duration::from_secs(5),
                ))
                .await?;
            }
            StepKind::Think(t) => tokio::time::sleep(think_time(t)).await,
        }
        Ok(started.elapsed())
    }

    pub fn render(&self, t: &Template) -> Result<String, ErrorKind> {
        let ctx = Ctx {
            vu: self.id,
            iteration: self.iteration,
            vars: &self.vars,
        };
        t.render(&ctx).map_err(|u| ErrorKind::VariableUnset(u.0))
    }

    /// Renders a header value; a line break would inject headers, so it fails the step.
    fn header_value(&self, t: &Template) -> Result<String, ErrorKind> {
        let v = self.render(t)?;
        if v.contains(['\r', '\n']) {
            return Err(ErrorKind::Io);
        }
        Ok(v)
    }

    /// Renders a step's headers (an empty list allocates nothing).
    fn header_list(
        &self,
        list: &[(http::HeaderName, Template)],
    ) -> Result<Vec<(http::HeaderName, String)>, ErrorKind> {
        list.iter()
            .map(|(name, value)| Ok((name.clone(), self.header_value(value)?)))
            .collect()
    }

    async fn http_step(&mut self, h: &HttpStep) -> Result<(), ErrorKind> {
        // Scratch buffers live in the user and are reused: no allocation per request.
        let ctx = Ctx {
            vu: self.id,
            iteration: self.iteration,
            vars: &self.vars,
        };
        let unset = |u: crate::scenario::template::Unset| ErrorKind::VariableUnset(u.0);
        self.url_buf.clear();
        h.url.render_into(&ctx, &mut self.url_buf).map_err(unset)?;
        self.body_buf.clear();
        let mut headers = self.header_list(&h.headers)?;
        match &h.body {
            None => {}
            Some(Body::Json(t)) => {
                if !h
                    .headers
                    .iter()
                    .any(|(n, _)| n == http::header::CONTENT_TYPE)
                {
                    headers.push((http::header::CONTENT_TYPE, "application/json".into()));
                }
                t.render_into(&ctx, &mut self.body_buf).map_err(unset)?;
            }
            Some(Body::Raw(t)) => t.render_into(&ctx, &mut self.body_buf).map_err(unset)?,
        }
        let resp = self
            .http
            .request(
                &h.method,
                &self.url_buf,
                &headers,
                self.body_buf.as_bytes(),
                h.timeout,
            )
            .await?;
        let ok = if h.expect_status.is_empty() {
            (200..300).contains(&resp.status)
        } else {
            h.expect_status.contains(&resp.status)
        };
        if !ok {
            return Err(ErrorKind::HttpStatus(resp.status));
        }
        if !h.extract.is_empty() {
            let json: serde_json::Value =
                serde_json::from_slice(resp.body).map_err(|_| ErrorKind::Extract)?;
            for x in &h.extract {
                let v = json.pointer(&x.pointer).ok_or(ErrorKind::Extract)?;
                let text = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                if let Some(slot) = self.vars.get_mut(x.var as usize) {
                    *slot = Some(text);
                }
            }
        }
        Ok(())
    }

    async fn connect(&mut self, step: StepId, c: &WsConnect) -> Result<(), ErrorKind> {
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
            offer.push_str(&self.header_value(p)?);
        }
        let upgrade = ws::Upgrade {
            headers: &headers,
            subprotocols: &offer,
        };
        let stream = ws::connect(&url, &upgrade, c.timeout, self.bind()).await?;
        self.ws = Some(Box::new(Socket {
            stream,
            connect_step: step,
        }));
        Ok(())
    }
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
}
