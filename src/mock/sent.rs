//! What the mock sent: per-server counters of WebSocket frames, bytes, agent events and tool
//! calls, and their snapshot (`MockCounts`, the JSON of `GET /__mock/stats` and of the line
//! `mock` prints on stderr when it stops).
//!
//! Design choice: fixed arrays of relaxed atomics indexed by event type and by tool-name slot
//! (the position in `--tool-names`), all sized when the server starts: counting a frame is a few
//! `fetch_add`s, no lock, no map look-up, no allocation. Names are attached only in the snapshot.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::{Deserialize, Serialize};

use super::flow::Event;
use super::MockStats;

/// Counters of one tool-name slot.
#[derive(Default)]
struct ToolSlot {
    calls: AtomicU64,
    completed: AtomicU64,
    duration_ms: AtomicU64,
}

/// The live counters (inside the server's shared state).
pub(crate) struct Sent {
    frames: AtomicU64,
    bytes: AtomicU64,
    events: [AtomicU64; Event::COUNT],
    event_bytes: [AtomicU64; Event::COUNT],
    tools: Box<[ToolSlot]>,
}

impl Sent {
    /// Counters for `tools` tool-name slots.
    pub fn new(tools: usize) -> Sent {
        Sent {
            frames: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            events: Default::default(),
            event_bytes: Default::default(),
            tools: (0..tools).map(|_| ToolSlot::default()).collect(),
        }
    }

    /// A text frame of `bytes` bytes was sent on a WebSocket.
    pub fn frame(&self, bytes: usize) {
        self.frames.fetch_add(1, Relaxed);
        self.bytes.fetch_add(bytes as u64, Relaxed);
    }

    /// An agent event frame of `bytes` bytes was sent (counted as a frame too).
    pub fn event(&self, event: Event, bytes: usize) {
        self.frame(bytes);
        self.events[event as usize].fetch_add(1, Relaxed);
        self.event_bytes[event as usize].fetch_add(bytes as u64, Relaxed);
    }

    /// A `tool_executing` of the tool in `slot` was sent.
    pub fn tool_called(&self, slot: usize) {
        if let Some(t) = self.tools.get(slot) {
            t.calls.fetch_add(1, Relaxed);
        }
    }

    /// A `tool_completed` of the tool in `slot` was sent, reporting `ms`.
    pub fn tool_completed(&self, slot: usize, ms: u64) {
        if let Some(t) = self.tools.get(slot) {
            t.completed.fetch_add(1, Relaxed);
            t.duration_ms.fetch_add(ms, Relaxed);
        }
    }

    /// The counters now, with the names of `tool_names` and the server's other counters.
    pub fn snapshot(&self, tool_names: &[String], stats: MockStats) -> MockCounts {
        let mut tools: BTreeMap<String, ToolCounts> = BTreeMap::new();
        for (name, slot) in tool_names.iter().zip(self.tools.iter()) {
            let t = tools.entry(name.clone()).or_default();
            t.calls += slot.calls.load(Relaxed);
            t.completed += slot.completed.load(Relaxed);
            t.duration_ms += slot.duration_ms.load(Relaxed);
        }
        let by_event = |a: &[AtomicU64; Event::COUNT]| {
            Event::ALL
                .iter()
                .map(|e| (e.name().to_string(), a[*e as usize].load(Relaxed)))
                .collect()
        };
        MockCounts {
            flows: stats.flows,
            frames: self.frames.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            events: by_event(&self.events),
            event_bytes: by_event(&self.event_bytes),
            tools,
            faulted_flows: stats.faulted_flows,
            logins: stats.logins,
            login_failures: stats.login_failures,
            ws_connections: stats.ws_connections,
            ws_auth_failures: stats.ws_auth_failures,
            limit_rejections: stats.limit_rejections,
        }
    }
}

/// What the mock has sent and served so far (`GET /__mock/stats`, `MockServer::counts`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MockCounts {
    /// Flows (agent runs) started: user messages answered.
    pub flows: u64,
    /// Text frames sent on WebSockets: agent events, and also welcome, handshake, pong,
    /// heartbeat_ack, error frames and the `non-json` fault's frame.
    pub frames: u64,
    /// Payload bytes of those frames.
    pub bytes: u64,
    /// Agent event frames sent, per event type (every type the mock knows, 0 included).
    pub events: BTreeMap<String, u64>,
    /// Payload bytes of those agent event frames, per event type.
    pub event_bytes: BTreeMap<String, u64>,
    /// Per tool name (every `--tool-names` entry, 0 included).
    pub tools: BTreeMap<String, ToolCounts>,
    /// Flows that had the configured fault applied.
    pub faulted_flows: u64,
    /// Successful logins (all login routes).
    pub logins: u64,
    /// Rejected logins.
    pub login_failures: u64,
    /// WebSockets that passed authentication and the per-user limit.
    pub ws_connections: u64,
    /// WebSockets closed with AUTH_FAILED / 1008.
    pub ws_auth_failures: u64,
    /// WebSockets refused by `--max-connections-per-user`.
    pub limit_rejections: u64,
}

/// One tool name's calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCounts {
    /// `tool_executing` events sent.
    pub calls: u64,
    /// `tool_completed` events sent.
    pub completed: u64,
    /// Sum of the durations those `tool_completed` events reported, in ms (each the whole
    /// milliseconds the mock measured between sending the pair's two frames).
    pub duration_ms: u64,
}

impl MockCounts {
    /// The counts as one line of JSON (no newline).
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl std::ops::AddAssign<&MockCounts> for MockCounts {
    /// Sums the counts of several mock processes (`mock --processes N`).
    fn add_assign(&mut self, o: &MockCounts) {
        self.flows += o.flows;
        self.frames += o.frames;
        self.bytes += o.bytes;
        for (k, v) in &o.events {
            *self.events.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &o.event_bytes {
            *self.event_bytes.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &o.tools {
            let t = self.tools.entry(k.clone()).or_default();
            t.calls += v.calls;
            t.completed += v.completed;
            t.duration_ms += v.duration_ms;
        }
        self.faulted_flows += o.faulted_flows;
        self.logins += o.logins;
        self.login_failures += o.login_failures;
        self.ws_connections += o.ws_connections;
        self.ws_auth_failures += o.ws_auth_failures;
        self.limit_rejections += o.limit_rejections;
    }
}
