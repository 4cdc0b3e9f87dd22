//! `ErrorKind`: the typed classification of every failure a step can have, counted per step.
//!
//! Kinds are small `Copy` values (events by `EventId`, unknown event names interned per
//! recorder as `Unknown(index)`), so counting one is a hash-map bump on the error path only;
//! names are attached when the summary is built.

use std::fmt;

use crate::plan::EventId;

/// An event as seen in an error: a type the plan knows, or one it does not (interned per recorder).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventRef {
    Known(EventId),
    /// Index into the recorder's table of unknown event type names.
    Unknown(u32),
    /// A frame whose type could not be read (not JSON, no `type` field).
    Unreadable,
}

/// Why a step failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    /// TCP connection refused.
    ConnectionRefused,
    /// The host name did not resolve.
    Dns,
    /// TLS handshake or certificate failure.
    Tls,
    /// Any other I/O or protocol failure while connecting or talking (reset, bad response, ...).
    Io,
    /// The step's timeout elapsed (HTTP request or WebSocket connect).
    Timeout,
    /// The HTTP response status was not the expected one.
    HttpStatus(u16),
    /// The response body was not JSON or the pointer to extract was missing.
    Extract,
    /// The WebSocket upgrade was refused with this HTTP status.
    WsRejected(u16),
    /// The WebSocket closed while events were awaited (close code if the server sent one).
    WsClosed(Option<u16>),
    /// A step needs an open WebSocket and there is none (an earlier connect failed or closed).
    NoSocket,
    /// An expected event never came; `got` arrived in its place (or nothing: the stream ended).
    EventMissing {
        missing: EventId,
        got: Option<EventRef>,
    },
    /// An event arrived that the expectation does not allow at this point.
    UnexpectedEvent {
        got: EventRef,
        after: Option<EventId>,
    },
    /// A listed fail-on event (e.g. `agent_error`) arrived.
    ErrorEvent(EventRef),
    /// No event at all within `first_event_within`.
    FirstEventTimeout,
    /// No event within `max_gap` of the previous one.
    GapTimeout,
    /// The expectation was not met within `within`.
    TotalTimeout,
    /// A template used a variable that had no value yet.
    VariableUnset(u16),
}

impl ErrorKind {
    /// A stable machine-readable key, e.g. `event_missing`, used in the JSON results.
    pub fn code(&self) -> &'static str {
        match self {
            ErrorKind::ConnectionRefused => "connection_refused",
            ErrorKind::Dns => "dns",
            ErrorKind::Tls => "tls",
            ErrorKind::Io => "io",
            ErrorKind::Timeout => "timeout",
            ErrorKind::HttpStatus(_) => "http_status",
            ErrorKind::Extract => "extract",
            ErrorKind::WsRejected(_) => "ws_rejected",
            ErrorKind::WsClosed(_) => "ws_closed",
            ErrorKind::NoSocket => "no_socket",
            ErrorKind::EventMissing { .. } => "event_missing",
            ErrorKind::UnexpectedEvent { .. } => "unexpected_event",
            ErrorKind::ErrorEvent(_) => "error_event",
            ErrorKind::FirstEventTimeout => "first_event_timeout",
            ErrorKind::GapTimeout => "gap_timeout",
            ErrorKind::TotalTimeout => "total_timeout",
            ErrorKind::VariableUnset(_) => "variable_unset",
        }
    }

    /// A human description with names filled in, e.g. `event missing: tool_completed (agent_completed came instead)`.
    pub fn describe(&self, names: &dyn Names) -> String {
        let ev = |e: &EventRef| names.event_ref(e);
        match self {
            ErrorKind::ConnectionRefused => "connection refused".into(),
            ErrorKind::Dns => "DNS lookup failed".into(),
            ErrorKind::Tls => "TLS error".into(),
            ErrorKind::Io => "I/O or protocol error".into(),
            ErrorKind::Timeout => "timeout".into(),
            ErrorKind::HttpStatus(s) => format!("HTTP status {s}"),
            ErrorKind::Extract => "extraction failed (body not JSON or pointer missing)".into(),
            ErrorKind::WsRejected(s) => format!("WebSocket upgrade rejected with HTTP {s}"),
            ErrorKind::WsClosed(Some(c)) => format!("WebSocket closed with code {c}"),
            ErrorKind::WsClosed(None) => "WebSocket closed without a close frame".into(),
            ErrorKind::NoSocket => "no open WebSocket".into(),
            ErrorKind::EventMissing { missing, got } => match got {
                Some(g) => format!(
                    "event missing: {} ({} came instead)",
                    names.event(*missing),
                    ev(g)
                ),
                None => format!("event missing: {}", names.event(*missing)),
            },
            ErrorKind::UnexpectedEvent { got, after } => match after {
                Some(a) => format!("unexpected event: {} after {}", ev(got), names.event(*a)),
                None => format!("unexpected event: {} (first)", ev(got)),
            },
            ErrorKind::ErrorEvent(e) => format!("error event: {}", ev(e)),
            ErrorKind::FirstEventTimeout => "first event timeout".into(),
            ErrorKind::GapTimeout => "gap timeout between events".into(),
            ErrorKind::TotalTimeout => "total timeout".into(),
            ErrorKind::VariableUnset(v) => format!("variable unset: {}", names.var(*v)),
        }
    }
}

/// Resolves ids to names for messages.
pub trait Names {
    fn event(&self, id: EventId) -> String;
    fn event_ref(&self, e: &EventRef) -> String;
    fn var(&self, id: u16) -> String;
}

impl fmt::Display for EventRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventRef::Known(id) => write!(f, "#{id}"),
            EventRef::Unknown(i) => write!(f, "?{i}"),
            EventRef::Unreadable => f.write_str("(unreadable frame)"),
        }
    }
}
