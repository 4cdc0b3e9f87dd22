//! Tests of the mock target against a real server on 127.0.0.1:0: shared client helpers here,
//! one file per feature (HTTP routes, WebSocket session, faults).
//!
//! Design choice: tests await frames (with a generous timeout only as a hang guard), never sleep.

mod depth;
mod faults;
mod http;
mod ws;

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

use super::jwt::{Keys, TokenKind};
use super::{MockConfig, MockServer};

pub const SECRET: &str = "mock-test-secret";
/// Hang guard for awaiting a frame; a passing test never gets near it.
const FRAME_TIMEOUT: Duration = Duration::from_secs(5);

pub type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A config listening on a free port with the test secret.
pub fn cfg() -> MockConfig {
    MockConfig {
        listen: vec!["127.0.0.1:0".parse().expect("addr")],
        jwt_secret: Some(SECRET.into()),
        ..MockConfig::default()
    }
}

pub async fn start(cfg: MockConfig) -> MockServer {
    MockServer::start(cfg).await.expect("mock starts")
}

/// An access token for `user` signed with the test secret.
pub fn token(user: &str) -> String {
    Keys::new(SECRET.as_bytes(), "development")
        .mint(
            TokenKind::Access,
            user,
            &format!("{user}@example.test"),
            &[],
        )
        .expect("mint")
}

/// One HTTP request; returns the status and the body as JSON (`Null` when not JSON).
pub async fn http(
    srv: &MockServer,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Value) {
    let tcp = TcpStream::connect(srv.addr()).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .expect("http handshake");
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("request");
    let resp = sender.send_request(req).await.expect("response");
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Opens a WebSocket at `path` (query included) with optional subprotocol offer and bearer token.
/// Returns the socket and the subprotocol the server selected.
pub async fn connect_with(
    srv: &MockServer,
    path: &str,
    protocols: Option<&str>,
    bearer: Option<&str>,
) -> (Client, Option<String>) {
    let url = format!("ws://{}{}", srv.addr(), path);
    let mut req = url.into_client_request().expect("ws request");
    if let Some(p) = protocols {
        req.headers_mut().insert(
            "sec-websocket-protocol",
            p.parse().expect("protocol header"),
        );
    }
    if let Some(t) = bearer {
        req.headers_mut().insert(
            "authorization",
            format!("Bearer {t}").parse().expect("auth header"),
        );
    }
    let (ws, resp) = connect_async(req).await.expect("ws connects");
    let proto = resp
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (ws, proto)
}

/// Connects as `user` (token in a `jwt.` subprotocol) and reads the welcome frame.
pub async fn connect_as(srv: &MockServer, user: &str) -> Client {
    let offer = format!("jwt.{}", token(user));
    let (mut ws, _) = connect_with(srv, "/ws", Some(&offer), None).await;
    let welcome = next_json(&mut ws).await;
    assert_eq!(event_type(&welcome), "connection_established", "{welcome}");
    ws
}

/// What the server sent next.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Json(Value),
    /// A text frame that is not JSON.
    Text(String),
    /// A close frame and its code.
    Close(Option<u16>),
    /// The stream ended (or failed) without a close frame.
    End,
}

pub async fn next_frame(ws: &mut Client) -> Frame {
    use futures_util::StreamExt;
    loop {
        let msg = tokio::time::timeout(FRAME_TIMEOUT, ws.next())
            .await
            .expect("a frame within the hang guard");
        return match msg {
            Some(Ok(Message::Text(t))) => match serde_json::from_str(&t) {
                Ok(v) => Frame::Json(v),
                Err(_) => Frame::Text(t.to_string()),
            },
            Some(Ok(Message::Close(c))) => Frame::Close(c.map(|f| f.code.into())),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => Frame::End,
        };
    }
}

pub async fn next_json(ws: &mut Client) -> Value {
    match next_frame(ws).await {
        Frame::Json(v) => v,
        other => panic!("expected a JSON frame, got {other:?}"),
    }
}

pub async fn send_json(ws: &mut Client, v: Value) {
    use futures_util::SinkExt;
    ws.send(Message::text(v.to_string())).await.expect("send");
}

pub async fn user_message(ws: &mut Client, thread: &str, run: &str) {
    let msg = json!({"type": "user_message",
        "payload": {"content": "hi", "thread_id": thread, "run_id": run}});
    send_json(ws, msg).await;
}

/// The event type of a frame in any envelope (top-level `type`, or `data.event` in `system_message`).
pub fn event_type(v: &Value) -> String {
    let t = v["type"].as_str().unwrap_or_default();
    if t == "system_message" {
        return v["data"]["event"].as_str().unwrap_or_default().to_string();
    }
    t.to_string()
}

/// Reads frames until `agent_completed`/`agent_error` (included), a close or the end.
pub async fn read_flow(ws: &mut Client) -> Vec<Frame> {
    let mut frames = Vec::new();
    loop {
        let f = next_frame(ws).await;
        let last = match &f {
            Frame::Json(v) => matches!(event_type(v).as_str(), "agent_completed" | "agent_error"),
            Frame::Text(_) => false,
            Frame::Close(_) | Frame::End => true,
        };
        frames.push(f);
        if last {
            return frames;
        }
    }
}

/// The event types of a flow's frames (non-JSON text as `<text>`, closes as `close:CODE`).
pub fn types(frames: &[Frame]) -> Vec<String> {
    frames
        .iter()
        .map(|f| match f {
            Frame::Json(v) => event_type(v),
            Frame::Text(_) => "<text>".into(),
            Frame::Close(c) => format!("close:{}", c.unwrap_or(0)),
            Frame::End => "end".into(),
        })
        .collect()
}

pub const GOLDEN: [&str; 5] = [
    "agent_started",
    "agent_thinking",
    "tool_executing",
    "tool_completed",
    "agent_completed",
];
