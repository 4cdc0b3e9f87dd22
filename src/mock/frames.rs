//! Server control frames (welcome, handshake, pong, heartbeat ack, errors) as JSON text.
//!
//! Design choice: shapes are copied from protocol.md §3.2–3.4 field for field, including the Gen A
//! quirk that `data.user_id` is cut to 8 characters + "..." (clients must not use it as an id).

use serde_json::json;

use super::clock::{epoch_f64, iso_now};
use super::config::Envelope;

/// The golden-path event list announced in the welcome frame.
const GOLDEN_PATH: [&str; 5] = [
    "agent_started",
    "agent_thinking",
    "tool_executing",
    "tool_completed",
    "agent_completed",
];

/// Gen A truncation of the user id in `connection_established`.
fn short_user(user_id: &str) -> String {
    match user_id.char_indices().nth(8) {
        Some((cut, _)) => format!("{}...", &user_id[..cut]),
        None => user_id.to_string(),
    }
}

/// `connection_established`: Gen A shape, or the early-Sept `system_message` form for that envelope.
pub fn connection_established(envelope: Envelope, user_id: &str, connection_id: &str) -> String {
    if envelope == Envelope::SystemMessage {
        return json!({
            "type": "system_message",
            "data": {
                "event": "connection_established",
                "connection_id": connection_id,
                "user_id": user_id,
                "server_time": iso_now(),
                "config": {"heartbeat_interval": 30, "max_message_size": 8192},
            },
        })
        .to_string();
    }
    json!({
        "type": "connection_established",
        "data": {
            "mode": "main",
            "user_id": short_user(user_id),
            "connection_id": connection_id,
            "golden_path_events": GOLDEN_PATH,
            "features": {"full_business_logic": true, "agent_orchestration": true},
            "timestamp": iso_now(),
        },
        "timestamp": epoch_f64(),
        "server_id": null,
        "correlation_id": null,
    })
    .to_string()
}

/// Gen B `handshake_response`; `thread_id` must come back in `handshake_acknowledged`.
pub fn handshake_response(thread_id: &str, run_id: &str) -> String {
    json!({
        "type": "handshake_response",
        "thread_id": thread_id,
        "run_id": run_id,
        "request_id": format!("req_{}", hex_id()),
        "session_token": format!("sess_{}", hex_id()),
        "timestamp": iso_now(),
        "message": "Handshake complete",
    })
    .to_string()
}

/// Gen B `handshake_complete`: from now on messages are processed.
pub fn handshake_complete(thread_id: &str, run_id: &str) -> String {
    json!({
        "type": "handshake_complete",
        "thread_id": thread_id,
        "run_id": run_id,
        "status": "ready",
        "timestamp": iso_now(),
    })
    .to_string()
}

pub fn pong(user_id: &str) -> String {
    let now = epoch_f64();
    json!({"type": "pong", "data": {"timestamp": now, "user_id": user_id}, "timestamp": now})
        .to_string()
}

pub fn heartbeat_ack(connection_id: &str) -> String {
    let now = epoch_f64();
    json!({
        "type": "heartbeat_ack",
        "data": {"status": "healthy", "connection_id": connection_id, "timestamp": now},
        "timestamp": now,
    })
    .to_string()
}

/// `error_message` frame sent before a policy close.
pub fn error_message(code: &str, message: &str, details: serde_json::Value) -> String {
    json!({
        "type": "error_message",
        "error_code": code,
        "error_message": message,
        "details": details,
        "timestamp": epoch_f64(),
        "recovery_suggestions": null,
    })
    .to_string()
}

/// 16 random hex digits for ids (`thr_…`, `run_…`, connection ids).
pub fn hex_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_id_is_cut_like_gen_a() {
        assert_eq!(short_user("e2e-loadtest-0042"), "e2e-load...");
        assert_eq!(short_user("short"), "short");
        assert_eq!(short_user("ééééééééé"), "éééééééé...");
    }
}
