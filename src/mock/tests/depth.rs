//! Agent-stream depth (issue 9): the counters of what the mock sent (`MockServer::counts`,
//! `GET /__mock/stats`) against what a client received, tool names in turn, measured tool
//! durations, text chunks of documented lengths, and the timestamp forms.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use super::*;
use crate::mock::{Envelope, Fault, MockCounts, Timestamps, CHUNK_CHARS, FINAL_RESPONSE};

/// The next text frame as received, with the instant it arrived.
async fn next_text(ws: &mut Client) -> (String, Instant) {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame within the hang guard")
            .expect("the socket is open")
            .expect("a frame");
        if let Message::Text(t) = msg {
            return (t.to_string(), Instant::now());
        }
    }
}

/// Reads one flow as raw text frames (until `agent_completed`), each with its arrival time.
async fn read_raw_flow(ws: &mut Client) -> Vec<(Value, usize, Instant)> {
    let mut out = Vec::new();
    loop {
        let (text, at) = next_text(ws).await;
        let v: Value = serde_json::from_str(&text).expect("an agent event is JSON");
        let done = event_type(&v) == "agent_completed";
        out.push((v, text.len(), at));
        if done {
            return out;
        }
    }
}

/// The event fields of a frame in the default (`data`) envelope.
fn data(v: &Value) -> &Value {
    &v["data"]
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn mock_counts_equal_what_the_client_received() {
    let srv = start(MockConfig {
        thinking: 3,
        tools: 2,
        chunks: 2,
        tool_names: names(&["alpha", "beta", "gamma"]),
        ..cfg()
    })
    .await;
    let offer = format!("jwt.{}", token("user-count"));
    let (mut ws, _) = connect_with(&srv, "/ws", Some(&offer), None).await;
    let (welcome, _) = next_text(&mut ws).await;
    let mut bytes = welcome.len() as u64;
    let mut frames = 1u64;
    let mut by_type: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for i in 0..2 {
        user_message(&mut ws, &format!("thr_{i}"), &format!("run_{i}")).await;
        for (v, len, _) in read_raw_flow(&mut ws).await {
            let e = by_type.entry(event_type(&v)).or_default();
            e.0 += 1;
            e.1 += len as u64;
            bytes += len as u64;
            frames += 1;
        }
    }
    send_json(&mut ws, json!({"type": "ping"})).await;
    let (pong, _) = next_text(&mut ws).await;
    assert!(pong.contains("\"pong\""), "{pong}");
    bytes += pong.len() as u64;
    frames += 1;

    let c = srv.counts();
    assert_eq!(c.flows, 2);
    // welcome + 2 × (started, 3 thinking, 2 tool pairs, 2 chunks, completed) + pong
    assert_eq!(frames, 1 + 2 * 11 + 1);
    assert_eq!((c.frames, c.bytes), (frames, bytes));
    let want: BTreeMap<&str, u64> = [
        ("agent_started", 2),
        ("agent_thinking", 6),
        ("tool_executing", 4),
        ("tool_completed", 4),
        ("stream_chunk", 4),
        ("agent_completed", 2),
        ("agent_error", 0),
    ]
    .into();
    for (name, n) in &want {
        assert_eq!(c.events[*name], *n, "{name}: {c:?}");
        let got = by_type.get(*name).copied().unwrap_or_default();
        assert_eq!((c.events[*name], c.event_bytes[*name]), got, "{name}");
    }
    assert_eq!(c.events.len(), want.len(), "every type, 0 included");
    // Two tool calls a flow: alpha, beta; gamma is never reached.
    assert_eq!(
        c.tools.keys().collect::<Vec<_>>(),
        ["alpha", "beta", "gamma"]
    );
    assert_eq!((c.tools["alpha"].calls, c.tools["alpha"].completed), (2, 2));
    assert_eq!((c.tools["beta"].calls, c.tools["beta"].completed), (2, 2));
    assert_eq!(c.tools["gamma"], crate::mock::ToolCounts::default());
    assert_eq!(c.ws_connections, 1);

    // The HTTP route serves the same counts.
    let (status, body) = http(&srv, "GET", "/__mock/stats", &[], "").await;
    assert_eq!(status, 200);
    let served: MockCounts = serde_json::from_value(body).expect("the stats parse");
    assert_eq!(served, c);
    assert_eq!(http(&srv, "POST", "/__mock/stats", &[], "").await.0, 405);
    srv.shutdown().await;
}

#[tokio::test]
async fn mock_tool_names_rotate_and_durations_are_what_it_measured() {
    let tool_time = Duration::from_millis(40);
    let srv = start(MockConfig {
        thinking: 1,
        tools: 3,
        tool_names: names(&["x_tool", "y_tool"]),
        tool_time: Some(tool_time),
        ..cfg()
    })
    .await;
    let mut ws = connect_as(&srv, "user-tools").await;
    user_message(&mut ws, "thr_t", "run_t").await;
    let flow = read_raw_flow(&mut ws).await;
    let mut executing = Vec::new();
    let mut reported_sum = 0;
    let mut slowest_gap = Duration::ZERO;
    for (v, _, at) in &flow {
        match event_type(v).as_str() {
            "tool_executing" => executing.push((data(v)["tool_name"].clone(), *at)),
            "tool_completed" => {
                let (name, started) = executing.last().cloned().expect("executing came first");
                assert_eq!(data(v)["tool_name"], name, "a pair names one tool");
                let reported = data(v)["duration"].as_u64().expect("duration in ms");
                assert_eq!(data(v)["execution_time_ms"].as_u64(), Some(reported));
                let gap = at.duration_since(started);
                slowest_gap = slowest_gap.max(gap);
                // The mock's own measure between its two sends: at most what the client saw
                // between the arrivals (+1 for the client's rounding), and the tool time it slept
                // less at most the first frame's timer overshoot.
                assert!(
                    reported <= gap.as_millis() as u64 + 1,
                    "{reported} ms vs {gap:?}"
                );
                assert!(reported >= 30, "{reported} ms for a 40 ms tool");
                reported_sum += reported;
            }
            _ => {}
        }
    }
    let called: Vec<_> = executing.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(called, [json!("x_tool"), json!("y_tool"), json!("x_tool")]);
    assert!(slowest_gap >= Duration::from_millis(35), "{slowest_gap:?}");
    let c = srv.counts();
    assert_eq!((c.tools["x_tool"].calls, c.tools["y_tool"].calls), (2, 1));
    assert_eq!(
        c.tools["x_tool"].duration_ms + c.tools["y_tool"].duration_ms,
        reported_sum
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn mock_without_tool_time_reports_the_measured_delay() {
    // No --tool-time: tool_completed comes after the --delay like any event, and reports it.
    let srv = start(MockConfig {
        thinking: 1,
        tools: 1,
        delay: Duration::from_millis(25),
        ..cfg()
    })
    .await;
    let mut ws = connect_as(&srv, "user-delay").await;
    user_message(&mut ws, "thr_d", "run_d").await;
    let flow = read_raw_flow(&mut ws).await;
    let done = flow
        .iter()
        .find(|(v, _, _)| event_type(v) == "tool_completed")
        .expect("a tool_completed");
    let reported = data(&done.0)["duration"].as_u64().expect("duration");
    assert!(
        (15..=200).contains(&reported),
        "{reported} ms for a 25 ms delay"
    );
    assert_eq!(
        data(&done.0)["tool_name"],
        "cost_query",
        "the first default name"
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn mock_chunks_and_texts_have_their_documented_lengths() {
    let srv = start(MockConfig {
        thinking: 2,
        tools: 1,
        chunks: 3,
        envelope: Envelope::Flat,
        ..cfg()
    })
    .await;
    let mut ws = connect_as(&srv, "user-chunks").await;
    user_message(&mut ws, "thr_c", "run_c").await;
    let flow = read_raw_flow(&mut ws).await;
    let kinds: Vec<String> = flow.iter().map(|(v, _, _)| event_type(v)).collect();
    assert_eq!(
        kinds,
        [
            "agent_started",
            "agent_thinking",
            "agent_thinking",
            "tool_executing",
            "tool_completed",
            "stream_chunk",
            "stream_chunk",
            "stream_chunk",
            "agent_completed"
        ]
    );
    let mut text = String::new();
    for (i, (v, _, _)) in flow[5..8].iter().enumerate() {
        assert_eq!(v["chunk_index"], i, "{v}");
        assert_eq!(v["run_id"], "run_c");
        let content = v["content"].as_str().expect("content");
        assert_eq!(content.len(), CHUNK_CHARS, "{content:?}");
        assert!(content.starts_with(&format!("Chunk {} of 3: ", i + 1)));
        text.push_str(content);
    }
    assert_eq!(text.len(), 120);
    for (v, _, _) in &flow[1..3] {
        let reasoning = v["reasoning"].as_str().expect("reasoning");
        assert_eq!(
            reasoning.len(),
            crate::mock::THINKING_CHARS,
            "{reasoning:?}"
        );
    }
    assert_eq!(flow[8].0["final_response"], FINAL_RESPONSE);
    assert_eq!(FINAL_RESPONSE.len(), 42);

    // drop:stream_chunk takes them all out again.
    let srv = start(MockConfig {
        chunks: 2,
        fault: Some(Fault::Drop(crate::mock::Event::StreamChunk)),
        ..cfg()
    })
    .await;
    let mut ws = connect_as(&srv, "user-nochunks").await;
    user_message(&mut ws, "thr_n", "run_n").await;
    let flow = read_raw_flow(&mut ws).await;
    assert!(flow.iter().all(|(v, _, _)| event_type(v) != "stream_chunk"));
    assert_eq!(srv.counts().events["stream_chunk"], 0);
    srv.shutdown().await;
}

#[tokio::test]
async fn mock_event_timestamps_take_the_chosen_form() {
    for (form, check) in [
        (Timestamps::Iso, "+00:00"),
        (Timestamps::IsoMs, "Z"),
        (Timestamps::Epoch, ""),
    ] {
        let srv = start(MockConfig {
            timestamps: form,
            thinking: 1,
            tools: 1,
            chunks: 1,
            ..cfg()
        })
        .await;
        let mut ws = connect_as(&srv, "user-ts").await;
        user_message(&mut ws, "thr_s", "run_s").await;
        let now = crate::mock::clock::epoch_f64();
        for (v, _, _) in read_raw_flow(&mut ws).await {
            let ts = &v["timestamp"];
            match form {
                Timestamps::Epoch => {
                    let t = ts.as_f64().unwrap_or_else(|| panic!("a float: {v}"));
                    assert!((t - now).abs() < 60.0, "{t} vs {now}");
                }
                _ => {
                    let t = ts.as_str().unwrap_or_else(|| panic!("a string: {v}"));
                    assert!(
                        t.ends_with(check) && t.as_bytes()[10] == b'T',
                        "{form:?}: {t}"
                    );
                    let frac = if form == Timestamps::Iso { 6 } else { 3 };
                    assert_eq!(t.len(), 20 + frac + check.len(), "{form:?}: {t}");
                }
            }
        }
        srv.shutdown().await;
    }
}
