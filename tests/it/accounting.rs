//! Every flow accounted for: a panic in the tool is a failed flow of kind `internal` and the
//! run exits 3; a dead worker is reported; flows cut by the end of the run say where they were;
//! a run with no passed flow never passes.

use crate::util::*;
use load_tester::exit::Exit;
use load_tester::metrics::errors::{ErrorCode, Phase};
use load_tester::metrics::summary::{StoppedBy, ToolErrorKind, Verdict};

fn fast(dir: &std::path::Path) -> String {
    scenario(dir, "s.toml", &fast_golden(""))
        .to_string_lossy()
        .into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_a_flow_fails_it_as_internal_and_the_run_exits_3() {
    let dir = tempdir();
    let (o, out) = run_fast_golden(
        dir.path(),
        &[
            "--users",
            "3",
            "--iterations",
            "2",
            "--workers",
            "1",
            "--quiet",
            "--self-test-panic",
            "step:chat",
        ],
    )
    .await;
    assert_eq!(o.exit, Exit::Error, "{}", o.stdout);
    let r = read_results(&out);
    assert_eq!(r.verdict, Verdict::Error);
    // Each user's first flow panics in `chat`; the panic ends the user, so it runs no second.
    assert_eq!((r.flows.started, r.flows.failed), (3, 3));
    assert_eq!((r.flows.passed, r.flows.interrupted), (0, 0));
    let e = &r.errors[0];
    assert_eq!(
        (e.step.as_str(), e.kind, e.phase),
        ("chat", ErrorCode::Internal, Phase::Internal)
    );
    assert_eq!(e.count, 3);
    assert!(
        e.causes[0].cause.contains("self-test panic at step chat"),
        "{:?}",
        e.causes
    );
    assert!(
        r.tool_errors
            .iter()
            .any(|t| t.kind == ToolErrorKind::UsersLost
                && t.detail.contains("3 user task(s) ended by a panic")),
        "{:?}",
        r.tool_errors
    );
    assert!(o.stdout.contains("verdict: ERROR"), "{}", o.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_dies_is_reported_and_the_run_exits_3() {
    let dir = tempdir();
    let (o, out) = run_fast_golden(
        dir.path(),
        &[
            "--users",
            "4",
            "--iterations",
            "1",
            "--workers",
            "2",
            "--quiet",
            "--self-test-panic",
            "worker",
        ],
    )
    .await;
    assert_eq!(o.exit, Exit::Error);
    let r = read_results(&out);
    assert_eq!(r.verdict, Verdict::Error);
    assert_eq!(
        r.flows.passed, 2,
        "the other worker's users ran: {:?}",
        r.flows
    );
    assert!(
        r.tool_errors
            .iter()
            .any(|t| t.kind == ToolErrorKind::WorkerDied && t.detail.starts_with("worker 0 died")),
        "{:?}",
        r.tool_errors
    );
    assert!(
        o.stdout.contains("TOOL ERROR: worker 0 died"),
        "{}",
        o.stdout
    );
}

/// Flows still waiting when the run's grace ends are interrupted, each counted where it was;
/// with none passed the run fails ("no flow passed"), it never passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_cut_by_the_end_say_where_they_were_and_a_run_with_no_passed_flow_fails() {
    let dir = tempdir();
    let (o, out) = run_fast_golden(
        dir.path(),
        &[
            "--users",
            "3",
            "--spawn-rate",
            "1000",
            "--iterations",
            "100",
            "--duration",
            "300ms",
            "--graceful-stop",
            "200ms",
            "--delay",
            "3s",
            "--quiet",
        ],
    )
    .await;
    let r = read_results(&out);
    assert_eq!(o.exit, Exit::Failed, "{}", o.stdout);
    assert_eq!(r.verdict, Verdict::Failed);
    assert_eq!(r.stopped_by, StoppedBy::End);
    assert_eq!(
        (r.flows.passed, r.flows.failed, r.flows.interrupted),
        (0, 0, 3)
    );
    assert_eq!(r.interrupted.len(), 1, "{:?}", r.interrupted);
    let i = &r.interrupted[0];
    assert_eq!(
        (i.step.as_str(), i.after_event.as_deref(), i.count),
        ("chat", None, 3)
    );
    assert!(i.longest_wait_ms >= 100.0, "{}", i.longest_wait_ms);
    assert!(o.stdout.contains("FAILED (no flow passed)"), "{}", o.stdout);
    assert!(
        o.stdout.contains("chat: before its first expected event"),
        "{}",
        o.stdout
    );
}

/// A failing target is not hammered: users back off after failed iterations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_back_off_after_failed_iterations() {
    use std::io::Write;
    // A login service that is up but broken: every request gets a 503.
    let server = crate::raw::RawServer::start(|mut s| {
        while crate::raw::read_request(&mut s).is_some() {
            let body = "overloaded";
            let resp = format!(
                "HTTP/1.1 503 Service Unavailable\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            if s.write_all(resp.as_bytes()).is_err() {
                return;
            }
        }
    });
    let url = server.url();
    let dir = tempdir();
    let path = fast(dir.path());
    let out = dir.path().join("r.json");
    let args = [
        "--users",
        "2",
        "--iterations",
        "1000",
        "--duration",
        "1s",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ];
    let o = run_cli(&against("run", &path, &url, &args), &[]).await;
    assert_eq!(o.exit, Exit::Failed, "{}", o.stdout);
    let r = read_results(&out);
    // 100 ms, 200, 400, 800 (each with up to half of it as jitter): at most ~5 tries per user
    // in 1 s, where without backoff there were thousands.
    assert!(r.flows.failed <= 12, "{} attempts in 1 s", r.flows.failed);
    assert!(r.flows.failed >= 2, "{} attempts in 1 s", r.flows.failed);
    assert!(r.backoff.waits >= 2, "{:?}", r.backoff);
    let e = &r.errors[0];
    assert_eq!((e.kind, e.phase), (ErrorCode::HttpStatus, Phase::Response));
    assert_eq!(
        e.causes[0].cause,
        format!("POST {url}/auth/login: HTTP 503 (expected [200]): overloaded")
    );
    assert!(o.stdout.contains("backoff: "), "{}", o.stdout);
}
