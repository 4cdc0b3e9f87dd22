//! `abort_on_fail`: a threshold breached mid-run by a target that slows down stops the run
//! within 2 s of the breach, with the verdict `breached` and every output written whole.

use load_tester::exit::Exit;
use load_tester::metrics::summary::{StoppedBy, Verdict};

use crate::util::*;

/// The mock slows down 2 s in (every later flow waits 200 ms before agent_started); the
/// `abort_on_fail` threshold stops the 30 s run soon after, and every output is complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_on_fail_stops_the_run_soon_after_the_breach_and_writes_everything() {
    let dir = tempdir();
    let text = format!(
        "{}\n[thresholds]\n\"chat.agent_started.p95\" = {{ check = \"< 100ms\", abort_on_fail = true, delay = \"1s\" }}\n",
        fast_golden("")
    );
    let path = scenario(dir.path(), "s.toml", &text);
    let (log, rdir) = (dir.path().join("h.hlog"), dir.path().join("results"));
    let started = std::time::Instant::now();
    let (o, out) = run_mock(
        dir.path(),
        path.to_str().unwrap(),
        &[
            "-q",
            "-u",
            "3",
            "-d",
            "30s",
            "-i",
            "100000",
            "--delay",
            "20ms",
            "--fault",
            "slowdown:after=2s,delay=200ms",
            "--hdr-log",
            log.to_str().unwrap(),
            "--results-dir",
            rdir.to_str().unwrap(),
        ],
    )
    .await;
    let wall = started.elapsed().as_secs_f64();
    assert_eq!(o.exit, Exit::Breached, "{}{}", o.stdout, o.stderr);
    let s = read_results(&out);
    assert_eq!(
        (s.stopped_by, s.verdict, s.exit_code),
        (StoppedBy::Threshold, Verdict::Breached, 4)
    );
    let t = &s.thresholds[0];
    assert!(t.aborted && t.abort_on_fail && !t.passed, "{t:?}");
    let at = t.aborted_at_s.expect("when it was found");
    assert!(t.observed.unwrap() >= 100.0, "{t:?}");
    // Nothing slowed before 2 s, so no check could breach before then; the check one interval
    // earlier passed, so the breach came after `at - 1`: the stop is within 2 s of it.
    assert!(at >= 2.0, "{at}");
    assert!(
        s.elapsed_s - (at - 1.0) <= 2.0,
        "aborted at {at}, stopped at {}",
        s.elapsed_s
    );
    assert!(s.elapsed_s < 6.0 && wall < 10.0, "{} {wall}", s.elapsed_s);
    // The slowdown shows in the time series before the check that found it.
    assert!(
        s.timeseries.iter().any(|i| i.t_s <= at
            && i.steps
                .iter()
                .any(|p| p.name == "chat" && p.p95_ms >= 200.0)),
        "{:?}",
        s.timeseries
    );
    assert!(o
        .stdout
        .contains("stopped by threshold `chat.agent_started.p95 < 100ms` (abort_on_fail)"));
    assert!(o.stdout.contains("stopped the run"), "{}", o.stdout);

    // Every output whole: the results directory holds the same results and the summary; the
    // HDR log holds every agent_started the results count.
    let same = read_results(&rdir.join("results.json"));
    assert_eq!(same, s);
    let txt = std::fs::read_to_string(rdir.join("summary.txt")).unwrap();
    assert!(
        txt.contains("verdict: THRESHOLDS BREACHED (exit 4)"),
        "{txt}"
    );
    let logged = hdr_log_counts(&std::fs::read(&log).unwrap())
        .get("chat.agent_started")
        .copied()
        .unwrap_or(0);
    let counted = s
        .step("chat")
        .unwrap()
        .event("agent_started")
        .unwrap()
        .count;
    assert!(counted > 0);
    assert_eq!(logged, counted);
}

/// With `--processes`, each child checks `abort_on_fail` on its share; a child's abort stands in
/// the parent's verdict (breached, `stopped_by: threshold`), whatever the merged figures say.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_childs_abort_stands_in_the_merged_verdict() {
    let dir = tempdir();
    let text = format!(
        "{}\n[thresholds]\n\"chat.agent_started.p95\" = {{ check = \"< 100ms\", abort_on_fail = true, delay = \"1s\" }}\n",
        fast_golden("")
    );
    let path = scenario(dir.path(), "s.toml", &text);
    let (o, out) = run_mock(
        dir.path(),
        path.to_str().unwrap(),
        &[
            "-q",
            "-u",
            "4",
            "-d",
            "30s",
            "-i",
            "100000",
            "--processes",
            "2",
            "--delay",
            "20ms",
            "--fault",
            "slowdown:after=2s,delay=200ms",
        ],
    )
    .await;
    assert_eq!(o.exit, Exit::Breached, "{}{}", o.stdout, o.stderr);
    let s = read_results(&out);
    assert_eq!(
        (s.stopped_by, s.verdict),
        (StoppedBy::Threshold, Verdict::Breached)
    );
    assert_eq!(s.generators, 2);
    let t = &s.thresholds[0];
    assert!(t.aborted && !t.passed, "{t:?}");
    assert!(t.aborted_at_s.is_some_and(|at| at >= 2.0), "{t:?}");
    assert!(s.elapsed_s < 10.0, "{}", s.elapsed_s);
}
