//! The WebSocket exchange step: send, then verify the ordered event stream against its expectation.
//!
//! Every frame read answers the connect step's responders first, then is classified: an expected
//! event advances the compiled DFA (recording its first-arrival latency and the gap since the
//! previous one), a fail-on event fails at once, an ignored one is skipped. After the first event
//! the DFA cannot accept, reading goes on until a terminal event, the socket's end or a deadline,
//! and the whole sequence is diagnosed (which event was missing, which came unexpectedly).
//!
//! No wait is unbounded: the send and every responder reply end by the step's `within` (a
//! send-only step by `SEND_TIMEOUT`), and the nearest deadline is checked before every frame —
//! control frames and ignored events included — so no flood can starve it. The events kept for
//! diagnosis are capped at `MAX_SEQ`.

use std::time::Duration;

use tokio::time::Instant;

use super::observer::{Done, Observer};
use super::vu::{no_socket, Vu};
use crate::metrics::errors::{ErrorKind, EventRef, Failure, Phase};
use crate::metrics::recorder::{micros, record};
use crate::metrics::transcript::{Direction, FrameType};
use crate::plan::stream::{Class, Known, ToolEdge};
use crate::plan::{EventId, Expectation, MetricId, Step, StepKind, Unlisted, WsExchange};
use crate::transport::ws::{self, Frame};

/// How long a send-only exchange step (no `ws.expect`, hence no `within`) waits for the server
/// to take its message.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Expected events kept per exchange for the diagnosis of a failed one; past it, the diagnosis
/// is made from the events kept.
pub const MAX_SEQ: usize = 1000;

/// Tool calls open at once that a flow tracks; more are not paired (a flood cannot grow it).
const MAX_OPEN_TOOLS: usize = 256;

/// Buffers a user keeps between exchanges, so a flow allocates nothing for its stream figures.
#[derive(Debug, Default)]
pub struct Scratch {
    counts: Vec<u32>,
    tools: Vec<(Option<String>, Instant)>,
}

/// What one execution of an exchange step gathers about its stream.
struct FlowStream {
    t0: Instant,
    /// The wall clock at `t0`, in seconds since the epoch (for the server's timestamps).
    wall0: f64,
    /// Occurrences per measured event, by slot (metric minus the step's first).
    counts: Vec<u32>,
    events: u64,
    bytes: u64,
    text_chars: u64,
    text_chunks: u64,
    first_text: Option<Instant>,
    last_text: Option<Instant>,
    /// The previous expected event and when it came.
    last: Option<(EventId, Instant)>,
    /// Tool calls started, not yet completed: name (if the event gave one) and when.
    tools: Vec<(Option<String>, Instant)>,
    /// A budget was missed.
    late: bool,
}

impl FlowStream {
    fn new(t0: Instant) -> FlowStream {
        let wall0 = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        FlowStream {
            t0,
            wall0,
            counts: Vec::new(),
            events: 0,
            bytes: 0,
            text_chars: 0,
            text_chunks: 0,
            first_text: None,
            last_text: None,
            last: None,
            tools: Vec::new(),
            late: false,
        }
    }
}

/// Which deadline is nearest.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Deadline {
    Settle,
    First,
    Gap,
    Total,
}

impl<O: Observer> Vu<O> {
    pub(super) async fn exchange(&mut self, step: &Step, x: &WsExchange) -> Result<Done, Failure> {
        if self.ws.is_none() {
            return Err(no_socket());
        }
        let t0 = Instant::now();
        if let Some(t) = &x.send {
            let text = self.render(t)?;
            let deadline = match &x.expect {
                Some(e) => ws::Deadline::after(t0, e.within, "ws.within"),
                None => ws::Deadline::after(
                    t0,
                    SEND_TIMEOUT,
                    "the send timeout of a step without ws.expect",
                ),
            };
            self.tape_frame(Direction::Sent, FrameType::WsText, 0, text.as_bytes());
            let Some(socket) = self.ws.as_mut() else {
                return Err(no_socket());
            };
            let sent = socket.stream.send(text, deadline, ws::What::Message).await;
            if let Err(e) = sent {
                self.ws = None;
                return Err(e);
            }
        }
        let Some(e) = &x.expect else {
            return Ok(Done::Took(t0.elapsed()));
        };
        let done = self.expect(step, e, t0).await;
        if done.is_err() {
            // Events may still be coming: the socket is not reused, nor closed politely (which
            // could wait out a flood); a next connect or the user's end would drop it anyway.
            self.ws = None;
        }
        done
    }

    async fn expect(&mut self, step: &Step, e: &Expectation, t0: Instant) -> Result<Done, Failure> {
        let mut flow = FlowStream::new(t0);
        std::mem::swap(&mut flow.counts, &mut self.scratch.counts);
        std::mem::swap(&mut flow.tools, &mut self.scratch.tools);
        flow.counts.clear();
        flow.counts.resize(e.metrics, 0);
        flow.tools.clear();
        let done = self.read_stream(step, e, t0, &mut flow).await;
        self.end_stream(step, e, &mut flow);
        std::mem::swap(&mut flow.counts, &mut self.scratch.counts);
        std::mem::swap(&mut flow.tools, &mut self.scratch.tools);
        done
    }

    async fn read_stream(
        &mut self,
        step: &Step,
        e: &Expectation,
        t0: Instant,
        flow: &mut FlowStream,
    ) -> Result<Done, Failure> {
        let plan = self.plan.clone();
        let expr = &e.expr;
        let mut state = expr.start();
        let total_at = t0 + e.within;
        let mut last: Option<Instant> = None;
        let mut last_symbol: Option<EventId> = None;
        let mut settle_at: Option<Instant> = None;
        // When the expression last matched, after the send (`None`: not after any event).
        let mut matched_after: Option<Duration> = None;
        let mut diverged = false;
        self.seq.clear();
        if expr.is_accepting(state) && e.settle > Duration::ZERO && expr.can_continue(state) {
            settle_at = Some(t0 + e.settle);
        }
        loop {
            let (deadline, why) = nearest(e, t0, total_at, last, settle_at);
            let Some(socket) = self.ws.as_mut() else {
                return Err(no_socket());
            };
            // `None`: the deadline came first (it is checked before every frame).
            let frame = socket.stream.read_by(deadline).await;
            let now = Instant::now();
            if let Some(tape) = self.tape.as_deref_mut() {
                let (dir, at) = (Direction::Received, now);
                match &frame {
                    Some(Frame::Text(t)) => tape.frame(at, dir, FrameType::WsText, 0, t.as_bytes()),
                    Some(Frame::Closed { code, .. }) => {
                        tape.frame(at, dir, FrameType::WsClose, code.unwrap_or(0), b"")
                    }
                    Some(Frame::Control(ws::Control::Ping(n))) => {
                        tape.sized(at, dir, FrameType::WsPing, *n)
                    }
                    Some(Frame::Control(ws::Control::Pong(n))) => {
                        tape.sized(at, dir, FrameType::WsPong, *n)
                    }
                    _ => {}
                }
            }
            let text = match frame {
                None => {
                    // The settle is the common way an optional handshake ends: no formatting
                    // on it. The messages are built only for a failure.
                    if why == Deadline::Settle {
                        return Ok(match matched_after {
                            Some(took) => Done::Took(took),
                            // A wait, not a latency: counted apart from the step's percentiles.
                            None => Done::Settled(e.settle),
                        });
                    }
                    if diverged {
                        return Err(expr.diagnose(&self.seq, None).into());
                    }
                    let waited = crate::duration::human(now - t0);
                    let at = self.origin();
                    return Err(match why {
                        Deadline::First => Failure::from(ErrorKind::FirstEventTimeout)
                            .cause(format!("{at}no event in {waited}")),
                        Deadline::Gap => Failure::from(ErrorKind::GapTimeout).cause(format!(
                            "{at}no event for {} after {}",
                            crate::duration::human(now - last.unwrap_or(t0)),
                            last_symbol.map_or("the send", |id| plan.event_name(id))
                        )),
                        Deadline::Total | Deadline::Settle => {
                            Failure::from(ErrorKind::TotalTimeout).cause(format!(
                                "{at}{}",
                                self.waiting_for(expr, state, last_symbol, &waited)
                            ))
                        }
                    });
                }
                Some(Frame::Control(_)) => continue,
                Some(Frame::Closed { code, how }) => {
                    let at = self.origin();
                    self.ws = None;
                    return if !diverged && expr.is_accepting(state) {
                        Ok(Done::Took(matched_after.unwrap_or_default()))
                    } else if diverged {
                        Err(expr.diagnose(&self.seq, None).into())
                    } else {
                        let after = match last_symbol {
                            Some(id) => format!("after {}", plan.event_name(id)),
                            None => "before any expected event".to_string(),
                        };
                        Err(Failure::new(ErrorKind::WsClosed(code), Phase::Frame)
                            .cause(format!("{at}{how} {after}")))
                    };
                }
                Some(Frame::Error(f)) => {
                    self.ws = None;
                    return Err(f);
                }
                Some(Frame::Text(t)) => t,
            };
            let view = ws::View::read(&text);
            let Some(name) = view.as_ref().and_then(|v| v.name(&plan.envelope.wrappers)) else {
                match e.unlisted {
                    Unlisted::Fail => {
                        return Err(Failure::from(ErrorKind::UnexpectedEvent {
                            got: EventRef::Unreadable,
                            after: last_symbol,
                        })
                        .cause(format!(
                            "a frame with no readable event type: {}",
                            frame_start(&text)
                        )))
                    }
                    Unlisted::Ignore => continue,
                }
            };
            flow.events += 1;
            flow.bytes += text.len() as u64;
            // One lookup: what this type means here was resolved when the scenario compiled.
            let known = e.table.get(&name).copied();
            if let Some(k) = known {
                let by = ws::Deadline::after(t0, e.within, "ws.within");
                self.respond(k.event, &text, by).await?;
                if k.captured {
                    self.capture(e, k.event, &text);
                }
                if let (Some(metric), Some(view)) = (k.metric, view.as_ref()) {
                    let first = self.occurrence(step, e, flow, &k, metric, view, &text, now);
                    if first && matches!(k.class, Class::Expected { .. }) {
                        self.obs.event(step, &name, now - t0);
                    }
                }
            }
            let class = match known {
                Some(k) => k.class,
                None => Class::of_unexpected(&name, &e.fail_on, &e.ignore, e.unlisted),
            };
            match class {
                Class::Expected { .. } => {
                    let Some(id) = known.map(|k| k.event) else {
                        continue;
                    };
                    let before = last_symbol;
                    last = Some(now);
                    last_symbol = Some(id);
                    self.set_activity(step.id, Some(id), now);
                    let kept = self.seq.len() < MAX_SEQ;
                    if kept {
                        self.seq.push(id);
                    }
                    if diverged {
                        if expr.is_terminal(id) || self.seq.len() >= MAX_SEQ {
                            return Err(expr.diagnose(&self.seq, None).into());
                        }
                        continue;
                    }
                    match expr.step(state, id) {
                        Some(s) => {
                            state = s;
                            settle_at = None;
                            if expr.is_accepting(s) {
                                let since = now - t0;
                                matched_after = Some(since);
                                if e.settle.is_zero() {
                                    return Ok(Done::Took(since));
                                }
                                // Wait out the settle: what comes now is still checked.
                                settle_at = Some(now + e.settle);
                            }
                        }
                        // After a match, an event that cannot extend it (a second
                        // `agent_completed`) is checked like any other: ignored when
                        // `ws.ignore` names it, else a failure.
                        None if matched_after.is_some() && expr.is_accepting(state) => {
                            if e.ignore.iter().any(|g| g.matches(&name)) {
                                continue;
                            }
                            return Err(Failure::from(ErrorKind::UnexpectedEvent {
                                got: EventRef::Known(id),
                                after: before,
                            })
                            .cause(format!(
                                "{}{name} came again after the expected sequence had matched \
                                 (during the {} settle)",
                                self.origin(),
                                crate::duration::human(e.settle)
                            )));
                        }
                        // Past the events kept, the DFA's own view is the diagnosis.
                        None if !kept => {
                            return Err(Failure::from(ErrorKind::UnexpectedEvent {
                                got: EventRef::Known(id),
                                after: before,
                            })
                            .cause(format!(
                                "{}after more than {MAX_SEQ} expected events",
                                self.origin()
                            )))
                        }
                        None => {
                            diverged = true;
                            if expr.is_terminal(id) {
                                return Err(expr.diagnose(&self.seq, None).into());
                            }
                        }
                    }
                }
                Class::FailOn => {
                    let id = known.map(|k| k.event);
                    return Err(
                        Failure::from(ErrorKind::ErrorEvent(self.event_ref(id, &name)))
                            .cause(format!("{name}: {}", frame_start(&text))),
                    );
                }
                Class::Ignore => continue,
                Class::Unlisted => {
                    return Err(ErrorKind::UnexpectedEvent {
                        got: self.event_ref(known.map(|k| k.event), &name),
                        after: last_symbol,
                    }
                    .into());
                }
            }
        }
    }

    /// Records one occurrence of a measured event: its latency from the send, bytes, text, its
    /// group, the gap from the previous expected event, tool pairing, the server's clock.
    #[allow(clippy::too_many_arguments)]
    fn occurrence(
        &mut self,
        step: &Step,
        e: &Expectation,
        flow: &mut FlowStream,
        k: &Known,
        metric: MetricId,
        view: &ws::View<'_>,
        text: &str,
        now: Instant,
    ) -> bool {
        let plan = &self.plan;
        let since = now - flow.t0;
        let slot = metric.index().saturating_sub(e.metric_base);
        let first = flow.counts.get(slot).is_some_and(|n| *n == 0);
        if let Some(n) = flow.counts.get_mut(slot) {
            *n = n.saturating_add(1);
        }
        let chars = k.text.and_then(|t| view.text_chars(t)).unwrap_or(0);
        let m = plan.event_metrics.get(metric.index());
        let mut rec = self.rec.borrow_mut();
        rec.event(metric, since, self.lag, text.len(), chars);
        if let Some(ptr) = m.and_then(|m| m.group_by.as_deref()) {
            let value = serde_json::from_str::<serde_json::Value>(text)
                .ok()
                .and_then(|v| ws::capture(&v, ptr));
            if let Some(stats) = rec.event_stats.get_mut(metric.index()) {
                stats.grouped(value.as_deref().unwrap_or("(none)"), since, text.len());
            }
        }
        if first {
            if let Some(budget) = m.and_then(|m| m.budget) {
                if since > budget {
                    flow.late = true;
                    if let Some(stats) = rec.event_stats.get_mut(metric.index()) {
                        stats.over_budget += 1;
                    }
                }
            }
        }
        let Some(stream) = rec.stream(step.id) else {
            return first;
        };
        if let Class::Expected { .. } = k.class {
            match flow.last {
                None => record(&mut stream.first_event, micros(since)),
                Some((from, at)) => stream.pair(from, k.event, now - at),
            }
            flow.last = Some((k.event, now));
        }
        if chars > 0 {
            flow.text_chars += chars as u64;
            flow.text_chunks += 1;
            flow.first_text.get_or_insert(now);
            flow.last_text = Some(now);
        }
        if let Some(ts) = view.timestamp() {
            let arrival = flow.wall0 + since.as_secs_f64();
            stream.stamped(arrival - ts);
        }
        match k.tool {
            Some(ToolEdge::Start) if flow.tools.len() < MAX_OPEN_TOOLS => {
                flow.tools
                    .push((view.tool_name().map(|n| n.into_owned()), now));
            }
            Some(ToolEdge::End) => {
                let name = view.tool_name();
                let at = match name.as_deref() {
                    Some(n) => flow
                        .tools
                        .iter()
                        .position(|(t, _)| t.as_deref() == Some(n))
                        .or((!flow.tools.is_empty()).then_some(0)),
                    None => (!flow.tools.is_empty()).then_some(0),
                };
                if let Some(i) = at {
                    let (started_name, started) = flow.tools.remove(i);
                    let server = match e.tools.as_ref().and_then(|t| t.duration.as_deref()) {
                        Some(ptr) => serde_json::from_str::<serde_json::Value>(text)
                            .ok()
                            .and_then(|v| ws::capture(&v, ptr))
                            .and_then(|v| v.parse::<f64>().ok())
                            .filter(|ms| ms.is_finite() && *ms >= 0.0),
                        None => view.server_ms(),
                    };
                    let tool = name
                        .as_deref()
                        .or(started_name.as_deref())
                        .unwrap_or(crate::metrics::stream::UNNAMED);
                    stream.tool(tool, now - started, server);
                }
            }
            Some(ToolEdge::Start) | None => {}
        }
        first
    }

    /// An exchange ended (whatever the outcome): per-execution figures are recorded.
    fn end_stream(&mut self, step: &Step, e: &Expectation, flow: &mut FlowStream) {
        if flow.late {
            self.late = true;
        }
        let mut rec = self.rec.borrow_mut();
        for (i, n) in flow.counts.iter().enumerate() {
            if let Some(stats) = rec.event_stats.get_mut(e.metric_base + i) {
                stats.execution(*n);
            }
        }
        let Some(stream) = rec.stream(step.id) else {
            return;
        };
        record(&mut stream.events_per_flow, flow.events);
        record(&mut stream.bytes_per_flow, flow.bytes);
        stream.text_chars += flow.text_chars;
        stream.text_chunks += flow.text_chunks;
        if let (Some(a), Some(b)) = (flow.first_text, flow.last_text) {
            let secs = (b - a).as_secs_f64();
            if flow.text_chunks >= 2 && secs > 0.0 {
                record(
                    &mut stream.chars_per_s,
                    (flow.text_chars as f64 / secs) as u64,
                );
                let per_ks = (flow.text_chunks - 1) as f64 / secs * 1000.0;
                record(&mut stream.chunks_per_ks, per_ks as u64);
            }
        }
        stream.tools_unfinished += flow.tools.len() as u64;
        stream.late += u64::from(flow.late);
    }

    /// `scheme://host:port: ` of the open socket, to start a cause ("" without one).
    fn origin(&self) -> String {
        self.ws
            .as_ref()
            .map_or_else(String::new, |s| format!("{}: ", s.stream.origin()))
    }

    fn event_ref(&self, id: Option<EventId>, name: &str) -> EventRef {
        match id {
            Some(id) => EventRef::Known(id),
            None => self.rec.borrow_mut().unknown_event(name),
        }
    }

    /// What a timed-out expectation was still waiting for, for the cause.
    fn waiting_for(
        &self,
        expr: &crate::scenario::expect::Expr,
        state: crate::scenario::expect::State,
        last: Option<EventId>,
        waited: &str,
    ) -> String {
        let after = last.map_or("the send".to_string(), |id| {
            self.plan.event_name(id).to_string()
        });
        let next: Vec<&str> = expr
            .alphabet()
            .iter()
            .filter(|ev| expr.step(state, **ev).is_some())
            .map(|ev| self.plan.event_name(*ev))
            .collect();
        if next.is_empty() {
            format!("after {waited}, last event {after}")
        } else {
            format!(
                "after {waited}, waiting for {} after {after}",
                next.join(" or ")
            )
        }
    }

    /// Runs the open socket's responders for an event: captures, then the reply, sent by
    /// `deadline` (a reply the server does not take fails the step and drops the socket).
    pub(super) async fn respond(
        &mut self,
        id: EventId,
        text: &str,
        deadline: ws::Deadline,
    ) -> Result<(), Failure> {
        let plan = self.plan.clone();
        let Some(socket) = self.ws.as_ref() else {
            return Ok(());
        };
        let Some(StepKind::WsConnect(c)) = plan
            .steps
            .get(socket.connect_step as usize)
            .map(|s| &s.kind)
        else {
            return Ok(());
        };
        for r in c.responders.iter().filter(|r| r.on == id) {
            if !r.capture.is_empty() {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
                    for cap in &r.capture {
                        if let Some(found) = ws::capture(&v, &cap.pointer) {
                            self.vars[cap.var as usize] = Some(found);
                        }
                    }
                }
            }
            if let Some(t) = &r.send {
                let reply = self.render(t)?;
                self.tape_frame(Direction::Sent, FrameType::WsText, 0, reply.as_bytes());
                if let Some(socket) = self.ws.as_mut() {
                    let what = ws::What::ReplyTo(plan.event_name(id));
                    if let Err(e) = socket.stream.send(reply, deadline, what).await {
                        self.ws = None;
                        return Err(e);
                    }
                }
            }
        }
        Ok(())
    }

    fn capture(&mut self, e: &Expectation, id: EventId, text: &str) {
        if !e.captures.iter().any(|(ev, _)| *ev == id) {
            return;
        }
        let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
            return;
        };
        for (_, cap) in e.captures.iter().filter(|(ev, _)| *ev == id) {
            if let Some(found) = ws::capture(&v, &cap.pointer) {
                self.vars[cap.var as usize] = Some(found);
            }
        }
    }
}

/// The start of a frame for a cause: one line, at most 160 characters, secrets masked.
fn frame_start(text: &str) -> String {
    crate::metrics::redact::snippet(text.as_bytes(), 160)
}

fn nearest(
    e: &Expectation,
    t0: Instant,
    total_at: Instant,
    last: Option<Instant>,
    settle_at: Option<Instant>,
) -> (Instant, Deadline) {
    let mut best = (total_at, Deadline::Total);
    let mut consider = |at: Instant, why: Deadline| {
        if at < best.0 || (at == best.0 && why == Deadline::Settle) {
            best = (at, why);
        }
    };
    match last {
        None => {
            if let Some(first) = e.first_event_within {
                consider(t0 + first, Deadline::First);
            } else if let Some(gap) = e.max_gap {
                consider(t0 + gap, Deadline::Gap);
            }
        }
        Some(l) => {
            if let Some(gap) = e.max_gap {
                consider(l + gap, Deadline::Gap);
            }
        }
    }
    if let Some(s) = settle_at {
        consider(s, Deadline::Settle);
    }
    best
}
