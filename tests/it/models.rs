//! Load models through the CLI: open model (rate, pool, drops, corrected latency), stages,
//! the HDR interval log, progress lines, source addresses, a mock on several addresses.

use crate::util::*;
use load_tester::exit::Exit;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_model_runs_the_rate_and_reports_corrected_latency() {
    let dir = tempdir();
    let (o, out) = run_fast_golden(
        dir.path(),
        &[
            "--arrival-rate",
            "40",
            "--users",
            "8",
            "--duration",
            "2s",
            "-q",
        ],
    )
    .await;
    assert_eq!(o.exit, Exit::Passed, "{}\n{}", o.stdout, o.stderr);
    let r = read_results(&out);
    assert_eq!(r.load.model, load_tester::metrics::summary::ModelKind::Open);
    assert_eq!(r.load.arrival_rate, Some(40.0));
    assert_eq!(
        r.flows.passed + r.flows.dropped,
        80,
        "40/s for 2 s: every arrival ran or was counted"
    );
    assert_eq!(r.flows.dropped, 0);
    let chat = r.step("chat").unwrap();
    let corrected = chat
        .latency_corrected
        .as_ref()
        .expect("corrected beside raw");
    assert_eq!(corrected.count, chat.latency.count);
    assert!(corrected.p50_ms >= chat.latency.p50_ms);
    assert!(r.iteration_corrected.is_some());
    assert!(o.stdout.contains("↳ corrected"), "{}", o.stdout);
    assert!(o.stdout.contains("0 dropped"), "{}", o.stdout);
    assert_eq!(
        r.step("login").unwrap().ok,
        8,
        "each pool user logs in once"
    );
    crate::schema::assert_valid(&read_json(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overloaded_pool_drops_and_counts_late_arrivals() {
    let dir = tempdir();
    let path = scenario(dir.path(), "s.toml", &fast_golden(""));
    let out = dir.path().join("r.json");
    // One user; every flow takes ≥ 6 × 50 ms; arrivals every 25 ms may wait 100 ms at most.
    let o = run_cli(
        &[
            "run",
            path.to_str().unwrap(),
            "--mock",
            "--arrival-rate",
            "40",
            "--users",
            "1",
            "--duration",
            "2s",
            "--delay",
            "50ms",
            "--max-lateness",
            "100ms",
            "-q",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert_eq!(o.exit, Exit::Passed, "{}", o.stderr);
    let r = read_results(&out);
    assert_eq!(r.flows.failed, 0);
    assert!(r.flows.dropped >= 60, "dropped {}", r.flows.dropped);
    assert!(r.flows.passed + r.flows.dropped + r.flows.interrupted <= 80);
    assert!(r.flows.passed + r.flows.dropped >= 78, "{:?}", r.flows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_stages_ramp_users_up_and_down() {
    let dir = tempdir();
    let (o, out) = run_mock(
        dir.path(),
        &shipped("http-health.toml"),
        &[
            "--stage", "1s:4", "--stage", "1s:4", "--stage", "1s:0", "-q",
        ],
    )
    .await;
    assert_eq!(o.exit, Exit::Passed, "{}", o.stderr);
    let r = read_results(&out);
    assert_eq!(
        r.load.model,
        load_tester::metrics::summary::ModelKind::Closed
    );
    assert_eq!(r.load.users, 4, "the peak of the stages");
    assert_eq!(r.load.stages.len(), 3);
    assert!(r.elapsed_s >= 3.0 && r.elapsed_s < 9.0, "{}", r.elapsed_s);
    assert!(r.flows.passed > 100);
    assert_eq!(r.flows.failed, 0);
    assert!(
        r.timeseries.len() >= 3,
        "one entry per second: {}",
        r.timeseries.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hdr_interval_log_is_readable_by_hdrhistogram() {
    let dir = tempdir();
    let log = dir.path().join("run.hlog");
    let (o, out) = run_mock(
        dir.path(),
        &shipped("golden-path.toml"),
        &[
            "--users",
            "5",
            "--duration",
            "2s",
            "-q",
            "--hdr-log",
            log.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(o.exit, Exit::Passed, "{}", o.stderr);
    let counts = hdr_log_counts(&std::fs::read(&log).unwrap());
    let chat_completed = counts.get("chat.agent_completed").copied().unwrap_or(0);
    let tags: std::collections::BTreeSet<&str> = counts.keys().map(String::as_str).collect();
    let r = read_results(&out);
    assert_eq!(
        chat_completed,
        r.step("chat")
            .unwrap()
            .event("agent_completed")
            .unwrap()
            .count
    );
    for t in [
        "login",
        "connect",
        "chat",
        "chat.agent_started",
        "iteration",
    ] {
        assert!(tags.contains(t), "tag {t} in {tags:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_progress_lines_when_not_a_terminal() {
    let o = run_cli(
        &[
            "run",
            &shipped("http-health.toml"),
            "--mock",
            "--users",
            "2",
            "--duration",
            "2s",
            "--progress-interval",
            "1s",
        ],
        &[],
    )
    .await;
    assert_eq!(o.exit, Exit::Passed);
    let lines: Vec<&str> = o
        .stderr
        .lines()
        .filter(|l| l.starts_with("progress "))
        .collect();
    assert!(lines.len() >= 2, "{}", o.stderr);
    for key in [
        "elapsed=",
        "active=",
        "flows=",
        "rate=",
        "errors=0",
        "slowest=health p95_ms=",
    ] {
        assert!(lines[0].contains(key), "{key} in {}", lines[0]);
    }
    let quiet = run_cli(
        &[
            "run",
            &shipped("http-health.toml"),
            "--mock",
            "--users",
            "1",
            "--duration",
            "1s",
            "-q",
        ],
        &[],
    )
    .await;
    assert!(!quiet.stderr.contains("progress "), "{}", quiet.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_spread_over_local_addresses() {
    let dir = tempdir();
    let (o, out) = run_mock(
        dir.path(),
        &shipped("golden-path.toml"),
        &[
            "--users",
            "4",
            "--iterations",
            "1",
            "-q",
            "--local-addrs",
            "127.0.0.2,127.0.0.3/32",
        ],
    )
    .await;
    assert_eq!(o.exit, Exit::Passed, "{}", o.stderr);
    assert_eq!(read_results(&out).flows.passed, 4);
    let bad = run_cli(
        &["run", &shipped("golden-path.toml"), "--local-addrs", "nope"],
        &[],
    )
    .await;
    assert_eq!(bad.exit, Exit::Usage);
    assert!(
        bad.stderr.contains("invalid local address 'nope'"),
        "{}",
        bad.stderr
    );
}

#[tokio::test]
async fn connections_leave_from_the_chosen_source_address() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let from: std::net::IpAddr = "127.0.0.7".parse().unwrap();
    let (client, accepted) = tokio::join!(
        load_tester::transport::tcp_connect("127.0.0.1", port, Some(from), &"test"),
        listener.accept()
    );
    assert!(client.is_ok());
    assert_eq!(accepted.unwrap().1.ip(), from);
    let addrs = load_tester::transport::parse_local_addrs("127.0.1.0/30,::1").unwrap();
    assert_eq!(addrs.len(), 3, "{addrs:?}: two hosts of the /30, and ::1");
}

#[tokio::test]
async fn the_mock_listens_on_several_addresses() {
    let cfg = load_tester::mock::MockConfig {
        listen: vec![
            "127.0.0.1:0".parse().unwrap(),
            "127.0.0.2:0".parse().unwrap(),
        ],
        ..Default::default()
    };
    let mock = load_tester::mock::MockServer::start(cfg).await.unwrap();
    assert_eq!(mock.addrs().len(), 2);
    for addr in mock.addrs() {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        s.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut body = String::new();
        s.read_to_string(&mut body).await.unwrap();
        assert!(body.starts_with("HTTP/1.1 200"), "{addr}: {body}");
    }
    mock.shutdown().await;
}

/// `--max-lateness 0s` drops only the arrivals that find their user busy: users idle between
/// arrivals (a flow of a few ms, an arrival every 800 ms per user) drop none, however late
/// their timers fire by a few microseconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_lateness_zero_drops_nothing_when_users_are_idle() {
    let dir = tempdir();
    let (o, out) = run_fast_golden(
        dir.path(),
        &[
            "--arrival-rate",
            "10",
            "--users",
            "8",
            "--duration",
            "2s",
            "--max-lateness",
            "0s",
            "-q",
        ],
    )
    .await;
    assert_eq!(o.exit, Exit::Passed, "{}\n{}", o.stdout, o.stderr);
    let r = read_results(&out);
    assert_eq!((r.flows.passed, r.flows.dropped), (20, 0), "{:?}", r.flows);
}
