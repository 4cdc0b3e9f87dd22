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
use crate::metrics::transcript::{Direction, FrameType};
use crate::plan::{EventId, Expectation, Step, StepKind, Unlisted, WsExchange};
use crate::transport::ws::{self, Frame};

/// How long a send-only exchange step (no `ws.expect`, hence no `within`) waits for the server
/// to take its message.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Expected events kept per exchange for the diagnosis of a failed one; past it, the diagnosis
/// is made from the events kept.
pub const MAX_SEQ: usize = 1000;

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
        let plan = self.plan.clone();
        let expr = &e.expr;
        let mut state = expr.start();
        let total_at = t0 + e.within;
        let mut last: Option<Instant> = None;
        let mut last_symbol: Option<EventId> = None;
        let mut settle_at: Option<Instant> = None;
        let mut matched_after = Duration::ZERO;
        let mut diverged = false;
        let mut seen: u128 = 0;
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
                        // A wait, not a latency: counted apart from the step's percentiles.
                        return Ok(Done::Settled(e.settle));
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
                        Ok(Done::Took(matched_after))
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
            let Some(name) = ws::event_type(&text, &plan.envelope.wrappers) else {
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
            let id = plan.event_id(&name);
            if let Some(id) = id {
                let by = ws::Deadline::after(t0, e.within, "ws.within");
                self.respond(id, &text, by).await?;
                self.capture(e, id, &text);
            }
            if let Some(sym) = id.and_then(|id| expr.symbol(id).map(|s| (id, s))) {
                let (id, sym) = sym;
                let since = now - t0;
                if let Some(l) = last {
                    self.rec.borrow_mut().gap(step.id, now - l);
                }
                let before = last_symbol;
                last = Some(now);
                last_symbol = Some(id);
                self.set_activity(step.id, Some(id), now);
                let bit = 1u128.checked_shl(sym as u32).unwrap_or(0);
                if bit == 0 || seen & bit == 0 {
                    seen |= bit;
                    self.rec
                        .borrow_mut()
                        .event(e.metric_base + sym, since, self.lag);
                    self.obs.event(step, &name, since);
                }
                let kept = self.seq.len() < MAX_SEQ;
                if kept {
                    self.seq.push(id);
                }
                if !diverged {
                    match expr.step(state, id) {
                        Some(s) => {
                            state = s;
                            settle_at = None;
                            if expr.is_accepting(s) {
                                matched_after = since;
                                if !expr.can_continue(s) || e.settle.is_zero() {
                                    return Ok(Done::Took(since));
                                }
                                settle_at = Some(now + e.settle);
                            }
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
                        None => diverged = true,
                    }
                }
                if diverged && (expr.is_terminal(id) || self.seq.len() >= MAX_SEQ) {
                    return Err(expr.diagnose(&self.seq, None).into());
                }
                continue;
            }
            let matches = |globs: &[wildmatch::WildMatch]| globs.iter().any(|g| g.matches(&name));
            if matches(&e.fail_on) {
                return Err(
                    Failure::from(ErrorKind::ErrorEvent(self.event_ref(id, &name)))
                        .cause(format!("{name}: {}", frame_start(&text))),
                );
            }
            if matches(&e.ignore) || e.unlisted == Unlisted::Ignore {
                continue;
            }
            return Err(ErrorKind::UnexpectedEvent {
                got: self.event_ref(id, &name),
                after: last_symbol,
            }
            .into());
        }
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
