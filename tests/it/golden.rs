//! The shipped golden-path scenario against the built-in mock: passes, counts every event.

use crate::util::*;
use load_tester::exit::Exit;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn golden_path_passes_and_counts_the_five_events() {
    let dir = tempdir();
    let (o, out) = run_mock(
        dir.path(),
        &shipped("golden-path.toml"),
        &[
            "--users",
            "20",
            "--spawn-rate",
            "200",
            "--iterations",
            "3",
            "--quiet",
        ],
    )
    .await;
    assert_passed(&o);
    let r = read_results(&out);
    assert_eq!(r.flows.passed, 60);
    assert_eq!(r.flows.failed, 0);
    assert_eq!(r.flows.interrupted, 0);
    let chat = r.step("chat").expect("chat step");
    assert_eq!(chat.ok, 60);
    for e in GOLDEN {
        let ev = chat
            .event(e)
            .unwrap_or_else(|| panic!("event {e} in results"));
        // The mock's defaults: two agent_thinking and one tool call per flow; every
        // occurrence is counted, and the flows it came in apart.
        let per_flow = if e == "agent_thinking" { 2 } else { 1 };
        assert_eq!(ev.count, 60 * per_flow, "{e}");
        assert_eq!(ev.flows, 60, "{e}");
        assert!(ev.latency.p50_ms > 0.0, "{e}");
        assert!(o.stdout.contains(e), "summary lists {e}:\n{}", o.stdout);
    }
    // Events arrive in order, so their medians are ordered too.
    let p50 = |e: &str| chat.event(e).unwrap().latency.p50_ms;
    assert!(p50("agent_started") <= p50("agent_completed"));
    assert_eq!(r.step("login").unwrap().ok, 20, "login once per user");
    assert_eq!(r.step("connect").unwrap().ok, 60);
    assert!(
        o.stdout.contains("verdict: PASSED (exit 0)"),
        "{}",
        o.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_probe_prints_each_step_verdict() {
    let o = run_cli(&["probe", &shipped("smoke.toml"), "--mock"], &[]).await;
    assert_eq!(o.exit, Exit::Passed, "{}\n{}", o.stdout, o.stderr);
    for step in [
        "auth-health",
        "backend-health",
        "login",
        "connect",
        "handshake",
        "chat",
        "close",
    ] {
        assert!(
            o.stdout
                .lines()
                .any(|l| l.contains("PASS") && l.contains(step)),
            "PASS line for {step}:\n{}",
            o.stdout
        );
    }
    for e in GOLDEN {
        assert!(o.stdout.contains(e), "event {e} listed:\n{}", o.stdout);
    }
    assert!(o.stdout.contains("PASSED in"), "{}", o.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_failure_names_the_step_and_skips_the_rest() {
    let o = run_cli(
        &[
            "probe",
            &shipped("smoke.toml"),
            "--mock",
            "--fault",
            "agent-error",
        ],
        &[],
    )
    .await;
    assert_eq!(o.exit, Exit::Failed, "{}\n{}", o.stdout, o.stderr);
    let fail: Vec<&str> = o.stdout.lines().filter(|l| l.contains("FAIL ")).collect();
    assert_eq!(fail.len(), 1, "{}", o.stdout);
    assert!(
        fail[0].contains("chat") && fail[0].contains("error event: agent_error"),
        "{}",
        fail[0]
    );
    assert!(
        o.stdout
            .lines()
            .any(|l| l.contains("SKIP") && l.contains("close")),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("FAILED in"), "{}", o.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_health_baseline_passes() {
    let o = run_cli(
        &[
            "run",
            &shipped("http-health.toml"),
            "--mock",
            "--users",
            "4",
            "--iterations",
            "25",
            "--quiet",
        ],
        &[],
    )
    .await;
    assert_eq!(o.exit, Exit::Passed, "{}\n{}", o.stdout, o.stderr);
    assert!(
        o.stdout.contains("flows: 100 passed, 0 failed"),
        "{}",
        o.stdout
    );
}
