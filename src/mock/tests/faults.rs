//! Fault tests: each flow fault's frames, and the exact-fraction rule over consecutive flows.

use std::time::Duration;

use super::*;
use crate::mock::Fault;

/// Runs `flows` flows on one connection with `fault` at `rate`; returns each flow's event types.
async fn run_flows(
    fault: Fault,
    rate: f64,
    flows: usize,
) -> (Vec<Vec<String>>, crate::mock::MockStats) {
    let srv = start(MockConfig {
        fault: Some(fault),
        fault_rate: rate,
        ..cfg()
    })
    .await;
    let mut ws = connect_as(&srv, "user-f").await;
    let mut out = Vec::new();
    for i in 0..flows {
        user_message(&mut ws, &format!("thr_{i}"), &format!("run_{i}")).await;
        out.push(types(&read_flow(&mut ws).await));
    }
    let stats = srv.stats();
    srv.shutdown().await;
    (out, stats)
}

fn normal() -> Vec<String> {
    [
        "agent_started",
        "agent_thinking",
        "agent_thinking",
        "tool_executing",
        "tool_completed",
        "agent_completed",
    ]
    .map(String::from)
    .to_vec()
}

#[tokio::test]
async fn mock_fault_drop_skips_the_event() {
    let (flows, _) = run_flows(Fault::Drop(crate::mock::flow::Event::ToolCompleted), 1.0, 1).await;
    assert_eq!(
        flows[0],
        [
            "agent_started",
            "agent_thinking",
            "agent_thinking",
            "tool_executing",
            "agent_completed"
        ]
    );
}

#[tokio::test]
async fn mock_fault_reorder_sends_thinking_first() {
    let (flows, _) = run_flows(Fault::Reorder, 1.0, 1).await;
    let mut want = normal();
    want.swap(0, 1);
    assert_eq!(flows[0], want);
}

#[tokio::test]
async fn mock_fault_agent_error_ends_the_flow_and_hits_exact_fraction() {
    let (flows, stats) = run_flows(Fault::AgentError, 0.5, 4).await;
    let error = vec!["agent_started".to_string(), "agent_error".to_string()];
    assert_eq!(flows, [normal(), error.clone(), normal(), error]);
    assert_eq!((stats.flows, stats.faulted_flows), (4, 2));
}

#[tokio::test]
async fn mock_fault_agent_error_frame_uses_the_envelope() {
    let srv = start(MockConfig {
        fault: Some(Fault::AgentError),
        envelope: crate::mock::Envelope::SystemMessage,
        ..cfg()
    })
    .await;
    let mut ws = connect_as(&srv, "user-e").await;
    user_message(&mut ws, "thr_e", "run_e").await;
    let frames = read_flow(&mut ws).await;
    let Some(Frame::Json(err)) = frames.last() else {
        unreachable!()
    };
    assert_eq!(err["type"], "system_message");
    assert_eq!(err["data"]["event"], "agent_error");
    assert!(err["data"]["error_message"].is_string());
    srv.shutdown().await;
}

#[tokio::test]
async fn mock_fault_close_after_first_thinking() {
    let (flows, stats) = run_flows(Fault::Close(1011), 1.0, 1).await;
    assert_eq!(flows[0], ["agent_started", "agent_thinking", "close:1011"]);
    assert_eq!(stats.faulted_flows, 1);
}

#[tokio::test]
async fn mock_fault_non_json_frame_then_normal() {
    let (flows, _) = run_flows(Fault::NonJson, 1.0, 1).await;
    let mut want = normal();
    want.insert(1, "<text>".into());
    assert_eq!(flows[0], want);
}

#[tokio::test]
async fn mock_fault_short_stall_then_continues() {
    let stall = Duration::from_millis(150);
    let t0 = std::time::Instant::now();
    let (flows, _) = run_flows(Fault::Stall(Some(stall)), 1.0, 1).await;
    assert_eq!(flows[0], normal());
    assert!(t0.elapsed() >= stall, "the stall is the point of this test");
}

#[tokio::test]
async fn mock_fault_rate_zero_faults_nothing() {
    let (flows, stats) = run_flows(Fault::Reorder, 0.0, 3).await;
    assert!(flows.iter().all(|f| *f == normal()));
    assert_eq!((stats.flows, stats.faulted_flows), (3, 0));
}

#[tokio::test]
async fn mock_queued_messages_run_one_after_another() {
    let srv = start(MockConfig {
        thinking: 1,
        tools: 0,
        ..cfg()
    })
    .await;
    let mut ws = connect_as(&srv, "user-q").await;
    user_message(&mut ws, "thr_a", "run_a").await;
    user_message(&mut ws, "thr_b", "run_b").await;
    let a = read_flow(&mut ws).await;
    let b = read_flow(&mut ws).await;
    let run_of = |frames: &[Frame]| -> Vec<String> {
        frames
            .iter()
            .filter_map(|f| match f {
                Frame::Json(v) => v["run_id"].as_str().map(str::to_string),
                _ => None,
            })
            .collect()
    };
    assert_eq!(run_of(&a), ["run_a"; 3]);
    assert_eq!(run_of(&b), ["run_b"; 3]);
    assert_eq!(srv.stats().flows, 2);
    srv.shutdown().await;
}
