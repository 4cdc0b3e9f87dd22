//! Every envelope and handshake generation of the protocol: the golden path passes on each.

use crate::util::*;
use load_tester::exit::Exit;

async fn golden_with(mock: &[&str]) {
    let dir = tempdir();
    let out = dir.path().join("r.json");
    let golden = shipped("golden-path.toml");
    let mut args = vec![
        "run",
        &golden,
        "--mock",
        "--users",
        "3",
        "--iterations",
        "2",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(mock);
    let o = run_cli(&args, &[]).await;
    assert_eq!(
        o.exit,
        Exit::Passed,
        "{mock:?}:\n{}\n{}",
        o.stdout,
        o.stderr
    );
    let r = read_results(&out);
    assert_eq!((r.flows.passed, r.flows.failed), (6, 0), "{mock:?}");
    let chat = r.step("chat").unwrap();
    for e in GOLDEN {
        // Every flow got the event, the same number of times: count = flows × that number.
        let ev = chat.event(e).unwrap_or_else(|| panic!("{mock:?} {e}"));
        assert_eq!(ev.flows, 6, "{mock:?} {e}");
        let per = ev.per_flow.as_ref().expect("per-flow counts");
        assert_eq!(per.min, per.max, "{mock:?} {e}");
        assert!(per.min >= 1.0, "{mock:?} {e}");
        assert_eq!(ev.count as f64, 6.0 * per.min, "{mock:?} {e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flat_envelope() {
    golden_with(&["--envelope", "flat"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_envelope() {
    golden_with(&["--envelope", "data"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payload_envelope() {
    golden_with(&["--envelope", "payload"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_message_wrapper() {
    golden_with(&["--envelope", "system-message"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_handshake_generation() {
    golden_with(&["--handshake", "none"]).await;
}

/// Gen B: the mock drops messages sent before `handshake_acknowledged`, so passing proves the
/// responder answered with the captured thread_id and the handshake step waited for completion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phased_handshake_generation() {
    golden_with(&["--handshake", "phased"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phased_handshake_with_system_message_wrapper_and_many_tools() {
    golden_with(&[
        "--handshake",
        "phased",
        "--envelope",
        "system-message",
        "--tools",
        "3",
        "--thinking",
        "4",
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_tools_is_still_a_golden_path() {
    let dir = tempdir();
    let golden = shipped("golden-path.toml");
    let (o, out) = run_mock(
        dir.path(),
        &golden,
        &[
            "--users",
            "2",
            "--iterations",
            "2",
            "--quiet",
            "--tools",
            "0",
        ],
    )
    .await;
    assert_eq!(o.exit, Exit::Passed, "{}", o.stdout);
    let r = read_results(&out);
    let chat = r.step("chat").unwrap();
    assert_eq!(chat.event("agent_completed").unwrap().count, 4);
    assert_eq!(chat.event("tool_executing").unwrap().count, 0);
    assert_eq!(chat.event("tool_completed").unwrap().count, 0);
}
