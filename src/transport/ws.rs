//! WebSocket client for one virtual user: connect with typed errors, send text, read frames.
//!
//! The opening handshake is done here, on the user's own connection; tungstenite then frames the
//! stream. Buffers are kept small (a few KiB) so that a hundred thousand open sockets stay cheap;
//! the event type of a frame is read with a borrowing parse that allocates nothing.

use std::borrow::Cow;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;

use super::conn::{parse_url, push_headers, Conn, Target, WS};
use super::io_failure;
use crate::metrics::errors::{ErrorKind, Failure, Phase};

pub type Stream = WebSocketStream<Conn>;

/// Largest upgrade response head read.
const MAX_HEAD: usize = 16 * 1024;

/// Socket buffer sizes: frames in this protocol are small JSON documents.
pub fn config() -> WebSocketConfig {
    let mut c = WebSocketConfig::default();
    // 2 KiB holds a few events; a larger frame grows the buffer as it needs. Every open socket
    // keeps this buffer, so it is most of an idle user's memory.
    c.read_buffer_size = 2 * 1024;
    c.write_buffer_size = 0;
    c.max_message_size = Some(16 << 20);
    c.max_frame_size = Some(16 << 20);
    c
}

/// What to send with the upgrade request.
pub struct Upgrade<'a> {
    /// Extra headers (already rendered; no line breaks).
    pub headers: &'a [(http::HeaderName, String)],
    /// The `Sec-WebSocket-Protocol` offer, comma-separated; empty for none.
    pub subprotocols: &'a str,
}

/// Opens a WebSocket: TCP (and TLS for wss) connect, then the upgrade, all within `timeout`.
pub async fn connect(
    url: &str,
    upgrade: &Upgrade<'_>,
    timeout: Duration,
    bind: Option<std::net::IpAddr>,
) -> Result<Stream, Failure> {
    let mut phase = Phase::Connect;
    match tokio::time::timeout(timeout, connect_inner(url, upgrade, bind, &mut phase)).await {
        Ok(r) => r,
        Err(_) => {
            let origin = parse_url(url, WS)
                .map(|t| t.label().to_string())
                .unwrap_or_default();
            Err(Failure::new(ErrorKind::Timeout, phase).cause(format!(
                "{origin}: not connected and upgraded within {} (waiting in {phase})",
                crate::duration::human(timeout)
            )))
        }
    }
}

/// The client side of the RFC 6455 opening handshake, on the user's own connection: one write,
/// a response head parsed with `httparse`, and the bytes after it (often the server's first
/// frame) handed to tungstenite in an exactly-sized buffer — its own handshake would leave a
/// 4 KiB buffer behind in every open socket.
async fn connect_inner(
    url: &str,
    upgrade: &Upgrade<'_>,
    bind: Option<std::net::IpAddr>,
    phase: &mut Phase,
) -> Result<Stream, Failure> {
    let target = parse_url(url, WS)?;
    let label = target.label();
    let mut conn = Conn::open(&target, bind).await?;
    let key = generate_key();
    let mut out = Vec::with_capacity(256 + url.len() + upgrade.subprotocols.len());
    write_upgrade(&mut out, &target, &key, upgrade);
    *phase = Phase::Request;
    let io = |e: std::io::Error, phase: Phase| io_failure(&e, phase, &label);
    conn.write_all(&out)
        .await
        .map_err(|e| io(e, Phase::Request))?;
    conn.flush().await.map_err(|e| io(e, Phase::Request))?;
    *phase = Phase::Upgrade;
    let mut buf = out;
    buf.clear();
    let head = loop {
        if buf.capacity() - buf.len() < 512 {
            buf.reserve(1024);
        }
        if conn
            .read_buf(&mut buf)
            .await
            .map_err(|e| io(e, Phase::Upgrade))?
            == 0
        {
            return Err(
                Failure::new(ErrorKind::ConnectionClosed, Phase::Upgrade).cause(format!(
                    "{label}: the server closed the connection before the upgrade response{}",
                    if buf.is_empty() { "" } else { " was complete" }
                )),
            );
        }
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut resp = httparse::Response::new(&mut headers);
        match resp.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => {
                check_response(&resp, &key, upgrade.subprotocols, &buf[len..]).map_err(|f| {
                    let cause = format!("{label}: {}", f.cause_text());
                    f.cause(cause)
                })?;
                break len;
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => continue,
            Ok(httparse::Status::Partial) => {
                return Err(
                    Failure::new(ErrorKind::TooLarge, Phase::Upgrade).cause(format!(
                        "{label}: upgrade response head over {MAX_HEAD} bytes"
                    )),
                )
            }
            Err(e) => {
                let kind = if e == httparse::Error::TooManyHeaders {
                    ErrorKind::TooLarge
                } else {
                    ErrorKind::HttpProtocol
                };
                return Err(Failure::new(kind, Phase::Upgrade)
                    .cause(format!("{label}: invalid upgrade response: {e}")));
            }
        }
    };
    let tail = buf[head..].to_vec();
    drop(buf);
    Ok(WebSocketStream::from_partially_read(conn, tail, Role::Client, Some(config())).await)
}

fn write_upgrade(out: &mut Vec<u8>, target: &Target<'_>, key: &str, upgrade: &Upgrade<'_>) {
    out.extend_from_slice(b"GET ");
    out.extend_from_slice(target.path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    out.extend_from_slice(target.authority.as_bytes());
    out.extend_from_slice(
        b"\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-version: 13\r\nsec-websocket-key: ",
    );
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\r\n");
    if !upgrade.subprotocols.is_empty() {
        out.extend_from_slice(b"sec-websocket-protocol: ");
        out.extend_from_slice(upgrade.subprotocols.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    push_headers(out, upgrade.headers);
    out.extend_from_slice(b"\r\n");
}

/// RFC 6455 §4.1: a 101 that upgrades to websocket, with the accept key derived from ours, and
/// no subprotocol we did not offer (none at all is allowed, as browsers allow it). `rest` is
/// what followed the head (for a refusal, the start of its body, quoted in the cause).
fn check_response(
    resp: &httparse::Response<'_, '_>,
    key: &str,
    offered: &str,
    rest: &[u8],
) -> Result<(), Failure> {
    let status = resp.code.unwrap_or(0);
    if status != 101 {
        let body = String::from_utf8_lossy(&rest[..rest.len().min(120)]);
        let body = body.trim();
        let cause = if body.is_empty() {
            format!("HTTP {status} instead of 101 Switching Protocols")
        } else {
            format!("HTTP {status} instead of 101 Switching Protocols: {body}")
        };
        return Err(Failure::new(ErrorKind::WsRejected(status), Phase::Upgrade).cause(cause));
    }
    let header = |name: &str| {
        resp.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
            .map(str::trim)
    };
    let upgrade_ok = header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let connection_ok = header("connection").is_some_and(|v| {
        v.split(',')
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
    });
    let accept_ok =
        header("sec-websocket-accept") == Some(derive_accept_key(key.as_bytes()).as_str());
    let protocol_ok = match header("sec-websocket-protocol") {
        None => true,
        Some(chosen) => offered.split(',').any(|p| p.trim() == chosen),
    };
    let fail = |why: String| Err(Failure::new(ErrorKind::WsHandshake, Phase::Upgrade).cause(why));
    if !upgrade_ok {
        return fail("101 without `Upgrade: websocket`".into());
    }
    if !connection_ok {
        return fail("101 without `Connection: Upgrade`".into());
    }
    if !accept_ok {
        return fail("wrong Sec-WebSocket-Accept (not derived from our key)".into());
    }
    if !protocol_ok {
        return fail("the server chose a subprotocol we did not offer".into());
    }
    Ok(())
}

/// A tungstenite error, in `phase`, as a failure: a protocol violation we rejected, a limit, an
/// I/O error, or the end of the connection.
pub fn classify(e: &tungstenite::Error, phase: Phase) -> Failure {
    use tungstenite::error::{CapacityError, Error as E};
    match e {
        E::Io(io) => {
            Failure::new(super::io_kind(io), phase).cause(format!("WebSocket I/O error: {io}"))
        }
        E::ConnectionClosed | E::AlreadyClosed => Failure::new(ErrorKind::WsClosed(None), phase)
            .cause("the connection was already closed"),
        E::Capacity(CapacityError::MessageTooLong { size, max_size }) => {
            Failure::new(ErrorKind::TooLarge, phase).cause(format!(
                "WebSocket message of {size} bytes over the limit of {max_size}"
            ))
        }
        E::Capacity(c) => Failure::new(ErrorKind::TooLarge, phase).cause(c.to_string()),
        E::WriteBufferFull(_) => Failure::new(ErrorKind::TooLarge, phase)
            .cause("the write buffer is full: the server is not reading"),
        E::Utf8 => {
            Failure::new(ErrorKind::WsProtocol, phase).cause("invalid UTF-8 in a text frame")
        }
        E::Protocol(p) => {
            Failure::new(ErrorKind::WsProtocol, phase).cause(format!("frame rejected: {p}"))
        }
        E::Tls(t) => Failure::new(ErrorKind::Tls, phase).cause(t.to_string()),
        E::Http(resp) => Failure::new(ErrorKind::WsRejected(resp.status().as_u16()), phase),
        other => Failure::new(ErrorKind::WsProtocol, phase).cause(other.to_string()),
    }
}

/// What reading the socket produced.
pub enum Frame {
    /// A text (or binary) frame.
    Text(tungstenite::Utf8Bytes),
    /// The server closed (with its close code, if it sent one) or the stream ended.
    Closed(Option<u16>),
    /// Reading failed: a frame we rejected, a limit, an I/O error.
    Error(Failure),
}

/// Reads the next data frame; control frames are handled by tungstenite (pings answered).
pub async fn read(stream: &mut Stream) -> Frame {
    loop {
        match stream.next().await {
            Some(Ok(Message::Text(t))) => return Frame::Text(t),
            Some(Ok(Message::Binary(b))) => {
                return match tungstenite::Utf8Bytes::try_from(b) {
                    Ok(t) => Frame::Text(t),
                    Err(_) => Frame::Error(
                        Failure::new(ErrorKind::WsProtocol, Phase::Frame)
                            .cause("a binary frame that is not UTF-8 JSON"),
                    ),
                }
            }
            Some(Ok(Message::Close(frame))) => {
                return Frame::Closed(frame.map(|f| u16::from(f.code)))
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Frame::Error(classify(&e, Phase::Frame)),
            None => return Frame::Closed(None),
        }
    }
}

/// Sends a text frame.
pub async fn send(stream: &mut Stream, text: String) -> Result<(), Failure> {
    stream
        .send(Message::Text(text.into()))
        .await
        .map_err(|e| classify(&e, Phase::Send))
}

/// Closes with `code` and waits (bounded) for the server's close.
pub async fn close(stream: &mut Stream, code: u16, timeout: Duration) -> Result<(), Failure> {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: "".into(),
    };
    let handshake = async {
        if stream.close(Some(frame)).await.is_err() {
            return; // already closed by the peer: nothing left to do
        }
        while let Some(Ok(_)) = stream.next().await {}
    };
    tokio::time::timeout(timeout, handshake).await.map_err(|_| {
        Failure::new(ErrorKind::Timeout, Phase::Close).cause(format!(
            "the server did not complete the closing handshake within {}",
            crate::duration::human(timeout)
        ))
    })
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, rename = "type")]
    ty: Option<Cow<'a, str>>,
    #[serde(borrow)]
    data: Option<&'a serde_json::value::RawValue>,
}

#[derive(Deserialize)]
struct Wrapped<'a> {
    #[serde(borrow)]
    event: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "type")]
    ty: Option<Cow<'a, str>>,
}

/// Reads a frame's event type: top-level `type`, unwrapped from a wrapper (`system_message`...)
/// whose `data.event` (or `data.type`) names the event. `None`: not JSON or no type.
pub fn event_type<'a>(text: &'a str, wrappers: &[String]) -> Option<Cow<'a, str>> {
    let env: Envelope<'a> = serde_json::from_str(text).ok()?;
    let ty = env.ty?;
    if wrappers.iter().any(|w| *w == ty) {
        if let Some(raw) = env.data {
            if let Ok(inner) = serde_json::from_str::<Wrapped<'a>>(raw.get()) {
                if let Some(name) = inner.event.or(inner.ty) {
                    // A `Cow::Borrowed` from `raw` borrows `text`, so it lives long enough.
                    return Some(name);
                }
            }
        }
    }
    Some(ty)
}

/// Looks a JSON pointer up in the frame, merged as top level ∪ `payload` ∪ `data`.
pub fn capture(value: &serde_json::Value, pointer: &str) -> Option<String> {
    let found = value
        .pointer(pointer)
        .or_else(|| value.get("payload").and_then(|p| p.pointer(pointer)))
        .or_else(|| value.get("data").and_then(|d| d.pointer(pointer)))?;
    Some(match found {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wrappers() -> Vec<String> {
        crate::plan::Envelope::default().wrappers
    }

    #[test]
    fn reads_type_from_each_envelope() {
        let w = wrappers();
        assert_eq!(
            event_type(r#"{"type":"agent_started","x":1}"#, &w).as_deref(),
            Some("agent_started")
        );
        assert_eq!(
            event_type(r#"{"data":{"a":[1,2]},"type":"tool_completed"}"#, &w).as_deref(),
            Some("tool_completed")
        );
        assert_eq!(
            event_type(
                r#"{"type":"system_message","data":{"event":"agent_thinking","x":{}}}"#,
                &w
            )
            .as_deref(),
            Some("agent_thinking")
        );
        assert_eq!(
            event_type(
                r#"{"type":"system_message","data":{"type":"agent_completed"}}"#,
                &w
            )
            .as_deref(),
            Some("agent_completed")
        );
        assert_eq!(
            event_type(r#"{"type":"system_message","data":"text"}"#, &w).as_deref(),
            Some("system_message")
        );
        assert_eq!(event_type("<html>oops", &w), None);
        assert_eq!(event_type(r#"{"no":"type"}"#, &w), None);
        assert_eq!(event_type(r#"[1,2]"#, &w), None);
        assert_eq!(
            event_type(r#"{"type":"a\"b"}"#, &w).as_deref(),
            Some("a\"b")
        );
    }

    fn check(head: &str, offered: &str) -> Result<(), ErrorKind> {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let text = head.replace("{accept}", &derive_accept_key(key.as_bytes()));
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut resp = httparse::Response::new(&mut headers);
        assert!(resp.parse(text.as_bytes()).unwrap().is_complete());
        check_response(&resp, key, offered, b"").map_err(|f| f.kind)
    }

    #[test]
    fn upgrade_responses_are_checked_as_rfc_6455_says() {
        let ok = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n";
        assert_eq!(check(&format!("{ok}\r\n"), ""), Ok(()));
        assert_eq!(
            check(&format!("{ok}\r\n"), "jwt.abc"),
            Ok(()),
            "a server may pick no subprotocol"
        );
        assert_eq!(
            check(
                &format!("{ok}Sec-WebSocket-Protocol: jwt.abc\r\n\r\n"),
                "jwt.abc, x"
            ),
            Ok(())
        );
        assert_eq!(
            check(
                &format!("{ok}Sec-WebSocket-Protocol: other\r\n\r\n"),
                "jwt.abc"
            ),
            Err(ErrorKind::WsHandshake),
            "a subprotocol we did not offer fails the connection"
        );
        assert_eq!(
            check("HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n", ""),
            Err(ErrorKind::WsRejected(401))
        );
        let wrong_accept = ok.replace("{accept}", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
        assert_eq!(
            check(&format!("{wrong_accept}\r\n"), ""),
            Err(ErrorKind::WsHandshake)
        );
        let no_upgrade = ok.replace("Upgrade: WebSocket\r\n", "");
        assert_eq!(
            check(&format!("{no_upgrade}\r\n"), ""),
            Err(ErrorKind::WsHandshake)
        );
    }

    #[test]
    fn upgrade_request_carries_key_protocols_and_headers() {
        let t = parse_url("ws://127.0.0.1:8000/ws?token=x", WS).unwrap();
        let headers = [(http::header::AUTHORIZATION, "Bearer t".to_string())];
        let upgrade = Upgrade {
            headers: &headers,
            subprotocols: "jwt.t",
        };
        let mut out = Vec::new();
        write_upgrade(&mut out, &t, "KEY", &upgrade);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("GET /ws?token=x HTTP/1.1\r\nhost: 127.0.0.1:8000\r\n"));
        for line in [
            "upgrade: websocket",
            "connection: Upgrade",
            "sec-websocket-version: 13",
            "sec-websocket-key: KEY",
            "sec-websocket-protocol: jwt.t",
            "authorization: Bearer t",
        ] {
            assert!(text.contains(&format!("{line}\r\n")), "{line} in {text}");
        }
        assert!(text.ends_with("\r\n\r\n"));
    }

    #[test]
    fn capture_merges_top_payload_data() {
        let v: serde_json::Value = serde_json::from_str(
            r#"{"type":"x","thread_id":"top","payload":{"run_id":"p"},"data":{"run_id":"d","n":3}}"#,
        )
        .unwrap();
        assert_eq!(capture(&v, "/thread_id").as_deref(), Some("top"));
        assert_eq!(capture(&v, "/run_id").as_deref(), Some("p"));
        assert_eq!(capture(&v, "/n").as_deref(), Some("3"));
        assert_eq!(capture(&v, "/missing"), None);
    }
}
