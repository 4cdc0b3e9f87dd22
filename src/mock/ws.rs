//! One WebSocket session: auth outcome, welcome/handshake, ping and heartbeat replies, and flows.
//!
//! Design choice: a single loop per connection `select!`s between the next client frame and the
//! running flow's next timer, so a flow never blocks reading (pings are answered mid-flow) and an
//! idle connection is just this task parked on its socket — no extra task, channel or lock.

use std::collections::VecDeque;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use rand::Rng;
use serde_json::{json, Map, Value};
use tokio::time::{sleep_until, timeout, Instant};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::config::{Handshake, MockConfig};
use super::flow::{self, Event, FlowIds, RenderCtx, Step, NON_JSON_FRAME};
use super::frames::{self, hex_id};
use super::sent::Sent;
use super::wsauth::WsParams;
use super::Shared;

type Ws = WebSocketStream<TokioIo<Upgraded>>;

/// Client message types that start a flow (protocol.md §4 aliases).
const USER_MESSAGE_TYPES: [&str; 8] = [
    "user_message",
    "chat",
    "chat_message",
    "message",
    "user_input",
    "start_agent",
    "execute_agent",
    "agent_request",
];
/// User messages queued behind a running flow; more are dropped (one socket flooding the mock).
const MAX_QUEUED: usize = 32;
/// How long to wait for the client's close reply after we close.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
const AUTH_FAILED_TEXT: &str = "WebSocket authentication failed. Supported formats: jwt.TOKEN, \
     jwt-auth.TOKEN or bearer.TOKEN subprotocol, Authorization: Bearer TOKEN, ?token=TOKEN";

/// The session ends: socket closed or failed, or we closed it.
struct Closed;

/// Runs the session on an upgraded connection until either side ends it.
pub async fn run(io: TokioIo<Upgraded>, params: WsParams, shared: Arc<Shared>) {
    let mut ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(shared.ws_config)).await;
    if params.unsupported_subprotocol {
        close_with(&mut ws, 1003, "No supported subprotocols").await;
        return;
    }
    let counters = &shared.counters;
    let Some(user_id) = params.user_id else {
        counters
            .ws_auth_failures
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let frame = frames::error_message("AUTH_FAILED", AUTH_FAILED_TEXT, json!({}));
        if send(&mut ws, frame, &shared.sent).await.is_ok() {
            close_with(&mut ws, 1008, "Authentication failed").await;
        }
        return;
    };
    let Ok(_slot) = claim_slot(&shared, &user_id) else {
        counters
            .limit_rejections
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let max = shared.cfg.max_connections_per_user;
        let frame = frames::error_message(
            "CONNECTION_LIMIT",
            "Maximum connections per user exceeded",
            json!({"max_connections_per_user": max}),
        );
        if send(&mut ws, frame, &shared.sent).await.is_ok() {
            close_with(&mut ws, 1008, "Maximum connections per user exceeded").await;
        }
        return;
    };
    counters
        .ws_connections
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut session = Session {
        connection_id: format!("main_{}", hex_id()),
        user_id,
        phase: Phase::Ready { thread_id: None },
        queue: VecDeque::new(),
        flow: None,
        shared: Arc::clone(&shared),
    };
    if session.greet(&mut ws).await.is_ok() {
        let _ = session.serve(&mut ws).await;
    }
}

/// Where the Gen B handshake stands.
enum Phase {
    /// `handshake_response` sent; user messages are dropped until the matching acknowledgement.
    AwaitAck { thread_id: String, run_id: String },
    /// Messages are processed; `thread_id` is the handshake's (Gen B) or none (Gen A).
    Ready { thread_id: Option<String> },
}

/// A flow in progress: its steps and when the next one is due (`None`: stalled forever).
struct Running {
    ids: FlowIds,
    steps: Vec<Step>,
    pos: usize,
    wake: Option<Instant>,
    started: Instant,
    /// When the last `tool_executing` was sent (the reported duration of its `tool_completed`).
    tool_sent: Option<Instant>,
}

struct Session {
    shared: Arc<Shared>,
    user_id: String,
    connection_id: String,
    phase: Phase,
    queue: VecDeque<FlowIds>,
    flow: Option<Running>,
}

impl Session {
    async fn greet(&mut self, ws: &mut Ws) -> Result<(), Closed> {
        let cfg = &self.shared.cfg;
        let welcome =
            frames::connection_established(cfg.envelope, &self.user_id, &self.connection_id);
        let sent = &self.shared.sent;
        send(ws, welcome, sent).await?;
        if cfg.handshake == Handshake::Phased {
            let thread_id = format!("thr_{}", hex_id());
            let run_id = format!("run_{}", hex_id());
            send(ws, frames::handshake_response(&thread_id, &run_id), sent).await?;
            self.phase = Phase::AwaitAck { thread_id, run_id };
        }
        Ok(())
    }

    async fn serve(&mut self, ws: &mut Ws) -> Result<(), Closed> {
        loop {
            let wake = self.flow.as_ref().and_then(|f| f.wake);
            tokio::select! {
                msg = ws.next() => match msg {
                    Some(Ok(Message::Text(text))) => self.on_text(&text, ws).await?,
                    // Binary is ignored; ping/pong/close are answered by tungstenite itself.
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => return Err(Closed),
                },
                () = sleep_until(wake.unwrap_or_else(Instant::now)), if wake.is_some() => {
                    self.step(ws).await?;
                }
            }
        }
    }

    async fn on_text(&mut self, text: &str, ws: &mut Ws) -> Result<(), Closed> {
        let Ok(Value::Object(msg)) = serde_json::from_str::<Value>(text) else {
            return Ok(());
        };
        let sent = &self.shared.sent;
        match msg.get("type").and_then(Value::as_str).unwrap_or_default() {
            "ping" => send(ws, frames::pong(&self.user_id), sent).await,
            "heartbeat" => send(ws, frames::heartbeat_ack(&self.connection_id), sent).await,
            "handshake_acknowledged" => {
                let Phase::AwaitAck { thread_id, run_id } = &self.phase else {
                    return Ok(());
                };
                if msg.get("thread_id").and_then(Value::as_str) != Some(thread_id.as_str()) {
                    return Ok(());
                }
                let done = frames::handshake_complete(thread_id, run_id);
                self.phase = Phase::Ready {
                    thread_id: Some(thread_id.clone()),
                };
                send(ws, done, &self.shared.sent).await
            }
            kind if USER_MESSAGE_TYPES.contains(&kind) => {
                self.on_user_message(&msg);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn on_user_message(&mut self, msg: &Map<String, Value>) {
        let Phase::Ready {
            thread_id: session_thread,
        } = &self.phase
        else {
            return; // Gen B: lost before the handshake completes, like the real server.
        };
        if self.queue.len() >= MAX_QUEUED {
            return;
        }
        let payload = msg.get("payload").and_then(Value::as_object).unwrap_or(msg);
        let field = |k: &str| {
            payload
                .get(k)
                .or_else(|| msg.get(k))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let ids = FlowIds {
            run_id: field("run_id").unwrap_or_else(|| format!("run_{}", hex_id())),
            thread_id: field("thread_id")
                .or_else(|| session_thread.clone())
                .unwrap_or_else(|| format!("thr_{}", hex_id())),
        };
        self.queue.push_back(ids);
        if self.flow.is_none() {
            self.schedule();
        }
    }

    /// Runs the current step of the flow, then schedules the next.
    async fn step(&mut self, ws: &mut Ws) -> Result<(), Closed> {
        let Some(f) = self.flow.as_mut() else {
            return Ok(());
        };
        let step = f.steps.get(f.pos).copied();
        f.pos += 1;
        match step {
            Some(Step::Emit(event, index)) => {
                let cfg = &self.shared.cfg;
                let sent = &self.shared.sent;
                let now = Instant::now();
                let slot = flow::tool_slot(index, cfg.tool_names.len());
                let tool_ms = match event {
                    Event::ToolExecuting => {
                        f.tool_sent = Some(now);
                        0
                    }
                    Event::ToolCompleted => f.tool_sent.take().map_or(0, |t| {
                        u64::try_from(now.duration_since(t).as_millis()).unwrap_or(u64::MAX)
                    }),
                    _ => 0,
                };
                let cx = RenderCtx {
                    envelope: cfg.envelope,
                    timestamps: cfg.timestamps,
                    ids: &f.ids,
                    user_id: &self.user_id,
                    thinking: cfg.thinking,
                    chunks: cfg.chunks,
                    tool_name: cfg.tool_names.get(slot).map_or("", String::as_str),
                    tool_ms,
                    elapsed: now.duration_since(f.started),
                };
                let text = flow::render(event, index, &cx);
                let bytes = text.len();
                ws.send(Message::text(text)).await.map_err(|_| Closed)?;
                sent.event(event, bytes);
                match event {
                    Event::ToolExecuting => sent.tool_called(slot),
                    Event::ToolCompleted => sent.tool_completed(slot, tool_ms),
                    _ => {}
                }
            }
            Some(Step::NonJson) => send(ws, NON_JSON_FRAME.to_string(), &self.shared.sent).await?,
            Some(Step::Close(code)) => {
                close_with(ws, code, "Simulated failure (mock fault)").await;
                return Err(Closed);
            }
            Some(Step::Wait(_)) | None => {}
        }
        self.schedule();
        Ok(())
    }

    /// Sets the wake time of the current step; ends a finished flow and starts the next queued one.
    fn schedule(&mut self) {
        loop {
            if let Some(f) = self.flow.as_mut() {
                if let Some(&step) = f.steps.get(f.pos) {
                    // Each step is due relative to the previous one's due time (not to now), so
                    // timer overshoot does not accumulate: event k lands at k × delay after the message.
                    let anchor = f.wake.unwrap_or(f.started);
                    f.wake = wake_for(step, &self.shared.cfg, anchor);
                    return;
                }
            }
            self.flow = None;
            let Some(ids) = self.queue.pop_front() else {
                return;
            };
            let cfg = &self.shared.cfg;
            let fault = self.shared.next_flow_fault();
            self.flow = Some(Running {
                ids,
                steps: flow::steps(cfg.thinking, cfg.tools, cfg.chunks, fault),
                pos: 0,
                wake: None,
                started: Instant::now(),
                tool_sent: None,
            });
        }
    }
}

/// When a step becomes due, counted from `anchor` (the previous step's due time): events after
/// delay + jitter (a `tool_completed` after `--tool-time` + jitter when that is set), stalls
/// after their wait, the rest at once.
fn wake_for(step: Step, cfg: &MockConfig, anchor: Instant) -> Option<Instant> {
    let now = anchor;
    match step {
        Step::Emit(event, _) => {
            let jitter = if cfg.jitter.is_zero() {
                Duration::ZERO
            } else {
                rand::thread_rng().gen_range(Duration::ZERO..cfg.jitter)
            };
            let wait = match (event, cfg.tool_time) {
                (Event::ToolCompleted, Some(t)) => t,
                _ => cfg.delay,
            };
            now.checked_add(wait.saturating_add(jitter))
        }
        Step::Wait(d) => d.and_then(|d| now.checked_add(d)),
        Step::NonJson | Step::Close(_) => Some(now),
    }
}

/// Sends a text frame and counts it once sent.
async fn send(ws: &mut Ws, text: String, sent: &Sent) -> Result<(), Closed> {
    let bytes = text.len();
    ws.send(Message::text(text)).await.map_err(|_| Closed)?;
    sent.frame(bytes);
    Ok(())
}

/// Sends a close frame and waits (briefly) for the client's reply so the close is clean.
async fn close_with(ws: &mut Ws, code: u16, reason: &str) {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    };
    if ws.close(Some(frame)).await.is_ok() {
        let _ = timeout(CLOSE_GRACE, async {
            while let Some(Ok(_)) = ws.next().await {}
        })
        .await;
    }
}

/// The per-user limit is reached.
struct LimitExceeded;

/// A counted connection of one user; releases its place when dropped.
struct Slot {
    shared: Arc<Shared>,
    user: String,
}

/// Takes a place for `user` when a per-user limit is set (`Ok(None)`: unlimited, nothing to count).
fn claim_slot(shared: &Arc<Shared>, user: &str) -> Result<Option<Slot>, LimitExceeded> {
    let Some(users) = &shared.users else {
        return Ok(None);
    };
    let mut map = users.lock().unwrap_or_else(PoisonError::into_inner);
    let open = map.entry(user.to_string()).or_insert(0);
    if *open >= shared.cfg.max_connections_per_user {
        return Err(LimitExceeded);
    }
    *open += 1;
    Ok(Some(Slot {
        shared: Arc::clone(shared),
        user: user.to_string(),
    }))
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Some(users) = &self.shared.users else {
            return;
        };
        let mut map = users.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(open) = map.get_mut(&self.user) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                map.remove(&self.user);
            }
        }
    }
}
