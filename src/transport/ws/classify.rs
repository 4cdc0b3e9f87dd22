//! tungstenite's errors as failures labelled for what they are: a frame we rejected, a limit of
//! ours, an I/O error, or the end of the connection — never an invented server close.

use tokio_tungstenite::tungstenite::error::{CapacityError, Error as E, ProtocolError};

use crate::metrics::errors::{ErrorKind, Failure, Phase};
use crate::size::human_size;

/// A tungstenite error in `phase` on the socket to `origin` (`scheme://host:port`).
pub fn classify(e: &E, phase: Phase, origin: &str) -> Failure {
    let fail = |kind: ErrorKind, phase: Phase, why: String| {
        Failure::new(kind, phase).cause(format!("{origin}: {why}"))
    };
    match e {
        E::Io(io) => fail(super::super::io_kind(io), phase, io.to_string()),
        E::ConnectionClosed | E::AlreadyClosed => fail(
            ErrorKind::WsClosed(None),
            phase,
            "the WebSocket was already closed".into(),
        ),
        E::Protocol(ProtocolError::ResetWithoutClosingHandshake) => fail(
            ErrorKind::WsClosed(None),
            phase,
            "the server ended the connection without a close frame".into(),
        ),
        E::Protocol(ProtocolError::SendAfterClosing) => fail(
            ErrorKind::WsClosed(None),
            phase,
            "the server had closed the WebSocket".into(),
        ),
        E::Capacity(CapacityError::MessageTooLong { size, max_size }) => fail(
            ErrorKind::TooLarge,
            phase,
            format!(
                "a message or frame of {size} bytes, over the limit of {} (ws.max_message)",
                human_size(*max_size)
            ),
        ),
        E::Capacity(c) => fail(ErrorKind::TooLarge, phase, c.to_string()),
        E::WriteBufferFull(_) => fail(
            ErrorKind::TooLarge,
            Phase::Send,
            "our write buffer is full: the server is not reading".into(),
        ),
        E::Utf8 => fail(
            ErrorKind::WsProtocol,
            phase,
            "frame rejected: invalid UTF-8 in a text frame or close reason".into(),
        ),
        E::Protocol(p) => fail(ErrorKind::WsProtocol, phase, format!("frame rejected: {p}")),
        E::Tls(t) => fail(ErrorKind::Tls, phase, t.to_string()),
        E::Http(resp) => fail(
            ErrorKind::WsRejected(resp.status().as_u16()),
            phase,
            format!("HTTP {}", resp.status()),
        ),
        other => fail(ErrorKind::WsProtocol, phase, other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_gets_its_kind_and_names_the_address() {
        let o = "ws://127.0.0.1:9";
        let cases: Vec<(E, ErrorKind, Phase, &str)> = vec![
            (
                E::Protocol(ProtocolError::NonZeroReservedBits),
                ErrorKind::WsProtocol,
                Phase::Frame,
                "Reserved bits are non-zero",
            ),
            (
                E::Protocol(ProtocolError::MaskedFrameFromServer),
                ErrorKind::WsProtocol,
                Phase::Frame,
                "masked frame from server",
            ),
            (
                E::Protocol(ProtocolError::InvalidOpcode(3)),
                ErrorKind::WsProtocol,
                Phase::Frame,
                "invalid opcode: 3",
            ),
            (
                E::Utf8,
                ErrorKind::WsProtocol,
                Phase::Frame,
                "invalid UTF-8",
            ),
            (
                E::Protocol(ProtocolError::ResetWithoutClosingHandshake),
                ErrorKind::WsClosed(None),
                Phase::Frame,
                "without a close frame",
            ),
            (
                E::Capacity(CapacityError::MessageTooLong {
                    size: 104_857_600,
                    max_size: 1 << 20,
                }),
                ErrorKind::TooLarge,
                Phase::Frame,
                "104857600 bytes, over the limit of 1 MiB",
            ),
            (
                E::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset)),
                ErrorKind::Io,
                Phase::Frame,
                "reset",
            ),
        ];
        for (e, kind, phase, cause) in cases {
            let f = classify(&e, Phase::Frame, o);
            assert_eq!((f.kind, f.phase), (kind, phase), "{e}");
            assert!(f.cause_text().starts_with("ws://127.0.0.1:9: "), "{f:?}");
            assert!(f.cause_text().contains(cause), "{f:?}");
        }
    }
}
