//! What an exchange step knows about the event stream, resolved once when the scenario is
//! compiled: each known event type's meaning (one hash lookup per frame), its metric slot, its
//! budget, how its rows are split, and how tool calls pair up.

use std::collections::HashMap;
use std::time::Duration;

use super::{EventId, StepId};

/// Index of a per-event metric in `Plan::event_metrics` (and in the recorder's event records).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MetricId(pub u16);

impl MetricId {
    /// As an index into `Plan::event_metrics`.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// One measured event type of one exchange step.
#[derive(Debug, Clone)]
pub struct EventMetric {
    pub step: StepId,
    pub event: EventId,
    /// Whether the expectation names it, or it is a noise or error type the step lists by name.
    pub role: Role,
    /// `ws.budgets`: the first occurrence must arrive within this long of the send, or the flow
    /// is late (it can still pass).
    pub budget: Option<Duration>,
    /// `ws.group_by`: occurrences are also counted per value of the field at this JSON pointer.
    pub group_by: Option<String>,
}

/// Why a step measures an event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Named in `ws.expect`.
    Expected,
    /// Named (without wildcards) in `ws.ignore`: counted, never checked.
    Ignored,
    /// Named (without wildcards) in `ws.fail_on`: counted; it fails the step.
    FailOn,
}

impl Role {
    /// As written in the results.
    pub fn code(self) -> &'static str {
        match self {
            Role::Expected => "expected",
            Role::Ignored => "ignored",
            Role::FailOn => "fail_on",
        }
    }
}

/// What a frame of a known type does in an exchange step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// In the expression's alphabet: symbol `sym` of the DFA.
    Expected { sym: u16 },
    /// Matched by `ws.fail_on`: fails the step.
    FailOn,
    /// Matched by `ws.ignore` (or `ws.unlisted = "ignore"`): skipped.
    Ignore,
    /// None of these: `ws.unlisted` decides (a failure by default).
    Unlisted,
}

impl Class {
    /// What a frame of a type outside the expression does, by the step's lists: `fail_on`
    /// first, then `ignore`, then `ws.unlisted`. The compiler resolves the types the plan names
    /// with it; the runner, the types it never names.
    pub fn of_unexpected(
        name: &str,
        fail_on: &[wildmatch::WildMatch],
        ignore: &[wildmatch::WildMatch],
        unlisted: super::Unlisted,
    ) -> Class {
        if fail_on.iter().any(|g| g.matches(name)) {
            Class::FailOn
        } else if ignore.iter().any(|g| g.matches(name)) || unlisted == super::Unlisted::Ignore {
            Class::Ignore
        } else {
            Class::Unlisted
        }
    }
}

/// A known event type, as one exchange step sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known {
    pub event: EventId,
    pub class: Class,
    /// Its metric slot, when the step measures it.
    pub metric: Option<MetricId>,
    /// A `ws.capture` reads from it.
    pub captured: bool,
    /// Which end of a tool call it is (`ws.tools`).
    pub tool: Option<ToolEdge>,
    /// Where its text is, if it is a type that streams text.
    pub text: Option<TextKind>,
}

/// The start or the end of a tool call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolEdge {
    Start,
    End,
}

/// Event types that carry streamed text, and the fields their text is in (docs/protocol.md §5
/// field fallbacks; the first string found counts, top level, then `data`, then `payload`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    /// `agent_thinking`: `reasoning`, `thought`, `message`.
    Thinking,
    /// `stream_chunk`, `partial_result`: `content`, `chunk`, `text`, `delta`, `message`.
    Chunk,
    /// `agent_completed`, `final_report`, `agent_response`: `final_response`, `response`,
    /// `result`, `message`.
    Final,
}

impl TextKind {
    /// The text kind of an event type name, if it streams text.
    pub fn of(name: &str) -> Option<TextKind> {
        match name {
            "agent_thinking" => Some(TextKind::Thinking),
            "stream_chunk" | "partial_result" => Some(TextKind::Chunk),
            "agent_completed" | "final_report" | "agent_response" => Some(TextKind::Final),
            _ => None,
        }
    }

    /// The fields that may hold the text, in order of preference.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            TextKind::Thinking => &["reasoning", "thought", "message"],
            TextKind::Chunk => &["content", "chunk", "text", "delta", "message"],
            TextKind::Final => &["final_response", "response", "result", "message"],
        }
    }
}

/// How tool calls are timed (`ws.tools`): `start` → `end` pairs, matched by tool name, else by
/// order; the server's own figure for the call is read from `end`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolSpec {
    pub start: EventId,
    pub end: EventId,
    /// JSON pointer to the server-reported duration in ms (`ws.tool_duration`); `None`: the
    /// platform's `duration`, else `execution_time_ms` (top level, `data`, `payload`).
    pub duration: Option<String>,
}

/// The default tool events of the platform (docs/protocol.md §5).
pub const TOOL_START: &str = "tool_executing";
pub const TOOL_END: &str = "tool_completed";

/// Every event type an exchange step knows, by name: built at compile time, so classifying a
/// frame is one hash lookup (types it does not know fall back to the `ws.ignore`/`ws.fail_on`
/// globs).
#[derive(Debug, Clone, Default)]
pub struct EventTable {
    known: HashMap<Box<str>, Known>,
}

impl EventTable {
    /// Adds or replaces the entry for `name`.
    pub fn insert(&mut self, name: &str, k: Known) {
        self.known.insert(name.into(), k);
    }

    /// What the step knows about this event type.
    pub fn get(&self, name: &str) -> Option<&Known> {
        self.known.get(name)
    }

    /// Mutable access, for the compiler.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Known> {
        self.known.get_mut(name)
    }

    /// Number of names known.
    pub fn len(&self) -> usize {
        self.known.len()
    }

    /// No names known.
    pub fn is_empty(&self) -> bool {
        self.known.is_empty()
    }
}

/// The protocol's budgets (docs/protocol.md §5.2), used by an exchange step without
/// `ws.budgets` for the events of these names in its expectation: the first event within 5 s
/// (and it must be `agent_started`), the whole sequence within 60 s.
pub const DEFAULT_BUDGETS: [(&str, Duration); 2] = [
    ("agent_started", Duration::from_secs(5)),
    ("agent_completed", Duration::from_secs(60)),
];
