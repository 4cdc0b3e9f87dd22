//! Failures, typed: `ErrorKind` (what went wrong), `Phase` (where in the conversation) and a
//! cause (the address and the exact reason), counted per step with a bounded set of causes.
//!
//! Kinds are small `Copy` values (events by `EventId`, unknown event names interned per
//! recorder as `Unknown(index)`), so counting one is a hash-map bump on the error path only;
//! names are attached when the summary is built. A `Failure` adds the phase and, on the error
//! path only, a cause string such as `http://127.0.0.1:1: connection refused (os error 111)`.
//! A recorder keeps at most `MAX_CAUSES` distinct causes per (step, kind, phase); the rest are
//! counted, so a server that invents a new message per request cannot grow memory.

use std::collections::HashMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plan::EventId;

/// Distinct unknown event type names a recorder keeps; further ones are `OtherUnknown`.
pub const MAX_UNKNOWN_EVENTS: usize = 64;
/// Distinct causes kept per (step, kind, phase); further ones are only counted.
pub const MAX_CAUSES: usize = 8;
/// Longest cause kept, in characters (bodies and server messages are cut).
pub const MAX_CAUSE_CHARS: usize = 240;

/// Where in a flow's conversation with the target a failure happened.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Resolving the host name.
    Dns,
    /// Opening the TCP connection.
    Connect,
    /// The TLS handshake (certificate verification included).
    Tls,
    /// Writing an HTTP request (or the WebSocket upgrade request).
    Request,
    /// Reading an HTTP response: status, headers, body; extracting from it.
    Response,
    /// The WebSocket upgrade response (status 101, accept key, headers).
    Upgrade,
    /// Writing a WebSocket frame (a message, a responder's reply).
    Send,
    /// Reading WebSocket frames.
    Frame,
    /// The WebSocket closing handshake.
    Close,
    /// Verifying the event stream against the step's expectation.
    Events,
    /// Building the request from templates (a variable unset, an invalid rendered URL).
    Template,
    /// Inside the tool itself (a bug): never the target's fault.
    Internal,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Dns => "dns",
            Phase::Connect => "connect",
            Phase::Tls => "tls",
            Phase::Request => "request",
            Phase::Response => "response",
            Phase::Upgrade => "upgrade",
            Phase::Send => "send",
            Phase::Frame => "frame",
            Phase::Close => "close",
            Phase::Events => "events",
            Phase::Template => "template",
            Phase::Internal => "internal",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub use crate::plan::EventRef;

impl From<crate::plan::expect::Diagnosis> for ErrorKind {
    fn from(d: crate::plan::expect::Diagnosis) -> ErrorKind {
        use crate::plan::expect::Diagnosis;
        match d {
            Diagnosis::Missing { missing, got } => ErrorKind::EventMissing { missing, got },
            Diagnosis::Unexpected { got, after } => ErrorKind::UnexpectedEvent {
                got: EventRef::Known(got),
                after,
            },
            Diagnosis::Matched => ErrorKind::TotalTimeout,
        }
    }
}

impl From<crate::plan::expect::Diagnosis> for Failure {
    fn from(d: crate::plan::expect::Diagnosis) -> Failure {
        Failure::from(ErrorKind::from(d))
    }
}

/// Why a step failed. Serialized only in `--processes` interval records (`metrics::record`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ErrorKind {
    /// TCP connection refused.
    ConnectionRefused,
    /// The host name did not resolve.
    Dns,
    /// TLS handshake or certificate failure.
    Tls,
    /// An operating-system I/O error (reset, broken pipe, ...): the cause holds the OS error.
    Io,
    /// A deadline passed while waiting in the failure's phase (connect, a read, a write, close).
    Timeout,
    /// The peer closed the connection before the response (or upgrade) was complete.
    ConnectionClosed,
    /// The response broke HTTP/1.1 (status line, headers, framing, chunk sizes): the cause says how.
    HttpProtocol,
    /// A limit of ours was exceeded (header size or count, body, frame, message, write buffer).
    TooLarge,
    /// The HTTP response status was not the expected one.
    HttpStatus(u16),
    /// The response body was not JSON or the pointer to extract was missing.
    Extract,
    /// The WebSocket upgrade was refused with this HTTP status.
    WsRejected(u16),
    /// A 101 response that is not a valid upgrade (wrong accept key, missing headers, a
    /// subprotocol we did not offer).
    WsHandshake,
    /// A frame we rejected: it broke RFC 6455 (invalid UTF-8, bad close code, reserved bits,
    /// a masked server frame, ...). Not a close by the server.
    WsProtocol,
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
    /// A rendered request was invalid (a URL that does not parse, a header value with a line
    /// break, credentials in a URL).
    InvalidRequest,
    /// The tool itself failed (a panic or an internal error): a bug, never the target's fault.
    Internal,
}

/// The stable code of an error kind, as written in the JSON results.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    ConnectionRefused,
    Dns,
    Tls,
    Io,
    Timeout,
    ConnectionClosed,
    HttpProtocol,
    TooLarge,
    HttpStatus,
    Extract,
    WsRejected,
    WsHandshake,
    WsProtocol,
    WsClosed,
    NoSocket,
    EventMissing,
    UnexpectedEvent,
    ErrorEvent,
    FirstEventTimeout,
    GapTimeout,
    TotalTimeout,
    VariableUnset,
    InvalidRequest,
    Internal,
}

impl ErrorCode {
    /// Every code, in the order of the README's table.
    pub const ALL: [ErrorCode; 24] = [
        ErrorCode::Dns,
        ErrorCode::ConnectionRefused,
        ErrorCode::Tls,
        ErrorCode::Io,
        ErrorCode::Timeout,
        ErrorCode::ConnectionClosed,
        ErrorCode::HttpProtocol,
        ErrorCode::TooLarge,
        ErrorCode::HttpStatus,
        ErrorCode::Extract,
        ErrorCode::WsRejected,
        ErrorCode::WsHandshake,
        ErrorCode::WsProtocol,
        ErrorCode::WsClosed,
        ErrorCode::NoSocket,
        ErrorCode::EventMissing,
        ErrorCode::UnexpectedEvent,
        ErrorCode::ErrorEvent,
        ErrorCode::FirstEventTimeout,
        ErrorCode::GapTimeout,
        ErrorCode::TotalTimeout,
        ErrorCode::VariableUnset,
        ErrorCode::InvalidRequest,
        ErrorCode::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ConnectionRefused => "connection_refused",
            ErrorCode::Dns => "dns",
            ErrorCode::Tls => "tls",
            ErrorCode::Io => "io",
            ErrorCode::Timeout => "timeout",
            ErrorCode::ConnectionClosed => "connection_closed",
            ErrorCode::HttpProtocol => "http_protocol",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::HttpStatus => "http_status",
            ErrorCode::Extract => "extract",
            ErrorCode::WsRejected => "ws_rejected",
            ErrorCode::WsHandshake => "ws_handshake",
            ErrorCode::WsProtocol => "ws_protocol",
            ErrorCode::WsClosed => "ws_closed",
            ErrorCode::NoSocket => "no_socket",
            ErrorCode::EventMissing => "event_missing",
            ErrorCode::UnexpectedEvent => "unexpected_event",
            ErrorCode::ErrorEvent => "error_event",
            ErrorCode::FirstEventTimeout => "first_event_timeout",
            ErrorCode::GapTimeout => "gap_timeout",
            ErrorCode::TotalTimeout => "total_timeout",
            ErrorCode::VariableUnset => "variable_unset",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::Internal => "internal",
        }
    }

    /// A connection-level failure: nothing of the target answered (the verdict's "unreachable").
    pub fn is_unreachable(self) -> bool {
        matches!(
            self,
            ErrorCode::ConnectionRefused | ErrorCode::Dns | ErrorCode::Tls
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ErrorKind {
    /// The stable machine-readable code, e.g. `event_missing`, used in the JSON results.
    pub fn code(&self) -> ErrorCode {
        match self {
            ErrorKind::ConnectionRefused => ErrorCode::ConnectionRefused,
            ErrorKind::Dns => ErrorCode::Dns,
            ErrorKind::Tls => ErrorCode::Tls,
            ErrorKind::Io => ErrorCode::Io,
            ErrorKind::Timeout => ErrorCode::Timeout,
            ErrorKind::ConnectionClosed => ErrorCode::ConnectionClosed,
            ErrorKind::HttpProtocol => ErrorCode::HttpProtocol,
            ErrorKind::TooLarge => ErrorCode::TooLarge,
            ErrorKind::HttpStatus(_) => ErrorCode::HttpStatus,
            ErrorKind::Extract => ErrorCode::Extract,
            ErrorKind::WsRejected(_) => ErrorCode::WsRejected,
            ErrorKind::WsHandshake => ErrorCode::WsHandshake,
            ErrorKind::WsProtocol => ErrorCode::WsProtocol,
            ErrorKind::WsClosed(_) => ErrorCode::WsClosed,
            ErrorKind::NoSocket => ErrorCode::NoSocket,
            ErrorKind::EventMissing { .. } => ErrorCode::EventMissing,
            ErrorKind::UnexpectedEvent { .. } => ErrorCode::UnexpectedEvent,
            ErrorKind::ErrorEvent(_) => ErrorCode::ErrorEvent,
            ErrorKind::FirstEventTimeout => ErrorCode::FirstEventTimeout,
            ErrorKind::GapTimeout => ErrorCode::GapTimeout,
            ErrorKind::TotalTimeout => ErrorCode::TotalTimeout,
            ErrorKind::VariableUnset(_) => ErrorCode::VariableUnset,
            ErrorKind::InvalidRequest => ErrorCode::InvalidRequest,
            ErrorKind::Internal => ErrorCode::Internal,
        }
    }

    /// The phase a kind happens in when the code that found it does not say otherwise.
    pub fn phase(&self) -> Phase {
        match self {
            ErrorKind::Dns => Phase::Dns,
            ErrorKind::ConnectionRefused => Phase::Connect,
            ErrorKind::Tls => Phase::Tls,
            ErrorKind::Io
            | ErrorKind::Timeout
            | ErrorKind::ConnectionClosed
            | ErrorKind::HttpProtocol
            | ErrorKind::TooLarge
            | ErrorKind::HttpStatus(_)
            | ErrorKind::Extract => Phase::Response,
            ErrorKind::WsRejected(_) | ErrorKind::WsHandshake => Phase::Upgrade,
            ErrorKind::WsProtocol | ErrorKind::WsClosed(_) => Phase::Frame,
            ErrorKind::NoSocket => Phase::Send,
            ErrorKind::EventMissing { .. }
            | ErrorKind::UnexpectedEvent { .. }
            | ErrorKind::ErrorEvent(_)
            | ErrorKind::FirstEventTimeout
            | ErrorKind::GapTimeout
            | ErrorKind::TotalTimeout => Phase::Events,
            ErrorKind::VariableUnset(_) | ErrorKind::InvalidRequest => Phase::Template,
            ErrorKind::Internal => Phase::Internal,
        }
    }

    /// A human description with names filled in, e.g. `event missing: tool_completed (agent_completed came instead)`.
    pub fn describe(&self, names: &dyn Names) -> String {
        let ev = |e: &EventRef| names.event_ref(e);
        match self {
            ErrorKind::ConnectionRefused => "connection refused".into(),
            ErrorKind::Dns => "DNS lookup failed".into(),
            ErrorKind::Tls => "TLS error".into(),
            ErrorKind::Io => "I/O error".into(),
            ErrorKind::Timeout => "timeout".into(),
            ErrorKind::ConnectionClosed => "connection closed by the server".into(),
            ErrorKind::HttpProtocol => "invalid HTTP response".into(),
            ErrorKind::TooLarge => "over a size limit".into(),
            ErrorKind::HttpStatus(s) => format!("HTTP status {s}"),
            ErrorKind::Extract => "extraction failed (body not JSON or pointer missing)".into(),
            ErrorKind::WsRejected(s) => format!("WebSocket upgrade rejected with HTTP {s}"),
            ErrorKind::WsHandshake => "invalid WebSocket upgrade response".into(),
            ErrorKind::WsProtocol => "WebSocket frame rejected (protocol violation)".into(),
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
            ErrorKind::FirstEventTimeout => "no event within first_event_within".into(),
            ErrorKind::GapTimeout => "no event within max_gap of the previous one".into(),
            ErrorKind::TotalTimeout => "expectation not met within the step's deadline".into(),
            ErrorKind::VariableUnset(v) => format!("variable unset: {}", names.var(*v)),
            ErrorKind::InvalidRequest => "invalid request".into(),
            ErrorKind::Internal => "internal error in load-tester".into(),
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
            EventRef::OtherUnknown => f.write_str("(another unknown event type)"),
        }
    }
}

/// One failure: its kind, its phase and (on the error path) the exact cause with the address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: ErrorKind,
    pub phase: Phase,
    /// E.g. `ws://127.0.0.1:8000: wrong Sec-WebSocket-Accept`. Never holds credentials.
    pub cause: Option<Box<str>>,
}

impl Failure {
    pub fn new(kind: ErrorKind, phase: Phase) -> Failure {
        Failure {
            kind,
            phase,
            cause: None,
        }
    }

    /// Sets the cause, cut to `MAX_CAUSE_CHARS` characters.
    pub fn cause(mut self, cause: impl Into<String>) -> Failure {
        let mut c: String = cause.into();
        if let Some((i, _)) = c.char_indices().nth(MAX_CAUSE_CHARS) {
            c.truncate(i);
            c.push('…');
        }
        self.cause = Some(c.into_boxed_str());
        self
    }

    /// Sets the phase.
    pub fn in_phase(mut self, phase: Phase) -> Failure {
        self.phase = phase;
        self
    }

    /// The cause, or "" when there is none.
    pub fn cause_text(&self) -> &str {
        self.cause.as_deref().unwrap_or("")
    }
}

impl From<ErrorKind> for Failure {
    fn from(kind: ErrorKind) -> Failure {
        Failure::new(kind, kind.phase())
    }
}

/// How often one (kind, phase) happened in a step, with its distinct causes: a recorder keeps
/// the first `MAX_CAUSES` it sees (counting each), and merging keeps the most frequent of all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorStat {
    pub count: u64,
    /// At most `MAX_CAUSES` distinct causes with their counts.
    pub causes: Vec<(Box<str>, u64)>,
    /// Occurrences whose cause was not kept (the set was full).
    pub other: u64,
}

impl ErrorStat {
    /// Counts `n` occurrences of `cause` (or of none).
    pub fn add(&mut self, cause: Option<&str>, n: u64) {
        // Saturating: merged counts come from files anyone can edit.
        self.count = self.count.saturating_add(n);
        let Some(cause) = cause else {
            self.other = self.other.saturating_add(n);
            return;
        };
        if let Some(c) = self.causes.iter_mut().find(|(c, _)| &**c == cause) {
            c.1 = c.1.saturating_add(n);
        } else if self.causes.len() < MAX_CAUSES {
            self.causes.push((cause.into(), n));
        } else {
            self.other = self.other.saturating_add(n);
        }
    }

    /// Adds another stat's counts: the causes of both are added up and the most frequent
    /// `MAX_CAUSES` kept, the rest counted in `other`.
    pub fn merge(&mut self, other: &ErrorStat) {
        let mut all = std::mem::take(&mut self.causes);
        for (c, n) in &other.causes {
            match all.iter_mut().find(|(x, _)| x == c) {
                Some(x) => x.1 = x.1.saturating_add(*n),
                None => all.push((c.clone(), *n)),
            }
        }
        all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let dropped = all
            .iter()
            .skip(MAX_CAUSES)
            .fold(0u64, |n, c| n.saturating_add(c.1));
        all.truncate(MAX_CAUSES);
        self.causes = all;
        self.count = self.count.saturating_add(other.count);
        self.other = self
            .other
            .saturating_add(other.other)
            .saturating_add(dropped);
    }
}

/// A step's errors, by kind and phase.
pub type ErrorTable = HashMap<(ErrorKind, Phase), ErrorStat>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_bounded_and_the_rest_counted() {
        let mut s = ErrorStat::default();
        for i in 0..100 {
            s.add(Some(&format!("cause {}", i % 20)), 1);
        }
        s.add(None, 3);
        assert_eq!(s.count, 103);
        assert_eq!(s.causes.len(), MAX_CAUSES);
        let kept: u64 = s.causes.iter().map(|c| c.1).sum();
        assert_eq!(kept + s.other, 103);
        let mut t = ErrorStat::default();
        t.merge(&s);
        t.merge(&s);
        assert_eq!(t.count, 206);
        assert_eq!(t.causes.len(), MAX_CAUSES);
    }

    #[test]
    fn merging_keeps_the_most_frequent_causes_of_both() {
        let mut a = ErrorStat::default();
        for i in 0..MAX_CAUSES {
            a.add(Some(&format!("rare {i}")), 1);
        }
        let mut b = ErrorStat::default();
        b.add(Some("the real cause"), 500);
        a.merge(&b);
        assert_eq!(a.causes[0], ("the real cause".into(), 500));
        assert_eq!(a.causes.len(), MAX_CAUSES);
        assert_eq!((a.count, a.other), (MAX_CAUSES as u64 + 500, 1));
    }

    #[test]
    fn long_causes_are_cut() {
        let f = Failure::from(ErrorKind::Io).cause("x".repeat(1000));
        assert_eq!(f.cause_text().chars().count(), MAX_CAUSE_CHARS + 1);
        assert_eq!(f.phase, Phase::Response);
    }

    #[test]
    fn every_code_is_listed_once() {
        let mut all = ErrorCode::ALL.to_vec();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), ErrorCode::ALL.len());
    }
}
