//! The canary user (`run --canary-every`): counted within its ticks, apart from the load, failing
//! the run when it fails, kept when a signal stops the run, and one per generator.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use load_tester::exit::Exit;
use load_tester::metrics::summary::{StoppedBy, Verdict};

use crate::util::*;

/// `fast_golden` bounded by a duration instead of one iteration, one user.
fn timed_golden() -> String {
    fast_golden("").replace("iterations = 1\n", "")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_flows_are_counted_within_their_ticks_and_apart_from_the_load() {
    let dir = tempdir();
    let path = scenario(dir.path(), "s.toml", &timed_golden());
    let (o, out) = run_mock(
        dir.path(),
        path.to_str().unwrap(),
        &["-u", "2", "-d", "2s", "--canary-every", "200ms"],
    )
    .await;
    assert_passed(&o);
    let r = read_results(&out);
    let c = r.canary.as_ref().expect("the results have a canary");
    let f = c.flows;
    // Ticks at 0, 200, ... 1800 ms: at most duration / interval (+ 1 for rounding) of them.
    assert!(f.started >= 3, "canary flows {f:?}");
    assert!(f.started + f.skipped <= 2000 / 200 + 1, "{f:?}");
    assert_eq!(f.started, f.passed + f.failed + f.interrupted, "{f:?}");
    assert_eq!((f.failed, f.interrupted), (0, 0), "{f:?}");
    assert_eq!(c.every_ms, 200.0);
    assert_eq!(
        c.users,
        vec![2],
        "the first user number after the load's two"
    );
    // The canary logged in once, on its own; the load's two users did not see it.
    let canary_step = |name: &str| c.step(name).unwrap();
    assert_eq!(canary_step("login").count, 1);
    assert_eq!(canary_step("chat").ok, f.passed);
    assert_eq!(c.iteration.count, f.passed);
    assert_eq!(r.step("login").unwrap().count, 2);
    assert_eq!(r.step("chat").unwrap().count, r.flows.started);
    assert_eq!(r.iteration.count, r.flows.passed);
    assert!(
        r.flows.started > f.started,
        "the load iterates back to back"
    );
    // The terminal summary has its own section.
    assert!(
        o.stdout.contains("canary (user #2, a flow every 200ms"),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout.contains(&format!(
            "canary flows: {} started: {} passed, 0 failed, 0 interrupted; {} ticks skipped",
            f.started, f.passed, f.skipped
        )),
        "{}",
        o.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_failures_are_reported_apart_and_fail_the_run() {
    let dir = tempdir();
    let path = scenario(dir.path(), "s.toml", &timed_golden());
    let junit = dir.path().join("j.xml");
    let html = dir.path().join("r.html");
    let (o, out) = run_mock(
        dir.path(),
        path.to_str().unwrap(),
        &[
            "-u",
            "1",
            "-d",
            "1500ms",
            "--canary-every",
            "100ms",
            "--fault",
            "agent-error",
            "--junit",
            junit.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(o.exit, Exit::Failed, "{}\n{}", o.stdout, o.stderr);
    let r = read_results(&out);
    let c = r.canary.as_ref().expect("the results have a canary");
    assert!(c.flows.started >= 3, "{:?}", c.flows);
    assert_eq!(c.flows.failed, c.flows.started, "{:?}", c.flows);
    // Each side's errors count its own failed flows, no more.
    let sum = |errors: &[load_tester::metrics::summary::ErrorCount]| -> u64 {
        errors.iter().map(|e| e.count).sum()
    };
    assert_eq!(sum(&c.errors), c.flows.failed);
    assert_eq!(sum(&r.errors), r.flows.failed);
    assert_eq!(r.flows.failed, r.flows.started - r.flows.interrupted);
    assert!(c
        .errors
        .iter()
        .all(|e| e.step == "chat" && e.kind.as_str() == "error_event"));
    assert_eq!(c.step("chat").unwrap().failed, c.flows.failed);
    assert!(o.stdout.contains(&format!(
        "CANARY FAILED: {} of {} canary flows failed",
        c.flows.failed, c.flows.started
    )));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains(r#"<testsuite name="canary""#), "{xml}");
    assert!(
        xml.contains(&format!(
            "canary: {} of {} flows failed: a real user failed under load",
            c.flows.failed, c.flows.started
        )),
        "{xml}"
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains(r#"<h2 id="canary">Canary user</h2>"#),
        "no canary section"
    );
    assert!(page.contains(&format!(
        "<b>{}</b> started, <b>0</b> passed, <b>{}</b> failed",
        c.flows.started, c.flows.failed
    )));
    assert!(page.contains("A canary flow failed: a real user failed under this load."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_thresholds_read_the_canary_and_judge_it() {
    let dir = tempdir();
    let path = scenario(dir.path(), "s.toml", &timed_golden());
    let (o, out) = run_mock(
        dir.path(),
        path.to_str().unwrap(),
        &[
            "-u",
            "1",
            "-d",
            "1s",
            "--canary-every",
            "100ms",
            "--fault",
            "agent-error",
            "--threshold",
            "canary.flows.failed < 1",
            "--threshold",
            "canary.chat.count >= 1",
        ],
    )
    .await;
    assert_eq!(o.exit, Exit::Breached, "{}\n{}", o.stdout, o.stderr);
    let r = read_results(&out);
    let c = r.canary.as_ref().unwrap();
    let t = |expr: &str| r.thresholds.iter().find(|t| t.expr == expr).unwrap();
    assert_eq!(
        t("canary.flows.failed < 1").observed,
        Some(c.flows.failed as f64)
    );
    assert!(!t("canary.flows.failed < 1").passed);
    let chat = c.step("chat").unwrap().count as f64;
    assert_eq!(t("canary.chat.count >= 1").observed, Some(chat));
    // A misspelt canary step is refused before anything runs.
    let bad = run_cli(
        &[
            "run",
            path.to_str().unwrap(),
            "--mock",
            "--canary-every",
            "1s",
            "--threshold",
            "canary.chta.p95 < 1s",
        ],
        &[],
    )
    .await;
    assert_eq!(bad.exit, Exit::Usage, "{}", bad.stderr);
    assert!(bad.stderr.contains("unknown step `chta`"), "{}", bad.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_period_is_refused_and_probe_has_no_canary() {
    let o = run_cli(
        &[
            "run",
            &shipped("smoke.toml"),
            "--mock",
            "--canary-every",
            "0s",
        ],
        &[],
    )
    .await;
    assert_eq!(o.exit, Exit::Usage);
    assert!(
        o.stderr.contains("the canary's period must be above 0"),
        "{}",
        o.stderr
    );
    let o = run_cli(
        &[
            "probe",
            &shipped("smoke.toml"),
            "--mock",
            "--canary-every",
            "1s",
        ],
        &[],
    )
    .await;
    assert_eq!(o.exit, Exit::Usage);
    assert!(o.stderr.contains("--canary-every"), "{}", o.stderr);
}

/// SIGTERM while the canary's flow hangs (the mock stalls every second flow): the flow is cut
/// off and counted as interrupted, and the canary's results are written with the load's.
#[test]
fn sigterm_keeps_the_canary_results_with_its_flow_in_flight_interrupted() {
    let dir = tempdir();
    let path = scenario(dir.path(), "s.toml", &timed_golden());
    let out = dir.path().join("r.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_load-tester"))
        .args(["run", path.to_str().unwrap(), "--mock", "-u", "1"])
        .args([
            "-d",
            "60s",
            "--graceful-stop",
            "0s",
            "--progress-interval",
            "1s",
        ])
        .args([
            "--canary-every",
            "100ms",
            "--fault",
            "stall",
            "--fault-rate",
            "0.5",
        ])
        .args(["--out", out.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start load-tester");
    // The first progress line (after 1 s): by then the load's user and the canary have each
    // met a stalled flow (every second flow stalls; neither starts another while it hangs).
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.starts_with("progress ") {
                let _ = tx.send(line);
            }
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(30));
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().expect("load-tester exits");
    first.expect("a progress line within 30 s");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let r = read_results(&out);
    assert_eq!(r.stopped_by, StoppedBy::Signal);
    let c = r.canary.as_ref().expect("the canary's results are kept");
    assert_eq!(c.flows.interrupted, 1, "{:?}\n{stdout}", c.flows);
    assert_eq!(c.flows.failed, 0, "{:?}", c.flows);
    assert_eq!(c.flows.started, c.flows.passed + 1, "{:?}", c.flows);
    assert_eq!(c.interrupted.len(), 1);
    assert_eq!(c.interrupted[0].step, "chat");
    assert_eq!(
        c.interrupted[0].after_event.as_deref(),
        Some("agent_started")
    );
    assert_eq!(
        r.flows.interrupted, 1,
        "the load's own stalled flow: {:?}",
        r.flows
    );
    assert_ne!(r.verdict, Verdict::Error, "{stdout}");
    assert!(stdout.contains("canary flows: "), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_processes_one_child_runs_the_canary() {
    let dir = tempdir();
    let path = scenario(dir.path(), "s.toml", &timed_golden());
    let (o, out) = run_mock(
        dir.path(),
        path.to_str().unwrap(),
        &[
            "-u",
            "4",
            "-d",
            "1500ms",
            "--processes",
            "2",
            "--workers",
            "1",
            "--canary-every",
            "200ms",
        ],
    )
    .await;
    assert_passed(&o);
    let r = read_results(&out);
    assert_eq!(r.generators, 2);
    let c = r
        .canary
        .as_ref()
        .expect("the merged results have the canary");
    assert_eq!(
        c.users,
        vec![4],
        "one canary, user 4 (after the load's 0..3)"
    );
    assert!(c.flows.started >= 3, "{:?}", c.flows);
    assert!(
        c.flows.started + c.flows.skipped <= 1500 / 200 + 1,
        "{:?}",
        c.flows
    );
    assert_eq!(c.step("login").unwrap().count, 1);
    assert_eq!(r.step("login").unwrap().count, 4);
}
