//! The agent stream measured in depth, against servers we did not write: every occurrence of a
//! repeated event, tool calls paired by name beside the server's figure, gaps by pair, text,
//! the server's clock, budgets and goodput, and events after a match checked during `settle`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::raw::{run_target, RawServer};
use crate::raw_ws::*;
use crate::util::*;

fn epoch_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// One server frame: wait `after_ms`, then send `json`.
type Script = Vec<(u64, String)>;

/// A WebSocket server that upgrades, reads the client's message, plays `script(connection)`,
/// then answers the client's close.
fn agent_server(script: impl Fn(u64) -> Script + Send + Sync + 'static) -> RawServer {
    let n = Arc::new(AtomicU64::new(0));
    RawServer::start(move |mut s: TcpStream| {
        let k = n.fetch_add(1, Ordering::Relaxed);
        // Each frame leaves when written (no Nagle delay behind the client's delayed ACK).
        let _ = s.set_nodelay(true);
        if upgrade(&mut s).is_none() || read_client_frame(&mut s).is_none() {
            return;
        }
        for (after_ms, json) in script(k) {
            if after_ms > 0 {
                // Timing the server makes on purpose (the delay under test), not a wait.
                std::thread::sleep(Duration::from_millis(after_ms));
            }
            if s.write_all(&frame(0x1, json.as_bytes())).is_err() {
                return;
            }
        }
        while let Some((op, _)) = read_client_frame(&mut s) {
            if op == 0x8 {
                let _ = s.write_all(&close_frame(1000, ""));
                break;
            }
        }
        let mut sink = [0u8; 256];
        while s.read(&mut sink).is_ok_and(|n| n > 0) {}
    })
}

/// connect, chat (`chat_extra` added to it), close.
fn scenario_text(expect: &str, chat_extra: &str) -> String {
    format!(
        r#"
name = "stream"
[load]
users = 1
iterations = 1
[[steps]]
name = "connect"
ws.connect = "{{{{ws_url}}}}/ws"
[[steps]]
name = "chat"
ws.send = {{ type = "user_message", payload = {{ content = "hi" }} }}
ws.expect = "{expect}"
ws.within = "5s"
{chat_extra}
[[steps]]
name = "close"
ws.close = true
"#
    )
}

fn results(out: &std::path::Path) -> Value {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(out).expect("results written"))
        .expect("results are JSON");
    crate::schema::assert_valid(&v);
    v
}

fn chat(v: &Value) -> &Value {
    v["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == "chat"))
        .expect("a chat step")
}

fn event<'a>(chat: &'a Value, name: &str) -> &'a Value {
    chat["events"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["name"] == name))
        .unwrap_or_else(|| panic!("an event row {name}: {chat:#}"))
}

const GOLDEN_EXPECT: &str =
    "agent_started agent_thinking+ (tool_executing tool_completed | tool_executing tool_executing tool_completed tool_completed)* agent_completed";

/// The two tool calls of one flow overlap: `web` starts, `db` starts, `db` completes, `web`
/// completes 40 ms after it started (the server reports 7 ms for it): paired by name, not order.
fn rich_flow() -> Script {
    let f = |v: Value| v.to_string();
    vec![
        // Stamped 2.5 s before it is sent: a server clock 2.5 s behind ours, or a slow path.
        (
            0,
            f(serde_json::json!({"type":"agent_started","timestamp":epoch_now() - 2.5})),
        ),
        (
            0,
            f(serde_json::json!({"type":"agent_thinking","reasoning":"0123456789"})),
        ),
        (
            0,
            f(serde_json::json!({"type":"agent_thinking","reasoning":"0123456789"})),
        ),
        (
            0,
            f(serde_json::json!({"type":"agent_thinking","data":{"reasoning":"0123456789"}})),
        ),
        (
            0,
            f(serde_json::json!({"type":"tool_executing","tool_name":"web"})),
        ),
        (
            0,
            f(serde_json::json!({"type":"tool_executing","tool_name":"db"})),
        ),
        (
            0,
            f(serde_json::json!({"type":"tool_completed","tool_name":"db","duration":5})),
        ),
        (
            0,
            f(serde_json::json!({"type":"stream_chunk","content":"abcdefghijklmnopqrst"})),
        ),
        (
            40,
            f(
                serde_json::json!({"type":"tool_completed","tool_name":"web","data":{"execution_time_ms":7}}),
            ),
        ),
        (
            0,
            f(serde_json::json!({"type":"stream_chunk","content":"abcdefghijklmnopqrst"})),
        ),
        (
            0,
            f(serde_json::json!({"type":"agent_completed","final_response":"done."})),
        ),
    ]
}

#[test]
fn every_occurrence_is_counted_and_tools_are_paired_by_name_beside_the_server_figure() {
    let server = agent_server(|_| rich_flow());
    let dir = tempdir();
    let extra = r#"ws.ignore = ["stream_chunk"]
ws.group_by = { tool_executing = "/tool_name" }"#;
    let path = scenario(dir.path(), "s.toml", &scenario_text(GOLDEN_EXPECT, extra));
    let (ran, out) = run_target("run", &path, &server.url(), &["-i", "2"]);
    assert_eq!(ran.code, Some(0), "{}\n{}", ran.stdout, ran.stderr);
    let v = results(&out);
    let chat = chat(&v);
    // Two flows: every occurrence counted, and in how many flows each came.
    let counts = |name: &str| {
        let e = event(chat, name);
        (
            e["count"].as_u64().unwrap(),
            e["flows"].as_u64().unwrap(),
            e["per_flow"]["min"].as_f64().unwrap(),
            e["per_flow"]["max"].as_f64().unwrap(),
        )
    };
    assert_eq!(counts("agent_started"), (2, 2, 1.0, 1.0));
    assert_eq!(counts("agent_thinking"), (6, 2, 3.0, 3.0));
    assert_eq!(counts("tool_executing"), (4, 2, 2.0, 2.0));
    assert_eq!(counts("tool_completed"), (4, 2, 2.0, 2.0));
    assert_eq!(counts("agent_completed"), (2, 2, 1.0, 1.0));
    // The ignored stream_chunk is counted too, as noise.
    assert_eq!(event(chat, "stream_chunk")["role"], "ignored");
    assert_eq!(counts("stream_chunk"), (4, 2, 2.0, 2.0));
    // group_by: a row per tool name.
    let groups: Vec<(String, u64)> = event(chat, "tool_executing")["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["value"].as_str().unwrap().to_string(),
                g["latency"]["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(groups, [("web".to_string(), 2), ("db".to_string(), 2)]);
    let stream = &chat["stream"];
    // Tools: matched by name (web's end came after db's), each beside the server's figure.
    let tool = |name: &str| {
        stream["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("a tool row {name}: {stream:#}"))
    };
    let web = tool("web");
    assert_eq!(web["latency"]["count"], 2);
    assert!(
        web["latency"]["min_ms"].as_f64().unwrap() >= 35.0,
        "{web:#}"
    );
    // HDR keeps 3 significant digits: 7 ms reads back as 7.003.
    let ms = |v: &Value| (v.as_f64().unwrap() * 10.0).round() / 10.0;
    assert_eq!(ms(&web["server"]["min_ms"]), 7.0);
    assert_eq!(ms(&web["server"]["max_ms"]), 7.0);
    let overhead = web["overhead"]["min_ms"].as_f64().unwrap();
    assert!(
        (28.0..1000.0).contains(&overhead),
        "client − server: {overhead}"
    );
    let db = tool("db");
    assert_eq!(
        (db["latency"]["count"].as_u64(), ms(&db["server"]["max_ms"])),
        (Some(2), 5.0)
    );
    assert_eq!(stream["tools_unfinished"], 0);
    // Gaps by pair of types, in arrival order.
    let pairs: Vec<(String, String, u64)> = stream["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["from"].as_str().unwrap().to_string(),
                p["to"].as_str().unwrap().to_string(),
                p["gaps"]["count"].as_u64().unwrap(),
            )
        })
        .collect();
    let pair = |a: &str, b: &str, n: u64| (a.to_string(), b.to_string(), n);
    assert_eq!(
        pairs,
        [
            pair("agent_started", "agent_thinking", 2),
            pair("agent_thinking", "agent_thinking", 4),
            pair("agent_thinking", "tool_executing", 2),
            pair("tool_executing", "tool_executing", 2),
            pair("tool_executing", "tool_completed", 2),
            pair("tool_completed", "tool_completed", 2),
            pair("tool_completed", "agent_completed", 2),
        ]
    );
    assert_eq!(stream["first_event"]["count"], 2);
    assert_eq!(
        (
            stream["events_per_flow"]["min"].as_f64(),
            stream["events_per_flow"]["max"].as_f64()
        ),
        (Some(11.0), Some(11.0))
    );
    // Text: 3 × 10 reasoning + 2 × 20 chunk + 5 final characters per flow, in 6 events.
    assert_eq!(stream["text"]["chars"], 2 * (30 + 40 + 5));
    assert_eq!(stream["text"]["chunks"], 2 * 6);
    assert_eq!(event(chat, "agent_thinking")["text_chars"], 60);
    assert!(stream["text"]["chars_per_s"]["p50"].as_f64().unwrap() > 0.0);
    // The one stamped event is 2.5 s old when it arrives: a one-way lag, marked as clock-dependent.
    let lag = &stream["server_lag"];
    assert_eq!(lag["clock_dependent"], true);
    assert_eq!(lag["behind"]["count"], 2);
    let behind = lag["behind"]["min_ms"].as_f64().unwrap();
    assert!(
        (2_490.0..3_500.0).contains(&behind),
        "{behind} {}",
        ran.stderr
    );
    // The text summary shows the tool rows with the server's figure beside them.
    assert!(ran.stdout.contains("tool web"), "{}", ran.stdout);
    assert!(ran.stdout.contains("↳ server-reported"), "{}", ran.stdout);
    assert!(ran.stdout.contains("agent_thinking 3"), "{}", ran.stdout);
}

/// The sequence, then a second `agent_completed` 50 ms later.
fn twice_completed(_: u64) -> Script {
    vec![
        (0, r#"{"type":"agent_started"}"#.into()),
        (0, r#"{"type":"agent_completed"}"#.into()),
        (50, r#"{"type":"agent_completed"}"#.into()),
    ]
}

#[test]
fn an_event_after_the_match_is_checked_during_the_settle() {
    let server = agent_server(twice_completed);
    let dir = tempdir();
    let text = scenario_text("agent_started agent_completed", r#"ws.settle = "1s""#);
    let path = scenario(dir.path(), "s.toml", &text);
    let (ran, out) = run_target("probe", &path, &server.url(), &[]);
    assert_eq!(ran.code, Some(1), "{}\n{}", ran.stdout, ran.stderr);
    let v = results(&out);
    let e = &v["errors"][0];
    assert_eq!(
        (e["step"].as_str(), e["kind"].as_str()),
        (Some("chat"), Some("unexpected_event"))
    );
    let cause = e["causes"][0]["cause"].as_str().unwrap();
    assert!(
        cause.contains("agent_completed came again after the expected sequence had matched"),
        "{cause}"
    );
    // Both occurrences were counted.
    assert_eq!(event(chat(&v), "agent_completed")["count"], 2);

    // Ignored, the same stream passes, timed to its match (not to the end of the settle).
    let text = scenario_text(
        "agent_started agent_completed",
        "ws.settle = \"300ms\"\nws.ignore = [\"agent_completed\"]",
    );
    let path = scenario(dir.path(), "s2.toml", &text);
    let (ran, out) = run_target("probe", &path, &server.url(), &[]);
    assert_eq!(ran.code, Some(0), "{}\n{}", ran.stdout, ran.stderr);
    let v = results(&out);
    let chat = chat(&v);
    assert_eq!(chat["latency"]["count"], 1);
    assert!(
        chat["latency"]["max_ms"].as_f64().unwrap() < 50.0,
        "{chat:#}"
    );
}

#[test]
fn flows_that_miss_a_budget_are_late_not_good_and_goodput_counts_the_good() {
    // Every other connection is slow: its agent_completed comes 150 ms after agent_started.
    let server = agent_server(|k| {
        vec![
            (0, r#"{"type":"agent_started"}"#.into()),
            (
                if k % 2 == 1 { 150 } else { 0 },
                r#"{"type":"agent_completed"}"#.into(),
            ),
        ]
    });
    let dir = tempdir();
    let text = scenario_text(
        "agent_started agent_completed",
        r#"ws.budgets = { agent_started = "2s", agent_completed = "100ms" }"#,
    );
    let path = scenario(dir.path(), "s.toml", &text);
    let (ran, out) = run_target("run", &path, &server.url(), &["-i", "4", "--backoff", "0s"]);
    assert_eq!(
        ran.code,
        Some(0),
        "late flows pass: {}\n{}",
        ran.stdout,
        ran.stderr
    );
    let v = results(&out);
    let flows = &v["flows"];
    assert_eq!(
        (
            flows["passed"].as_u64(),
            flows["good"].as_u64(),
            flows["late"].as_u64()
        ),
        (Some(4), Some(2), Some(2))
    );
    assert_eq!(v["goodput"]["good_pct"], 50.0);
    let per_s = v["goodput"]["per_s"].as_f64().unwrap();
    let expected = 2.0 / v["elapsed_s"].as_f64().unwrap();
    assert!((per_s - expected).abs() < 1e-6, "{per_s} vs {expected}");
    let chat = chat(&v);
    assert_eq!(event(chat, "agent_completed")["over_budget"], 2);
    assert_eq!(event(chat, "agent_completed")["budget_ms"], 100.0);
    assert_eq!(event(chat, "agent_started")["over_budget"], 0);
    assert!(ran.stdout.contains("goodput: "), "{}", ran.stdout);
    assert!(
        ran.stdout
            .contains("(2 good, 2 passed but late, 50.0% of the flows"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains("agent_completed ≤ 100ms (2 missed)"),
        "{}",
        ran.stdout
    );

    // A threshold on goodput's share is the verdict.
    let (ran, _) = run_target(
        "run",
        &path,
        &server.url(),
        &[
            "-i",
            "4",
            "--threshold",
            "flows.good_rate >= 90%",
            "--quiet",
        ],
    );
    assert_eq!(ran.code, Some(4), "{}\n{}", ran.stdout, ran.stderr);
}
