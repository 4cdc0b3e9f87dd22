//! Output contracts pinned by snapshots (insta, tests/snapshots/): the text summary of results
//! built from fixed samples, and the probe's report of a constructed trace. Deterministic: no
//! server, no clock. Update after an intended change: `INSTA_UPDATE=always cargo test --locked
//! --test it pinned`, then review `git diff tests/snapshots`.

use std::time::Duration;

use load_tester::metrics::errors::{ErrorKind, EventRef, Failure, Phase};
use load_tester::metrics::summary::Summary;
use load_tester::probe::{Entry, Outcome, Trace};
use load_tester::report::text::Text;
use load_tester::report::Render;

use crate::samples;

/// Where the snapshots live and what varies between runs (redacted).
pub fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("../snapshots");
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    s.add_filter(r"127\.0\.0\.1:[0-9]{2,5}", "127.0.0.1:[port]");
    s.add_filter(r"/tmp/\.tmp[A-Za-z0-9]+", "[tmp]");
    s.add_filter(env!("CARGO_MANIFEST_DIR"), "[repo]");
    s
}

fn text(s: &Summary) -> String {
    let mut out = Vec::new();
    Text.write(s, &mut out).expect("render into memory");
    String::from_utf8(out).expect("the summary is UTF-8")
}

#[test]
fn text_summaries() {
    for (name, summary) in samples::all() {
        settings().bind(|| {
            insta::assert_snapshot!(format!("summary_{name}"), text(&summary));
        });
    }
}

#[test]
fn the_samples_have_the_verdicts_they_are_named_for() {
    use load_tester::metrics::summary::Verdict::*;
    let verdicts: Vec<_> = samples::all()
        .into_iter()
        .map(|(name, s)| (name, s.verdict, s.exit_code))
        .collect();
    assert_eq!(
        verdicts,
        [
            ("passed", Passed, 0),
            ("failed", Failed, 1),
            ("open", Passed, 0),
            ("interrupted", Interrupted, 3),
            ("tool_errors", Error, 3),
        ]
    );
}

fn ms(x: f64) -> Duration {
    Duration::from_secs_f64(x / 1000.0)
}

fn entry(step: &str, outcome: Outcome, events: &[(&str, f64)]) -> Entry {
    Entry {
        step: step.into(),
        outcome,
        events: events
            .iter()
            .map(|(n, t)| (n.to_string(), ms(*t)))
            .collect(),
    }
}

const EVENTS: [(&str, f64); 5] = [
    ("agent_started", 181.25),
    ("agent_thinking", 372.5),
    ("tool_executing", 575.0),
    ("tool_completed", 781.75),
    ("agent_completed", 990.0),
];

const HANDSHAKE: [(&str, f64); 2] = [("handshake_response", 20.0), ("handshake_complete", 42.5)];

#[test]
fn probe_reports() {
    let plan = samples::closed_plan();
    let mut passed = Trace::default();
    passed.entries = vec![
        entry("login", Outcome::Passed(ms(41.25)), &[]),
        entry("connect", Outcome::Passed(ms(1.5)), &[]),
        entry("handshake", Outcome::Passed(ms(42.5)), &HANDSHAKE),
        entry("chat", Outcome::Passed(ms(990.0)), &EVENTS),
        entry("close", Outcome::Passed(ms(0.4)), &[]),
    ];
    let missing = Failure::new(
        ErrorKind::EventMissing {
            missing: samples::event(&plan, "tool_completed"),
            got: Some(EventRef::Unknown(0)),
        },
        Phase::Events,
    );
    let closed = Failure::new(ErrorKind::WsClosed(Some(1011)), Phase::Frame)
        .cause("ws://localhost:8000: close frame 1011 \"internal error\"");
    let mut failed = Trace::default();
    failed.entries = vec![
        entry("login", Outcome::Passed(ms(41.25)), &[]),
        entry("connect", Outcome::Passed(ms(1.5)), &[]),
        entry("handshake", Outcome::Settled(ms(300.0)), &[]),
        entry("chat", Outcome::Failed(missing), &EVENTS[..3]),
        entry("close", Outcome::Skipped, &[]),
    ];
    let mut closed_early = Trace::default();
    closed_early.entries = vec![
        entry("login", Outcome::Passed(ms(41.25)), &[]),
        entry("connect", Outcome::Passed(ms(1.5)), &[]),
        entry("handshake", Outcome::Settled(ms(300.0)), &[]),
        entry("chat", Outcome::Failed(closed), &EVENTS[..1]),
        entry("close", Outcome::Skipped, &[]),
    ];
    let unknown = ["agent_paused".to_string()];
    let render = |t: &Trace| load_tester::probe::render(&plan, t, &unknown);
    settings().bind(|| {
        insta::assert_snapshot!("probe_passed", render(&passed));
        insta::assert_snapshot!("probe_failed", render(&failed));
        insta::assert_snapshot!("probe_closed_with_cause", render(&closed_early));
        // What the trace cannot show: where a signal cut the flow, and the tool's own failures.
        insta::assert_snapshot!(
            "probe_end_interrupted",
            load_tester::probe::render_end(&samples::interrupted())
        );
        insta::assert_snapshot!(
            "probe_end_tool_errors",
            load_tester::probe::render_end(&samples::tool_errors())
        );
    });
}

/// The rare parts of the results (tool errors, interrupted places, corrected latencies, causes)
/// match the committed schema too.
#[test]
fn sample_results_match_the_schema() {
    for (name, s) in samples::all() {
        let v = serde_json::to_value(&s).expect("results serialize");
        crate::schema::assert_valid(&v);
        let back: Summary = serde_json::from_value(v).expect("results parse back");
        assert_eq!((back.verdict, back.flows), (s.verdict, s.flows), "{name}");
    }
}

/// The whole probe output against the mock, timings redacted: the header, a line per step, the
/// events, the verdict line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_against_the_mock() {
    let dir = crate::util::tempdir();
    let path = crate::util::scenario(dir.path(), "s.toml", &crate::util::fast_golden(""));
    let path = path.to_str().expect("UTF-8 path");
    let passed = crate::util::run_cli(&["probe", path, "--mock"], &[]).await;
    let failed = crate::util::run_cli(
        &[
            "probe",
            path,
            "--mock",
            "--fault",
            "drop:tool_completed",
            "--fault-rate",
            "1",
        ],
        &[],
    )
    .await;
    assert_eq!(passed.exit.code(), 0, "{}{}", passed.stdout, passed.stderr);
    assert_eq!(failed.exit.code(), 1, "{}{}", failed.stdout, failed.stderr);
    let mut s = settings();
    // The padding before a time depends on its width: redacted with it.
    s.add_filter(r" +[0-9]+\.[0-9]{2} ms", " [t] ms");
    s.add_filter(r" in [0-9]+ ms \(exit", " in [t] ms (exit");
    // The failed flow's transcript: its times, sizes and bodies (ids, timestamps) vary.
    s.add_filter(r"started [0-9.]+ s into", "started [t] s into");
    s.add_filter(r"(?m)^ +[0-9]+\.[0-9] ms ([→←])", "  [t] ms $1");
    s.add_filter(r"\([0-9]+ B\)", "([n] B)");
    s.add_filter(r"(?m) \{.*$", " {…}");
    s.bind(|| {
        insta::assert_snapshot!("probe_mock_passed", passed.stdout);
        insta::assert_snapshot!("probe_mock_failed", failed.stdout);
    });
}
