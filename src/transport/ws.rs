//! WebSocket client for one virtual user: connect with typed errors, send text, read frames.
//!
//! Buffers are kept small (a few KiB) so that a hundred thousand open sockets stay cheap; the
//! event type of a frame is read with a borrowing parse that allocates nothing.

use std::borrow::Cow;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{io_kind, tcp_connect};
use crate::metrics::errors::ErrorKind;

pub type Stream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Socket buffer sizes: frames in this protocol are small JSON documents.
pub fn config() -> WebSocketConfig {
    let mut c = WebSocketConfig::default();
    c.read_buffer_size = 4 * 1024;
    c.write_buffer_size = 0;
    c.max_message_size = Some(16 << 20);
    c.max_frame_size = Some(16 << 20);
    c
}

/// Opens a WebSocket: TCP (and TLS for wss) connect, then the upgrade, all within `timeout`.
pub async fn connect(
    url: &str,
    headers: http::HeaderMap,
    timeout: Duration,
    bind: Option<std::net::IpAddr>,
) -> Result<Stream, ErrorKind> {
    match tokio::time::timeout(timeout, connect_inner(url, headers, bind)).await {
        Ok(r) => r,
        Err(_) => Err(ErrorKind::Timeout),
    }
}

async fn connect_inner(
    url: &str,
    headers: http::HeaderMap,
    bind: Option<std::net::IpAddr>,
) -> Result<Stream, ErrorKind> {
    let mut request = url.into_client_request().map_err(|_| ErrorKind::Io)?;
    let (host, port) = {
        let uri = request.uri();
        let tls = uri.scheme_str() == Some("wss");
        let host = uri.host().ok_or(ErrorKind::Io)?.to_string();
        (host, uri.port_u16().unwrap_or(if tls { 443 } else { 80 }))
    };
    request.headers_mut().extend(headers);
    let tcp = tcp_connect(&host, port, bind).await?;
    match tokio_tungstenite::client_async_tls_with_config(request, tcp, Some(config()), None).await
    {
        Ok((stream, _response)) => Ok(stream),
        Err(e) => Err(classify(&e)),
    }
}

fn classify(e: &tungstenite::Error) -> ErrorKind {
    match e {
        tungstenite::Error::Http(resp) => ErrorKind::WsRejected(resp.status().as_u16()),
        tungstenite::Error::Tls(_) => ErrorKind::Tls,
        tungstenite::Error::Io(io) => io_kind(io),
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
            ErrorKind::WsClosed(None)
        }
        _ => ErrorKind::Io,
    }
}

/// What reading the socket produced.
pub enum Frame {
    /// A text (or binary) frame.
    Text(tungstenite::Utf8Bytes),
    /// The server closed (with its close code, if it sent one) or the stream ended.
    Closed(Option<u16>),
}

/// Reads the next data frame; control frames are handled by tungstenite (pings answered).
pub async fn read(stream: &mut Stream) -> Frame {
    loop {
        match stream.next().await {
            Some(Ok(Message::Text(t))) => return Frame::Text(t),
            Some(Ok(Message::Binary(b))) => {
                return Frame::Text(tungstenite::Utf8Bytes::try_from(b).unwrap_or_default())
            }
            Some(Ok(Message::Close(frame))) => {
                return Frame::Closed(frame.map(|f| u16::from(f.code)))
            }
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Frame::Closed(None),
        }
    }
}

/// Sends a text frame.
pub async fn send(stream: &mut Stream, text: String) -> Result<(), ErrorKind> {
    stream
        .send(Message::Text(text.into()))
        .await
        .map_err(|e| classify(&e))
}

/// Closes with `code` and waits (bounded) for the server's close.
pub async fn close(stream: &mut Stream, code: u16, timeout: Duration) -> Result<(), ErrorKind> {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: "".into(),
    };
    if stream.close(Some(frame)).await.is_err() {
        return Ok(()); // already closed by the peer: nothing left to do
    }
    let drain = async { while let Some(Ok(_)) = stream.next().await {} };
    tokio::time::timeout(timeout, drain)
        .await
        .map_err(|_| ErrorKind::Timeout)
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
