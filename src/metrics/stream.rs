//! What exchange steps measured of the event stream, per worker: every occurrence of each event
//! type, per-flow counts, gaps by pair of types, tool calls, streamed text and the server's clock.
//!
//! Recorded straight into the worker's `Recorder` (no lock, no channel); the per-flow figures are
//! gathered by the exchange in a `FlowStream` the user reuses, and recorded once when it ends.
//! Tables keyed by values the server chooses (tool names, `group_by` values) are bounded: past
//! `MAX_LABELS` distinct values, the rest are counted under `OTHER`.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::recorder::{micros, new_coarse_histogram, new_histogram, record};
use crate::plan::EventId;

/// Distinct tool names or `group_by` values kept per table; the rest go to `OTHER`.
pub const MAX_LABELS: usize = 64;
/// Characters kept of a tool name or `group_by` value.
pub const MAX_LABEL_CHARS: usize = 64;
/// The row of the values past `MAX_LABELS`.
pub const OTHER: &str = "(other)";
/// The name of a tool call whose events name no tool.
pub const UNNAMED: &str = "(unnamed)";

/// Histograms travel in records as the results carry them (HDR V2 deflate, base64).
pub mod hist {
    use hdrhistogram::Histogram;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(h: &Histogram<u64>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::metrics::summary::encode_histogram(h))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Histogram<u64>, D::Error> {
        let text = String::deserialize(d)?;
        // Kept at the precision it was recorded with, and free to grow again.
        let mut h =
            crate::metrics::summary::decode_histogram(&text).map_err(serde::de::Error::custom)?;
        h.auto(true);
        Ok(h)
    }
}

/// One event type of one exchange step (`Plan::event_metrics`), beside the latency of its every
/// occurrence (`Recorder::events`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Executions of the step in which it came at least once.
    pub flows: u64,
    /// Occurrences per execution of the step that ended (passed or failed), those with at
    /// least one; `zeros` counts the others (a counter is cheaper than a histogram record).
    #[serde(with = "hist")]
    pub per_flow: Histogram<u64>,
    #[serde(default)]
    pub zeros: u64,
    /// Bytes of its frames.
    pub bytes: u64,
    /// Characters of streamed text it carried.
    pub chars: u64,
    /// Executions whose first occurrence came after the budget.
    pub over_budget: u64,
    /// With `group_by`: occurrences by the field's value.
    pub groups: Vec<Group>,
}

impl Default for EventRecord {
    fn default() -> Self {
        EventRecord {
            flows: 0,
            per_flow: new_coarse_histogram(),
            zeros: 0,
            bytes: 0,
            chars: 0,
            over_budget: 0,
            groups: Vec::new(),
        }
    }
}

/// Occurrences of an event type with one value of its `group_by` field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub value: String,
    #[serde(with = "hist")]
    pub latency: Histogram<u64>,
    pub bytes: u64,
}

/// The gaps between an event of type `from` and the next expected event, of type `to`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pair {
    pub from: EventId,
    pub to: EventId,
    #[serde(with = "hist")]
    pub gaps: Histogram<u64>,
}

/// The calls of one tool: `tool_executing` → `tool_completed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolRecord {
    pub name: String,
    /// As the client saw it: from the start event's arrival to the end event's (µs).
    #[serde(with = "hist")]
    pub latency: Histogram<u64>,
    /// As the server reported it in the end event (µs).
    #[serde(with = "hist")]
    pub server: Histogram<u64>,
    /// Client minus server, when the server's figure is not larger (µs): queueing and transport.
    #[serde(with = "hist")]
    pub overhead: Histogram<u64>,
    /// Calls whose server figure was larger than what the client saw (no overhead recorded).
    pub server_longer: u64,
}

/// The stream of one exchange step with an expectation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamRecord {
    /// From the send to the first expected event (µs).
    #[serde(with = "hist")]
    pub first_event: Histogram<u64>,
    /// Gaps between consecutive expected events, by pair of types.
    pub pairs: Vec<Pair>,
    /// Frames with an event received per execution (every type, noise included).
    #[serde(with = "hist")]
    pub events_per_flow: Histogram<u64>,
    /// Bytes of those frames per execution.
    #[serde(with = "hist")]
    pub bytes_per_flow: Histogram<u64>,
    /// Streamed text: characters and text events in all.
    pub text_chars: u64,
    pub text_chunks: u64,
    /// Per execution with two text events or more: characters per second between the first
    /// and the last.
    #[serde(with = "hist")]
    pub chars_per_s: Histogram<u64>,
    /// The same for text events, in thousandths per second.
    #[serde(with = "hist")]
    pub chunks_per_ks: Histogram<u64>,
    /// Arrival minus the event's own timestamp, when the server's clock is behind (µs): one-way
    /// lag, as true as the two clocks agree.
    #[serde(with = "hist")]
    pub server_lag: Histogram<u64>,
    /// Events stamped later than they arrived (the server's clock is ahead), and by how much at
    /// most (µs).
    pub stamped_ahead: u64,
    pub ahead_max_us: u64,
    pub tools: Vec<ToolRecord>,
    /// Tool calls started but not completed when the step ended.
    pub tools_unfinished: u64,
    /// Executions that missed a budget.
    pub late: u64,
}

impl Default for StreamRecord {
    fn default() -> Self {
        StreamRecord {
            first_event: new_coarse_histogram(),
            pairs: Vec::new(),
            events_per_flow: new_coarse_histogram(),
            bytes_per_flow: new_coarse_histogram(),
            text_chars: 0,
            text_chunks: 0,
            chars_per_s: new_coarse_histogram(),
            chunks_per_ks: new_coarse_histogram(),
            server_lag: new_coarse_histogram(),
            stamped_ahead: 0,
            ahead_max_us: 0,
            tools: Vec::new(),
            tools_unfinished: 0,
            late: 0,
        }
    }
}

impl Group {
    /// A row for `value`, with nothing counted yet.
    fn empty(value: &str) -> Group {
        Group {
            value: value.to_string(),
            latency: new_histogram(),
            bytes: 0,
        }
    }
}

impl ToolRecord {
    /// A row for the tool `name`, with no call yet.
    fn empty(name: &str) -> ToolRecord {
        ToolRecord {
            name: name.to_string(),
            latency: new_histogram(),
            server: new_histogram(),
            overhead: new_histogram(),
            server_longer: 0,
        }
    }
}

/// A label the server chose, cut to `MAX_LABEL_CHARS` characters.
fn label(s: &str) -> &str {
    match s.char_indices().nth(MAX_LABEL_CHARS) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The index of `value`'s row in a bounded table: found, added, or `OTHER`'s.
fn slot<T>(
    rows: &mut Vec<T>,
    value: &str,
    name: impl Fn(&T) -> &str,
    new: impl Fn(&str) -> T,
) -> usize {
    let value = label(value);
    if let Some(i) = rows.iter().position(|r| name(r) == value) {
        return i;
    }
    let value = if rows.len() >= MAX_LABELS {
        OTHER
    } else {
        value
    };
    if let Some(i) = rows.iter().position(|r| name(r) == value) {
        return i;
    }
    rows.push(new(value));
    rows.len() - 1
}

impl EventRecord {
    /// One occurrence (its latency goes into `Recorder::events`).
    pub fn occurrence(&mut self, bytes: usize, chars: usize) {
        self.bytes += bytes as u64;
        self.chars += chars as u64;
    }

    /// The occurrence also counts for its `group_by` value.
    pub fn grouped(&mut self, value: &str, since_send: std::time::Duration, bytes: usize) {
        let i = slot(&mut self.groups, value, |g| &g.value, Group::empty);
        record(&mut self.groups[i].latency, micros(since_send));
        self.groups[i].bytes += bytes as u64;
    }

    /// One execution of the step ended with `n` occurrences.
    pub fn execution(&mut self, n: u32) {
        if n == 0 {
            self.zeros += 1;
        } else {
            record(&mut self.per_flow, u64::from(n));
            self.flows += 1;
        }
    }

    /// Occurrences per execution, zeros included.
    pub fn per_flow_all(&self) -> Histogram<u64> {
        let mut h = self.per_flow.clone();
        if self.zeros > 0 {
            let _ = h.record_n(0, self.zeros);
        }
        h
    }
}

impl StreamRecord {
    /// A gap between consecutive expected events.
    pub fn pair(&mut self, from: EventId, to: EventId, gap: std::time::Duration) {
        let i = match self.pairs.iter().position(|p| p.from == from && p.to == to) {
            Some(i) => i,
            None => {
                self.pairs.push(Pair {
                    from,
                    to,
                    gaps: new_coarse_histogram(),
                });
                self.pairs.len() - 1
            }
        };
        record(&mut self.pairs[i].gaps, micros(gap));
    }

    /// A completed tool call: `client` as seen, `server_ms` as reported (if it was).
    pub fn tool(&mut self, name: &str, client: std::time::Duration, server_ms: Option<f64>) {
        let i = slot(&mut self.tools, name, |t| &t.name, ToolRecord::empty);
        let t = &mut self.tools[i];
        let client_us = micros(client);
        record(&mut t.latency, client_us);
        if let Some(ms) = server_ms {
            let server_us = (ms * 1000.0).round().min(u64::MAX as f64) as u64;
            record(&mut t.server, server_us.max(1));
            match client_us.checked_sub(server_us) {
                Some(d) => record(&mut t.overhead, d.max(1)),
                None => t.server_longer += 1,
            }
        }
    }

    /// The server stamped an event `lag_s` seconds before it arrived (negative: after).
    pub fn stamped(&mut self, lag_s: f64) {
        if !lag_s.is_finite() {
            return;
        }
        let us = (lag_s.abs() * 1e6).min(8.64e10) as u64;
        if lag_s >= 0.0 {
            record(&mut self.server_lag, us.max(1));
        } else {
            self.stamped_ahead += 1;
            self.ahead_max_us = self.ahead_max_us.max(us);
        }
    }
}

fn add(into: &mut Histogram<u64>, from: &Histogram<u64>) {
    // Both auto-resize, so `add` cannot run out of range.
    let _ = into.add(from);
}

impl std::ops::AddAssign<&EventRecord> for EventRecord {
    fn add_assign(&mut self, o: &EventRecord) {
        add(&mut self.per_flow, &o.per_flow);
        self.zeros += o.zeros;
        self.flows += o.flows;
        self.bytes += o.bytes;
        self.chars += o.chars;
        self.over_budget += o.over_budget;
        for g in &o.groups {
            let i = slot(&mut self.groups, &g.value, |x| &x.value, Group::empty);
            add(&mut self.groups[i].latency, &g.latency);
            self.groups[i].bytes += g.bytes;
        }
    }
}

impl std::ops::AddAssign<&StreamRecord> for StreamRecord {
    fn add_assign(&mut self, o: &StreamRecord) {
        add(&mut self.first_event, &o.first_event);
        for p in &o.pairs {
            match self
                .pairs
                .iter_mut()
                .find(|x| x.from == p.from && x.to == p.to)
            {
                Some(x) => add(&mut x.gaps, &p.gaps),
                None => self.pairs.push(p.clone()),
            }
        }
        add(&mut self.events_per_flow, &o.events_per_flow);
        add(&mut self.bytes_per_flow, &o.bytes_per_flow);
        self.text_chars += o.text_chars;
        self.text_chunks += o.text_chunks;
        add(&mut self.chars_per_s, &o.chars_per_s);
        add(&mut self.chunks_per_ks, &o.chunks_per_ks);
        add(&mut self.server_lag, &o.server_lag);
        self.stamped_ahead += o.stamped_ahead;
        self.ahead_max_us = self.ahead_max_us.max(o.ahead_max_us);
        for t in &o.tools {
            let i = slot(&mut self.tools, &t.name, |x| &x.name, ToolRecord::empty);
            let x = &mut self.tools[i];
            add(&mut x.latency, &t.latency);
            add(&mut x.server, &t.server);
            add(&mut x.overhead, &t.overhead);
            x.server_longer += t.server_longer;
        }
        self.tools_unfinished += o.tools_unfinished;
        self.late += o.late;
    }
}

impl StreamRecord {
    /// Whether every event type it names exists in a plan of `events` types (a record read back
    /// from a child process is checked before use).
    pub fn fits(&self, events: usize) -> bool {
        self.pairs
            .iter()
            .all(|p| (p.from as usize) < events && (p.to as usize) < events)
            && self.tools.len() <= MAX_LABELS + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn labels_are_bounded_and_the_rest_counted_under_other() {
        let mut s = StreamRecord::default();
        for i in 0..(MAX_LABELS + 10) {
            s.tool(&format!("tool_{i}"), Duration::from_millis(5), Some(2.0));
        }
        s.tool(&"x".repeat(500), Duration::from_millis(5), None);
        assert_eq!(s.tools.len(), MAX_LABELS + 1);
        let other = s.tools.iter().find(|t| t.name == OTHER).unwrap();
        assert_eq!(other.latency.len(), 11);
        let mut e = EventRecord::default();
        e.grouped(&"y".repeat(100), Duration::from_millis(1), 10);
        assert_eq!(e.groups[0].value.chars().count(), MAX_LABEL_CHARS);
    }

    #[test]
    fn a_tool_call_keeps_client_server_and_overhead() {
        let mut s = StreamRecord::default();
        s.tool("cost_query", Duration::from_millis(15), Some(12.0));
        s.tool("cost_query", Duration::from_millis(10), Some(12.0));
        let t = &s.tools[0];
        assert_eq!(t.latency.len(), 2);
        assert_eq!(t.server.len(), 2);
        assert_eq!(t.overhead.len(), 1);
        assert!(
            (2_990..=3_010).contains(&t.overhead.max()),
            "{}",
            t.overhead.max()
        );
        assert_eq!(t.server_longer, 1);
    }

    #[test]
    fn adding_records_adds_rows_by_name() {
        let mut a = StreamRecord::default();
        a.tool("a", Duration::from_millis(1), None);
        a.pair(0, 1, Duration::from_millis(3));
        let mut b = StreamRecord::default();
        b.tool("b", Duration::from_millis(1), None);
        b.tool("a", Duration::from_millis(1), None);
        b.pair(0, 1, Duration::from_millis(3));
        b.pair(1, 1, Duration::from_millis(3));
        b.stamped(-0.5);
        a += &b;
        assert_eq!(
            a.tools
                .iter()
                .map(|t| (t.name.as_str(), t.latency.len()))
                .collect::<Vec<_>>(),
            [("a", 2), ("b", 1)]
        );
        assert_eq!(
            a.pairs.iter().map(|p| p.gaps.len()).collect::<Vec<_>>(),
            [2, 1]
        );
        assert_eq!((a.stamped_ahead, a.ahead_max_us), (1, 500_000));
        let json = serde_json::to_string(&a).unwrap();
        let back: StreamRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back.tools[0].latency.len(), 2);
        assert!(back.fits(2) && !back.fits(1));
    }

    #[test]
    fn per_flow_counts_zero_and_flows_only_where_it_came() {
        let mut e = EventRecord::default();
        e.execution(3);
        e.execution(0);
        e.execution(3);
        assert_eq!(e.flows, 2);
        let all = e.per_flow_all();
        assert_eq!(all.len(), 3);
        assert_eq!((all.min(), all.max()), (0, 3));
    }
}
