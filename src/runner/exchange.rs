//! The WebSocket exchange step: send, then verify the ordered event stream against its expectation.
//!
//! Every frame read answers the connect step's responders first, then is classified: an expected
//! event advances the compiled DFA (recording its first-arrival latency and the gap since the
//! previous one), a fail-on event fails at once, an ignored one is skipped. After the first event
//! the DFA cannot accept, reading goes on until a terminal event, the socket's end or a deadline,
//! and the whole sequence is diagnosed (which event was missing, which came unexpectedly).

use std::time::Duration;

use tokio::time::Instant;

use super::observer::Observer;
use super::vu::{no_socket, Vu};
use crate::metrics::errors::{ErrorKind, EventRef, Failure, Phase};
use crate::plan::{EventId, Expectation, Step, StepKind, Unlisted, WsExchange};
use crate::transport::ws::{self, Frame};

/// Which deadline is nearest.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Deadline {
    Settle,
    First,
    Gap,
    Total,
}

impl<O: Observer> Vu<O> {
    pub(super) async fn exchange(
        &mut self,
        step: &Step,
        x: &WsExchange,
    ) -> Result<Duration, Failure> {
        if self.ws.is_none() {
            return Err(no_socket());
        }
        let t0 = Instant::now();
        if let Some(t) = &x.send {
            let text = self.render(t)?;
            let Some(socket) = self.ws.as_mut() else {
                return Err(no_socket());
            };
            if let Err(e) = ws::send(&mut socket.stream, text).await {
                self.ws = None;
                return Err(e);
            }
        }
        match &x.expect {
            None => Ok(t0.elapsed()),
            Some(e) => self.expect(step, e, t0).await,
        }
    }

    async fn expect(
        &mut self,
        step: &Step,
        e: &Expectation,
        t0: Instant,
    ) -> Result<Duration, Failure> {
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
            let frame = tokio::select! {
                biased;
                f = ws::read(&mut socket.stream) => Some(f),
                _ = tokio::time::sleep_until(deadline) => None,
            };
            let now = Instant::now();
            let text = match frame {
                None => {
                    let waited = crate::duration::human(now - t0);
                    return match why {
                        // The step cost what the user waited, settle included.
                        Deadline::Settle => Ok(now - t0),
                        _ if diverged => Err(expr.diagnose(&self.seq, None).into()),
                        Deadline::First => Err(Failure::from(ErrorKind::FirstEventTimeout)
                            .cause(format!("no event in {waited}"))),
                        Deadline::Gap => Err(Failure::from(ErrorKind::GapTimeout).cause(format!(
                            "no event for {} after {}",
                            crate::duration::human(now - last.unwrap_or(t0)),
                            last_symbol.map_or("the send", |id| plan.event_name(id))
                        ))),
                        Deadline::Total => Err(Failure::from(ErrorKind::TotalTimeout)
                            .cause(self.waiting_for(expr, state, last_symbol, &waited))),
                    };
                }
                Some(Frame::Closed(code)) => {
                    self.ws = None;
                    return if !diverged && expr.is_accepting(state) {
                        Ok(matched_after)
                    } else if diverged {
                        Err(expr.diagnose(&self.seq, None).into())
                    } else {
                        Err(Failure::new(ErrorKind::WsClosed(code), Phase::Frame).cause(
                            match last_symbol {
                                Some(id) => format!(
                                    "the server closed the WebSocket after {}",
                                    plan.event_name(id)
                                ),
                                None => "the server closed the WebSocket before any expected event"
                                    .to_string(),
                            },
                        ))
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
                self.respond(id, &text).await?;
                self.capture(e, id, &text);
            }
            if let Some(sym) = id.and_then(|id| expr.symbol(id).map(|s| (id, s))) {
                let (id, sym) = sym;
                let since = now - t0;
                if let Some(l) = last {
                    self.rec.borrow_mut().gap(step.id, now - l);
                }
                last = Some(now);
                last_symbol = Some(id);
                self.set_activity(step.id, Some(id));
                let bit = 1u128.checked_shl(sym as u32).unwrap_or(0);
                if bit == 0 || seen & bit == 0 {
                    seen |= bit;
                    self.rec
                        .borrow_mut()
                        .event(e.metric_base + sym, since, self.lag);
                    self.obs.event(step, &name, since);
                }
                self.seq.push(id);
                if !diverged {
                    match expr.step(state, id) {
                        Some(s) => {
                            state = s;
                            settle_at = None;
                            if expr.is_accepting(s) {
                                matched_after = since;
                                if !expr.can_continue(s) || e.settle.is_zero() {
                                    return Ok(since);
                                }
                                settle_at = Some(now + e.settle);
                            }
                        }
                        None => diverged = true,
                    }
                }
                if diverged && expr.is_terminal(id) {
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

    /// Runs the open socket's responders for an event: captures, then the reply.
    pub(super) async fn respond(&mut self, id: EventId, text: &str) -> Result<(), Failure> {
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
                if let Some(socket) = self.ws.as_mut() {
                    ws::send(&mut socket.stream, reply).await?;
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
