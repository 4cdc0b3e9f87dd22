//! `Socket`: one open WebSocket, read one frame at a time, written and closed within deadlines.
//!
//! Every frame read returns to the caller, control frames included, so the caller's deadlines
//! get a turn after each one: a ping flood cannot starve them. Writes (a message, a reply, the
//! close frame) wait at most until the caller's deadline. A server that never reads our pongs
//! cannot grow memory: pongs queued while writes are blocked are counted, and past
//! `PONG_BACKLOG` bytes the flow fails (`too_large`, "the server is not reading"); tungstenite's
//! own write buffer is capped just above that.

use std::pin::Pin;
use std::task::Poll;

use futures_util::{Sink, SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;

use super::classify::classify;
use super::track::Tracked;
use crate::duration::human;
use crate::metrics::errors::{ErrorKind, Failure, Phase};
use crate::size::human_size;
use crate::transport::conn::Conn;

/// Largest message (and frame) either way when the connect step does not set `ws.max_message`:
/// this protocol's frames are small JSON documents.
pub const DEFAULT_MAX_MESSAGE: usize = 1 << 20;

/// Pong bytes that may wait unsent (the server not reading) before the flow fails.
pub const PONG_BACKLOG: usize = 64 << 10;

/// Socket buffer sizes and limits: small buffers (most of an idle user's memory), and limits
/// that bound a user's memory whatever the server sends.
pub fn config(max_message: usize) -> WebSocketConfig {
    let mut c = WebSocketConfig::default();
    // 2 KiB holds a few events; a larger frame grows the buffer as it needs (up to the limit).
    c.read_buffer_size = 2 * 1024;
    c.write_buffer_size = 0;
    // Our largest message plus the pongs allowed to wait: past it, tungstenite holds pongs back.
    c.max_write_buffer_size = max_message + PONG_BACKLOG + 64;
    c.max_message_size = Some(max_message);
    c.max_frame_size = Some(max_message);
    c
}

/// What reading the socket produced.
#[derive(Debug)]
pub enum Frame {
    /// A text (or UTF-8 binary) frame.
    Text(tungstenite::Utf8Bytes),
    /// A ping (answered), a pong or another control frame: no event, but a turn for deadlines.
    Control(Control),
    /// The server closed: its close code (if it sent one) and what happened, for a cause.
    Closed { code: Option<u16>, how: String },
    /// Reading failed: a frame we rejected, a limit, an I/O error.
    Error(Failure),
}

/// Which control frame was read (a failure transcript shows pings and pongs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// A ping, with its payload's length (answered with a pong).
    Ping(usize),
    /// A pong, with its payload's length.
    Pong(usize),
    /// Anything else tungstenite hands over without a message.
    Other,
}

/// When a write or close must end, and where that limit comes from (for causes).
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    pub at: Instant,
    /// The limit as set, e.g. 2 s.
    pub span: std::time::Duration,
    /// Where it is set, e.g. `ws.within`.
    pub setting: &'static str,
}

impl Deadline {
    /// `span` from `start`, set by `setting`.
    pub fn after(start: Instant, span: std::time::Duration, setting: &'static str) -> Deadline {
        Deadline {
            at: start + span,
            span,
            setting,
        }
    }
}

impl std::fmt::Display for Deadline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", human(self.span), self.setting)
    }
}

/// What a send carries, for a failure's cause.
#[derive(Debug, Clone, Copy)]
pub enum What<'a> {
    /// An exchange step's own message.
    Message,
    /// A responder's reply to this event.
    ReplyTo(&'a str),
}

impl std::fmt::Display for What<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            What::Message => f.write_str("the step's message"),
            What::ReplyTo(event) => write!(f, "the reply to {event}"),
        }
    }
}

/// An open WebSocket (client side) to `origin`.
pub struct Socket<S = Conn> {
    ws: WebSocketStream<Tracked<S>>,
    /// `scheme://host:port`, for causes.
    origin: Box<str>,
    max_message: usize,
    /// Pong bytes queued since writes last went through.
    pong_backlog: usize,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Socket<S> {
    /// Frames the stream after the upgrade; `tail` holds the bytes read past the response head.
    pub async fn new(io: S, tail: Vec<u8>, origin: String, max_message: usize) -> Socket<S> {
        let mut io = Tracked::new(io);
        io.track.feed(&tail);
        let config = Some(config(max_message));
        let ws = WebSocketStream::from_partially_read(io, tail, Role::Client, config).await;
        Socket {
            ws,
            origin: origin.into_boxed_str(),
            max_message,
            pong_backlog: 0,
        }
    }

    /// `scheme://host:port` of the server.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    fn fail(&self, kind: ErrorKind, phase: Phase, why: impl std::fmt::Display) -> Failure {
        Failure::new(kind, phase).cause(format!("{}: {why}", self.origin))
    }

    /// Reads the next frame, whatever it is. Cancel-safe: dropping it loses nothing.
    pub async fn read(&mut self) -> Frame {
        match self.ws.next().await {
            Some(Ok(Message::Text(t))) => Frame::Text(t),
            Some(Ok(Message::Binary(b))) => match tungstenite::Utf8Bytes::try_from(b) {
                Ok(t) => Frame::Text(t),
                Err(_) => Frame::Error(self.fail(
                    ErrorKind::WsProtocol,
                    Phase::Frame,
                    "frame rejected: a binary frame that is not UTF-8 JSON",
                )),
            },
            Some(Ok(Message::Ping(p))) => self.pong_queued(p.len()).await,
            Some(Ok(Message::Pong(p))) => Frame::Control(Control::Pong(p.len())),
            Some(Ok(Message::Frame(_))) => Frame::Control(Control::Other),
            Some(Ok(Message::Close(frame))) => self.closed(frame),
            Some(Err(tungstenite::Error::Protocol(
                tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
            ))) => Frame::Closed {
                code: None,
                how: "the server ended the connection without a close frame".into(),
            },
            Some(Err(e)) => Frame::Error(classify(&e, Phase::Frame, &self.origin)),
            None => Frame::Closed {
                code: None,
                how: "the WebSocket was already closed".into(),
            },
        }
    }

    /// The next frame, or `None` when `deadline` comes first. The deadline is polled before the
    /// read, and a frame read at or past it is too late, so whatever the server sends, the
    /// deadline fires on time (within one frame's handling).
    pub async fn read_by(&mut self, deadline: Instant) -> Option<Frame> {
        let frame = tokio::select! {
            biased;
            _ = tokio::time::sleep_until(deadline) => None,
            f = self.read() => Some(f),
        };
        if Instant::now() >= deadline {
            None
        } else {
            frame
        }
    }

    /// tungstenite queued a pong: try to write it now, without waiting. While writes stay
    /// blocked (the server does not read), pongs add up; past `PONG_BACKLOG` bytes, fail.
    async fn pong_queued(&mut self, payload: usize) -> Frame {
        let ws = &mut self.ws;
        let flushed = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *ws).poll_flush(cx)));
        match flushed.await {
            Poll::Ready(Ok(())) => {
                self.pong_backlog = 0;
                Frame::Control(Control::Ping(payload))
            }
            Poll::Ready(Err(e)) => Frame::Error(classify(&e, Phase::Send, &self.origin)),
            Poll::Pending => {
                // A masked pong: 2 header bytes, 4 of mask, the ping's payload (≤ 125 bytes).
                self.pong_backlog += payload + 6;
                if self.pong_backlog <= PONG_BACKLOG {
                    return Frame::Control(Control::Ping(payload));
                }
                Frame::Error(self.fail(
                    ErrorKind::TooLarge,
                    Phase::Send,
                    format!(
                        "the server is not reading: pongs to its pings fill our write buffer \
                         ({} bytes waiting, limit {})",
                        self.pong_backlog,
                        human_size(PONG_BACKLOG)
                    ),
                ))
            }
        }
    }

    /// The server's close frame: its code, unless it is one that may not be sent (tungstenite
    /// shows those as an invented 1002; the raw code comes from the frame tracker).
    fn closed(&self, frame: Option<CloseFrame>) -> Frame {
        if let Some(Some(raw)) = self.ws.get_ref().track.close_code() {
            if !CloseCode::from(raw).is_allowed() {
                return Frame::Error(self.fail(
                    ErrorKind::WsProtocol,
                    Phase::Frame,
                    format!(
                        "frame rejected: the server's close frame has code {raw}, which may not \
                         be sent in a close frame (RFC 6455 §7.4)"
                    ),
                ));
            }
        }
        match frame {
            None => Frame::Closed {
                code: None,
                how: "the server sent a close frame without a code".into(),
            },
            Some(f) => {
                let code = u16::from(f.code);
                let reason = crate::metrics::redact::snippet(f.reason.as_bytes(), 80);
                let how = if reason.is_empty() {
                    format!("the server closed the WebSocket with code {code}")
                } else {
                    format!("the server closed the WebSocket with code {code} ({reason})")
                };
                Frame::Closed {
                    code: Some(code),
                    how,
                }
            }
        }
    }

    /// Sends a text frame, waiting at most until `deadline` for the server to take it.
    pub async fn send(
        &mut self,
        text: String,
        deadline: Deadline,
        what: What<'_>,
    ) -> Result<(), Failure> {
        let len = text.len();
        if len > self.max_message {
            return Err(self.fail(
                ErrorKind::TooLarge,
                Phase::Send,
                format!(
                    "{what} is {len} bytes, over the limit of {} (ws.max_message)",
                    human_size(self.max_message)
                ),
            ));
        }
        let sent = self.ws.send(Message::Text(text.into()));
        match tokio::time::timeout_at(deadline.at, sent).await {
            Ok(Ok(())) => {
                self.pong_backlog = 0;
                Ok(())
            }
            Ok(Err(e)) => Err(classify(&e, Phase::Send, &self.origin)),
            Err(_) => Err(self.fail(
                ErrorKind::Timeout,
                Phase::Send,
                format!("{what} ({len} bytes) was not taken within {deadline}: the server is not reading"),
            )),
        }
    }

    /// The closing handshake with `code`, within `deadline`: our close frame out, the server's
    /// back. Each frame read on the way gives the deadline a turn. A connection already ended
    /// is closed: that is not a failure.
    pub async fn close(&mut self, code: u16, deadline: Deadline) -> Result<(), Failure> {
        let timeout = |me: &Self, what: &str| {
            me.fail(
                ErrorKind::Timeout,
                Phase::Close,
                format!("the closing handshake did not end within {deadline}: {what}"),
            )
        };
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: "".into(),
        };
        let sent = self.ws.send(Message::Close(Some(frame)));
        match tokio::time::timeout_at(deadline.at, sent).await {
            Err(_) => {
                return Err(timeout(
                    self,
                    "our close frame was not taken (the server is not reading)",
                ))
            }
            Ok(Err(_)) => return Ok(()),
            Ok(Ok(())) => {}
        }
        loop {
            match self.read_by(deadline.at).await {
                None => return Err(timeout(self, "no close frame came back")),
                Some(Frame::Text(_) | Frame::Control(_)) => {}
                // The server's close, or the connection is over: nothing is left to close.
                Some(Frame::Closed { .. } | Frame::Error(_)) => return Ok(()),
            }
        }
    }
}

#[cfg(test)]
mod tests;
