//! WebSocket tests: auth transports, auth failure, subprotocol rejection, envelopes, phased
//! handshake, ping/heartbeat, junk frames and the per-user connection limit.

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;

use super::*;
use crate::mock::{Envelope, Fault, Handshake};

#[tokio::test]
async fn mock_ws_auth_via_subprotocol_header_and_query() {
    let srv = start(cfg()).await;
    let offer = format!("jwt.{}", token("user-a"));
    let (mut ws, proto) =
        connect_with(&srv, "/ws", Some(&format!("agent_chat, {offer}")), None).await;
    assert_eq!(
        proto.as_deref(),
        Some(offer.as_str()),
        "token-bearing offer echoed exactly"
    );
    let welcome = next_json(&mut ws).await;
    assert_eq!(welcome["type"], "connection_established");
    assert!(welcome["data"]["connection_id"].is_string());
    assert_eq!(welcome["data"]["user_id"], "user-a");
    assert_eq!(welcome["data"]["golden_path_events"], json!(GOLDEN));

    let (mut ws, proto) = connect_with(
        &srv,
        "/api/v1/websocket",
        None,
        Some(&token("user-bcdefghij")),
    )
    .await;
    assert_eq!(proto, None);
    assert_eq!(next_json(&mut ws).await["data"]["user_id"], "user-bcd...");

    let path = format!("/ws?mode=main&token={}", token("user-c"));
    let (mut ws, _) = connect_with(&srv, &path, Some("jwt-auth"), None).await;
    assert_eq!(next_json(&mut ws).await["type"], "connection_established");
    assert_eq!(srv.stats().ws_connections, 3);
    srv.shutdown().await;
}

#[tokio::test]
async fn mock_ws_bad_token_gets_auth_failed_then_1008() {
    let srv = start(cfg()).await;
    let forged = {
        let t = token("user-a");
        format!("{}x", &t[..t.len() - 1])
    };
    for (protocols, bearer) in [
        (None, None),
        (Some(format!("jwt.{forged}")), None),
        (None, Some("garbage".to_string())),
    ] {
        let (mut ws, _) = connect_with(&srv, "/ws", protocols.as_deref(), bearer.as_deref()).await;
        let err = next_json(&mut ws).await;
        assert_eq!(err["type"], "error_message");
        assert_eq!(err["error_code"], "AUTH_FAILED");
        assert!(err["error_message"]
            .as_str()
            .is_some_and(|m| m.starts_with("WebSocket authentication failed.")));
        assert!(err["timestamp"].is_f64());
        assert_eq!(next_frame(&mut ws).await, Frame::Close(Some(1008)));
    }
    let s = srv.stats();
    assert_eq!((s.ws_auth_failures, s.ws_connections), (3, 0));
    srv.shutdown().await;
}

#[tokio::test]
async fn mock_ws_unsupported_subprotocol_closes_1003() {
    let srv = start(cfg()).await;
    let mut tcp = TcpStream::connect(srv.addr()).await.expect("connect");
    let req =
        "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
               Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
               Sec-WebSocket-Protocol: chat, superchat\r\n\r\n";
    tcp.write_all(req.as_bytes()).await.expect("write");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(tcp.read_u8().await.expect("101 response"));
    }
    let head = String::from_utf8_lossy(&head).to_string();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{head}");
    assert!(!head.to_ascii_lowercase().contains("sec-websocket-protocol"));
    let mut ws =
        WebSocketStream::from_raw_socket(MaybeTlsStream::Plain(tcp), Role::Client, None).await;
    assert_eq!(next_frame(&mut ws).await, Frame::Close(Some(1003)));
    srv.shutdown().await;
}

/// Where an envelope puts the event fields.
fn fields(v: &Value, envelope: Envelope) -> &Value {
    match envelope {
        Envelope::Flat => v,
        Envelope::Data | Envelope::SystemMessage => &v["data"],
        Envelope::Payload => &v["payload"],
    }
}

#[tokio::test]
async fn mock_each_envelope_sends_the_golden_five_in_order() {
    for envelope in [
        Envelope::Flat,
        Envelope::Data,
        Envelope::Payload,
        Envelope::SystemMessage,
    ] {
        let srv = start(MockConfig {
            envelope,
            thinking: 1,
            ..cfg()
        })
        .await;
        let offer = format!("jwt.{}", token("user-env"));
        let (mut ws, _) = connect_with(&srv, "/ws", Some(&offer), None).await;
        let welcome = next_json(&mut ws).await;
        assert_eq!(
            event_type(&welcome),
            "connection_established",
            "{envelope:?}"
        );
        user_message(&mut ws, "thr_1", "run_1").await;
        let frames = read_flow(&mut ws).await;
        assert_eq!(types(&frames), GOLDEN, "{envelope:?}");
        for (f, want) in frames.iter().zip(GOLDEN) {
            let Frame::Json(v) = f else { unreachable!() };
            if envelope == Envelope::SystemMessage {
                assert_eq!(v["type"], "system_message");
                assert_eq!(v["data"]["event"], want);
                assert_eq!(v["data"]["type"], want);
            } else {
                assert_eq!(v["type"], want, "{envelope:?}: {v}");
            }
            let run_id = match envelope {
                Envelope::Data => &v["run_id"],
                _ => &fields(v, envelope)["run_id"],
            };
            assert_eq!(run_id, "run_1", "{envelope:?}: {v}");
            let thread = match envelope {
                Envelope::Data => &v["thread_id"],
                _ => &fields(v, envelope)["thread_id"],
            };
            assert_eq!(thread, "thr_1", "{envelope:?}: {v}");
            assert!(
                fields(v, envelope)["status"].is_string(),
                "{envelope:?}: {v}"
            );
        }
        let Frame::Json(thinking) = &frames[1] else {
            unreachable!()
        };
        assert!(fields(thinking, envelope)["reasoning"].is_string());
        let Frame::Json(done) = &frames[4] else {
            unreachable!()
        };
        assert!(fields(done, envelope)["final_response"].is_string());
        let Frame::Json(tool) = &frames[3] else {
            unreachable!()
        };
        assert_eq!(fields(tool, envelope)["tool_name"], "cost_query");
        if envelope == Envelope::Flat {
            assert_eq!(done["critical"], true);
        }
        assert_eq!(srv.stats().flows, 1);
        srv.shutdown().await;
    }
}

#[tokio::test]
async fn mock_phased_handshake_drops_messages_before_ack() {
    let srv = start(MockConfig {
        handshake: Handshake::Phased,
        thinking: 1,
        tools: 0,
        ..cfg()
    })
    .await;
    let offer = format!("jwt.{}", token("user-p"));
    let (mut ws, _) = connect_with(&srv, "/ws", Some(&offer), None).await;
    assert_eq!(next_json(&mut ws).await["type"], "connection_established");
    let hs = next_json(&mut ws).await;
    assert_eq!(hs["type"], "handshake_response");
    assert_eq!(hs["message"], "Handshake complete");
    let thread = hs["thread_id"].as_str().expect("thread_id").to_string();
    assert!(thread.starts_with("thr_") && hs["run_id"].is_string());
    assert!(hs["request_id"].is_string() && hs["session_token"].is_string());

    // Lost: sent before the acknowledgement. A wrong thread id does not complete the handshake.
    send_json(
        &mut ws,
        json!({"type": "user_message", "payload": {"content": "early"}}),
    )
    .await;
    send_json(
        &mut ws,
        json!({"type": "handshake_acknowledged", "thread_id": "thr_wrong"}),
    )
    .await;
    send_json(
        &mut ws,
        json!({"type": "user_message", "payload": {"content": "still early"}}),
    )
    .await;
    send_json(
        &mut ws,
        json!({"type": "handshake_acknowledged", "thread_id": thread}),
    )
    .await;
    let done = next_json(&mut ws).await;
    assert_eq!(done["type"], "handshake_complete");
    assert_eq!(done["thread_id"], thread.as_str());

    send_json(
        &mut ws,
        json!({"type": "user_message", "payload": {"content": "now"}}),
    )
    .await;
    let frames = read_flow(&mut ws).await;
    assert_eq!(
        types(&frames),
        ["agent_started", "agent_thinking", "agent_completed"]
    );
    let Frame::Json(started) = &frames[0] else {
        unreachable!()
    };
    assert_eq!(
        started["thread_id"],
        thread.as_str(),
        "flow uses the handshake thread"
    );
    assert_eq!(srv.stats().flows, 1);
    srv.shutdown().await;
}

#[tokio::test]
async fn mock_ping_heartbeat_and_junk_frames() {
    let srv = start(MockConfig {
        // Stalled forever after agent_started: the socket must still answer.
        fault: Some(Fault::Stall(None)),
        ..cfg()
    })
    .await;
    let mut ws = connect_as(&srv, "user-ping").await;
    use futures_util::SinkExt;
    for junk in [
        "<html>",
        "[1,2]",
        "{\"type\":7}",
        "{\"type\":\"nonsense\"}",
        "null",
    ] {
        ws.send(Message::text(junk)).await.expect("send junk");
    }
    ws.send(Message::binary(vec![0u8, 159, 146, 150]))
        .await
        .expect("send binary");
    send_json(&mut ws, json!({"type": "ping"})).await;
    let pong = next_json(&mut ws).await;
    assert_eq!(pong["type"], "pong");
    assert!(pong["timestamp"].is_f64() && pong["data"]["timestamp"].is_f64());

    user_message(&mut ws, "thr_p", "run_p").await;
    assert_eq!(event_type(&next_json(&mut ws).await), "agent_started");
    send_json(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(
        next_json(&mut ws).await["type"],
        "pong",
        "answered during a stalled flow"
    );
    send_json(&mut ws, json!({"type": "heartbeat"})).await;
    let ack = next_json(&mut ws).await;
    assert_eq!(ack["type"], "heartbeat_ack");
    assert_eq!(ack["data"]["status"], "healthy");
    ws.close(None).await.expect("client close");
    assert!(matches!(
        next_frame(&mut ws).await,
        Frame::Close(_) | Frame::End
    ));
    srv.shutdown().await;
}

#[tokio::test]
async fn mock_connection_limit_per_user() {
    let srv = start(MockConfig {
        max_connections_per_user: 1,
        ..cfg()
    })
    .await;
    let _first = connect_as(&srv, "user-l").await;
    let _other_user = connect_as(&srv, "user-m").await;
    let offer = format!("jwt.{}", token("user-l"));
    let (mut second, _) = connect_with(&srv, "/ws", Some(&offer), None).await;
    let err = next_json(&mut second).await;
    assert_eq!(err["type"], "error_message");
    assert_eq!(err["error_code"], "CONNECTION_LIMIT");
    assert_eq!(next_frame(&mut second).await, Frame::Close(Some(1008)));
    let s = srv.stats();
    assert_eq!((s.ws_connections, s.limit_rejections), (2, 1));
    srv.shutdown().await;
}

#[tokio::test]
async fn mock_delay_applies_before_each_event() {
    let delay = std::time::Duration::from_millis(20);
    let srv = start(MockConfig {
        delay,
        thinking: 1,
        tools: 0,
        ..cfg()
    })
    .await;
    let mut ws = connect_as(&srv, "user-d").await;
    let t0 = std::time::Instant::now();
    user_message(&mut ws, "thr_d", "run_d").await;
    let frames = read_flow(&mut ws).await;
    assert_eq!(frames.len(), 3);
    assert!(
        t0.elapsed() >= delay * 3,
        "three events, each after the delay"
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn mock_shutdown_ends_open_connections() {
    let srv = start(cfg()).await;
    let mut ws = connect_as(&srv, "user-s").await;
    srv.shutdown().await;
    assert!(matches!(
        next_frame(&mut ws).await,
        Frame::End | Frame::Close(_)
    ));
}
