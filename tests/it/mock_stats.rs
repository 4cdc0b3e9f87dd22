//! The mock's own counters (issue 9's yardstick): `GET /__mock/stats` after a golden-path run
//! against `mock --thinking 3 --tools 2 --chunks 2` counts exactly what the run was sent; the
//! `mock` command prints the same counts as one JSON line on stderr when it stops (summed over
//! `--processes`); a bad `--tool-names` is a usage error.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::raw::{run_binary, spawn_binary};
use crate::util::*;
use load_tester::exit::Exit;
use load_tester::mock::{MockConfig, MockCounts, ToolCounts};

/// `GET /__mock/stats` of the mock at `addr`, parsed.
async fn fetch_stats(addr: std::net::SocketAddr) -> MockCounts {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let req = "GET /__mock/stats HTTP/1.1\r\nHost: mock\r\nConnection: close\r\n\r\n";
    tcp.write_all(req.as_bytes()).await.expect("send");
    let mut resp = String::new();
    tcp.read_to_string(&mut resp).await.expect("read");
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let body = resp.split("\r\n\r\n").nth(1).expect("a body");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// The counts of a run of `flows` golden-path flows against `--thinking 3 --tools 2
/// --chunks 2` with the default tool names, each flow on its own connection.
fn expected(flows: u64, users: u64) -> MockCounts {
    let events = [
        ("agent_started", 1),
        ("agent_thinking", 3),
        ("tool_executing", 2),
        ("tool_completed", 2),
        ("stream_chunk", 2),
        ("agent_completed", 1),
        ("agent_error", 0),
    ];
    let tool = ToolCounts {
        calls: flows,
        completed: flows,
        duration_ms: 0,
    };
    MockCounts {
        flows,
        // One welcome per connection, then 11 events a flow.
        frames: flows * 12,
        events: events
            .iter()
            .map(|(k, n)| (k.to_string(), n * flows))
            .collect(),
        tools: [
            ("cost_query".to_string(), tool),
            ("web_search".to_string(), tool),
            ("doc_lookup".to_string(), ToolCounts::default()),
        ]
        .into(),
        logins: users,
        ws_connections: flows,
        ..MockCounts::default()
    }
}

/// The counts without what depends on timing (byte totals, reported tool durations).
fn comparable(mut c: MockCounts) -> MockCounts {
    c.bytes = 0;
    c.event_bytes.clear();
    for t in c.tools.values_mut() {
        t.duration_ms = 0;
    }
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mock_stats_count_a_golden_run_exactly() {
    let mock = start_mock(MockConfig {
        thinking: 3,
        tools: 2,
        chunks: 2,
        ..MockConfig::default()
    })
    .await;
    let url = mock.base_url();
    let dir = tempdir();
    let out = dir.path().join("r.json");
    let golden = shipped("golden-path.toml");
    let args = against(
        "run",
        &golden,
        &url,
        &[
            "--users",
            "2",
            "--iterations",
            "3",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let o = run_cli(&args, &[]).await;
    assert_passed(&o);
    let served = fetch_stats(mock.addr()).await;
    assert_eq!(served, mock.counts(), "the route serves MockServer::counts");
    assert_eq!(comparable(served.clone()), expected(6, 2));
    // Every event frame is counted in the totals, and the bytes add up per type.
    let event_bytes: u64 = served.event_bytes.values().sum();
    assert!(served.bytes > event_bytes && event_bytes > 0, "{served:?}");
    assert!(served.event_bytes["stream_chunk"] >= 12 * 40, "{served:?}");

    // The run's results count exactly what the mock sent: every occurrence of every event
    // (stream_chunk too, as ignored noise), its bytes, and each tool's calls by name.
    let r = read_results(&out);
    assert_eq!(r.flows.passed, served.flows);
    assert_eq!(r.step("login").unwrap().ok, served.logins);
    assert_eq!(r.step("connect").unwrap().ok, served.ws_connections);
    let chat = r.step("chat").unwrap();
    for e in [
        "agent_started",
        "agent_thinking",
        "tool_executing",
        "tool_completed",
        "stream_chunk",
        "agent_completed",
    ] {
        let row = chat.event(e).unwrap_or_else(|| panic!("a row for {e}"));
        assert_eq!(row.count, served.events[e], "{e}");
        assert_eq!(row.bytes, served.event_bytes[e], "{e} bytes");
        assert_eq!(row.flows, served.flows, "{e} came in every flow");
    }
    let stream = chat.stream.as_ref().expect("the chat's stream");
    let mut tools: Vec<(&str, u64)> = stream
        .tools
        .iter()
        .map(|t| (t.name.as_str(), t.latency.count))
        .collect();
    tools.sort();
    assert_eq!(
        tools,
        [
            ("cost_query", served.tools["cost_query"].completed),
            ("web_search", served.tools["web_search"].completed)
        ]
    );
    // The server's own figure is beside each tool's row (the mock reports whole ms).
    for t in &stream.tools {
        let server = t.server.as_ref().expect("the server reported a duration");
        assert_eq!(server.count, t.latency.count, "{}", t.name);
    }
    mock.shutdown().await;
}

#[test]
fn mock_prints_its_counts_on_stderr_when_it_stops() {
    for processes in ["1", "2"] {
        let addr = format!("127.0.0.1:{}", free_port());
        let mock = spawn_binary(
            &[
                "mock",
                "--listen",
                &addr,
                "--thinking",
                "3",
                "--tools",
                "2",
                "--chunks",
                "2",
                "--processes",
                processes,
            ],
            &[],
        );
        let url = format!("http://{addr}");
        let dir = tempdir();
        let out = dir.path().join("r.json");
        let golden = shipped("golden-path.toml");
        let args = against(
            "run",
            &golden,
            &url,
            &[
                "--users",
                "4",
                "--iterations",
                "2",
                "--quiet",
                "--wait-for-target",
                "30s",
                "--out",
                out.to_str().unwrap(),
            ],
        );
        let ran = run_binary(&args, &[]);
        assert_eq!(ran.code, Some(0), "{}\n{}", ran.stdout, ran.stderr);
        mock.signal(libc::SIGTERM);
        let stopped = mock.wait();
        assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);
        assert!(stopped.took < Duration::from_secs(60));
        let last = stopped.stderr.lines().last().unwrap_or_default();
        let counts: MockCounts =
            serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {}", stopped.stderr));
        assert_eq!(
            comparable(counts),
            expected(8, 4),
            "--processes {processes}:\n{}",
            stopped.stderr
        );
        assert_eq!(
            stopped.stderr.matches("{\"flows\":").count(),
            1,
            "one line, the sum of the processes:\n{}",
            stopped.stderr
        );
    }
}

#[tokio::test]
async fn mock_refuses_an_empty_tool_name() {
    let o = run_cli(&["mock", "--tool-names", "cost_query,,web_search"], &[]).await;
    assert_eq!(o.exit, Exit::Usage, "{}", o.stderr);
    assert!(o.stderr.contains("--tool-names"), "{}", o.stderr);
    assert!(o.stderr.contains("a tool name is empty"), "{}", o.stderr);
    let ran = run_binary(&["mock"], &[("LOAD_TESTER_MOCK_TOOL_NAMES", " ,x")]);
    assert_eq!(ran.code, Some(Exit::Usage.code()), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("LOAD_TESTER_MOCK_TOOL_NAMES"),
        "the variable is named:\n{}",
        ran.stderr
    );
}

/// `run --mock` takes the same flags: the golden scenario (which ignores `stream_chunk`) passes
/// with chunks and three tool calls; a scenario that does not ignore them fails on the first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_mock_sends_chunks_and_the_golden_scenario_ignores_them() {
    let dir = tempdir();
    let depth = [
        "--users",
        "1",
        "--iterations",
        "2",
        "--quiet",
        "--tools",
        "3",
        "--chunks",
        "2",
        "--timestamps",
        "epoch",
    ];
    let (o, out) = run_mock(dir.path(), &shipped("golden-path.toml"), &depth).await;
    assert_passed(&o);
    assert_eq!(read_results(&out).flows.passed, 2);
    let (o, out) = run_fast_golden(dir.path(), &depth).await;
    assert_eq!(o.exit, Exit::Failed, "{}\n{}", o.stdout, o.stderr);
    let r = read_results(&out);
    assert_eq!((r.flows.passed, r.flows.failed), (0, 2));
    assert!(o.stdout.contains("stream_chunk"), "{}", o.stdout);
}
