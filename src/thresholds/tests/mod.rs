//! Thresholds: every statistic, unit and comparison parsed; values, margins and the no-data
//! breach judged on a Summary built from a compiled plan.

use std::path::Path;

use super::*;
use crate::metrics::recorder::{new_histogram, record, Recorder};
use crate::metrics::summary::{Latency, Mode, RunInfo, StoppedBy, Summary, Verdict};

const SCENARIO: &str = r#"
name = "t"
[[setup]]
name = "login"
http.url = "http://127.0.0.1:9/login"
[[steps]]
name = "connect"
ws.connect = "ws://127.0.0.1:9/ws"
[[steps]]
name = "chat"
ws.send = "hi"
ws.expect = "agent_started agent_completed"
"#;

pub(super) fn plan() -> Plan {
    crate::scenario::compile::compile(SCENARIO, Path::new("t.toml"), &Default::default(), &|_| {
        None
    })
    .expect("the test scenario compiles")
}

/// 10 s, nothing measured.
pub(super) fn empty(plan: &Plan) -> Summary {
    Summary::build(
        plan,
        &Recorder::new(plan),
        RunInfo {
            mode: Mode::Run,
            stopped_by: StoppedBy::End,
            tool_errors: Vec::new(),
            shard: Default::default(),
            started_at: "2024-01-01T00:00:00Z".into(),
            elapsed_s: 10.0,
            timeseries: Vec::new(),
        },
    )
}

/// Latency of `n` samples of `ms` milliseconds each, per (n, ms).
pub(super) fn latency(samples: &[(u64, u64)]) -> Latency {
    let mut h = new_histogram();
    for &(n, ms) in samples {
        for _ in 0..n {
            record(&mut h, ms * 1000);
        }
    }
    Latency::from_histogram(&h)
}

pub(super) fn parse(expr: &str) -> Result<Threshold, String> {
    Threshold::parse(expr, "--threshold", &Catalog::of_plan(&plan()))
}

#[test]
fn every_statistic_and_unit_parses() {
    let cases: [(&str, Metric, Op, f64, ThresholdUnit); 16] = [
        (
            "chat.agent_started.p95 < 2s",
            step("chat", Some("agent_started"), Stat::Quantile(950)),
            Op::Lt,
            2000.0,
            ThresholdUnit::Ms,
        ),
        (
            "chat.p50 <= 500ms",
            step("chat", None, Stat::Quantile(500)),
            Op::Le,
            500.0,
            ThresholdUnit::Ms,
        ),
        (
            "chat.p90 > 1.5s",
            step("chat", None, Stat::Quantile(900)),
            Op::Gt,
            1500.0,
            ThresholdUnit::Ms,
        ),
        (
            "login.p99 >= 250us",
            step("login", None, Stat::Quantile(990)),
            Op::Ge,
            0.25,
            ThresholdUnit::Ms,
        ),
        (
            "chat.agent_completed.p99.9<1m",
            step("chat", Some("agent_completed"), Stat::Quantile(999)),
            Op::Lt,
            60_000.0,
            ThresholdUnit::Ms,
        ),
        (
            "connect.max < 1h",
            step("connect", None, Stat::Max),
            Op::Lt,
            3_600_000.0,
            ThresholdUnit::Ms,
        ),
        (
            "connect.mean < 20µs",
            step("connect", None, Stat::Mean),
            Op::Lt,
            0.02,
            ThresholdUnit::Ms,
        ),
        (
            "chat.agent_completed.count > 0",
            step("chat", Some("agent_completed"), Stat::Count),
            Op::Gt,
            0.0,
            ThresholdUnit::Count,
        ),
        (
            "connect.rate > 50/s",
            step("connect", None, Stat::Rate),
            Op::Gt,
            50.0,
            ThresholdUnit::PerS,
        ),
        (
            "connect.errors < 10",
            step("connect", None, Stat::Errors),
            Op::Lt,
            10.0,
            ThresholdUnit::Count,
        ),
        (
            "connect.error_rate < 0.5%",
            step("connect", None, Stat::ErrorRate),
            Op::Lt,
            0.5,
            ThresholdUnit::Percent,
        ),
        (
            "iteration.p99 <= 5s",
            Metric::Iteration(Stat::Quantile(990)),
            Op::Le,
            5000.0,
            ThresholdUnit::Ms,
        ),
        (
            "flows.failed_rate < 1%",
            Metric::Flows(FlowStat::FailedRate),
            Op::Lt,
            1.0,
            ThresholdUnit::Percent,
        ),
        (
            "flows.rate > 50",
            Metric::Flows(FlowStat::Rate),
            Op::Gt,
            50.0,
            ThresholdUnit::PerS,
        ),
        (
            "dropped_rate < 0.1%",
            Metric::DroppedRate,
            Op::Lt,
            0.1,
            ThresholdUnit::Percent,
        ),
        (
            "dropped < 1",
            Metric::Dropped,
            Op::Lt,
            1.0,
            ThresholdUnit::Count,
        ),
    ];
    for (expr, metric, op, limit, unit) in cases {
        let t = parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
        assert_eq!(
            (&t.metric, t.op, t.metric.unit()),
            (&metric, op, unit),
            "{expr}"
        );
        assert!((t.limit - limit).abs() < 1e-9, "{expr}: {}", t.limit);
        assert_eq!(t.source, "--threshold");
    }
    // Normalized: single spaces, the value as written.
    assert_eq!(parse("  chat.p95<2s ").unwrap().expr, "chat.p95 < 2s");
    for flow in ["passed", "failed", "interrupted"] {
        let t = parse(&format!("flows.{flow} >= 3")).unwrap();
        assert_eq!(t.metric.unit(), ThresholdUnit::Count);
        assert_eq!(t.metric.name(), format!("flows.{flow}"));
    }
}

fn step(step: &str, event: Option<&str>, stat: Stat) -> Metric {
    Metric::Step {
        step: step.into(),
        event: event.map(Into::into),
        stat,
    }
}

#[test]
fn bad_thresholds_say_what_to_write() {
    for (expr, says) in [
        ("chat.p95 < 2", "`2` has no unit: `chat.p95` is a duration"),
        ("chat.p95 < 2sec", "unknown unit `sec`"),
        ("chat.p95 < 2%", "unknown unit `%`"),
        ("chat.error_rate < 1", "`1` needs `%`"),
        ("chat.error_rate < 101%", "at most 100%"),
        ("chat.count < 3ms", "`chat.count` is a count"),
        ("chat.rate > 3ms", "is a rate per second"),
        ("chat.p95 < -1s", "cannot be negative"),
        ("chat.p95 < fast", "`fast` is not a number"),
        ("chat.p95 <", "no value after `<`"),
        ("chat.p95 2s", "no comparison"),
        ("chat.p95 == 2s", "unknown comparison `==`"),
        ("chat.p95 != 2s", "unknown comparison `!=`"),
        ("< 2s", "no metric before the comparison"),
        (
            "chat.p95x < 2s",
            "unknown statistic `p95x` in `chat.p95x` (did you mean `p95`?)",
        ),
        (
            "chta.p95 < 2s",
            "unknown step `chta` (did you mean `chat`?)",
        ),
        (
            "chat.agent_startd.p95 < 2s",
            "no event `agent_startd` (did you mean `agent_started`?)",
        ),
        (
            "connect.agent_started.p95 < 2s",
            "step `connect` has no events",
        ),
        (
            "chat.agent_started.errors < 2",
            "`errors` is a statistic of a step",
        ),
        (
            "iteration.error_rate < 2%",
            "use flows.failed or flows.failed_rate",
        ),
        (
            "flows.failed_rat < 2%",
            "(did you mean `flows.failed_rate`?)",
        ),
        ("a.b.c.p95 < 2s", "`a.b.c.p95` is not a metric"),
        ("chat < 2s", "`chat` is not a metric"),
    ] {
        let e = parse(expr).expect_err(expr);
        assert!(e.contains(says), "{expr}: {e}");
    }
}

#[test]
fn values_margins_and_units_on_a_summary() {
    let plan = plan();
    let mut s = empty(&plan);
    // chat: 100 ok, 2 failed; agent_started 90 at 10 ms and 10 at 40 ms; 10 s run.
    let chat = s.steps.iter_mut().find(|x| x.name == "chat").unwrap();
    chat.count = 102;
    chat.ok = 100;
    chat.failed = 2;
    chat.latency = latency(&[(100, 100)]);
    let started = chat
        .events
        .iter_mut()
        .find(|e| e.name == "agent_started")
        .unwrap();
    started.count = 100;
    started.latency = latency(&[(90, 10), (10, 40)]);
    s.flows.started = 105;
    s.flows.passed = 100;
    s.flows.failed = 2;
    s.flows.interrupted = 3;
    s.flows.dropped = 45;
    s.iteration = latency(&[(100, 200)]);
    let judged = |expr: &str| evaluate(&parse(expr).unwrap(), &s);
    let value = |expr: &str| judged(expr).observed.unwrap_or(f64::NAN);
    let near = |a: f64, b: f64| (a - b).abs() <= b.abs() * 0.001 + 1e-9;
    assert!(near(value("chat.agent_started.p95 < 1s"), 40.0));
    assert!(near(value("chat.agent_started.p50 < 1s"), 10.0));
    assert!(near(value("chat.agent_started.max < 1s"), 40.0));
    assert!(near(value("chat.agent_started.mean < 1s"), 13.0));
    assert_eq!(value("chat.agent_started.count > 0"), 100.0);
    assert_eq!(value("chat.agent_started.rate > 0"), 10.0);
    assert_eq!(value("chat.count > 0"), 102.0);
    assert_eq!(value("chat.rate > 0"), 10.2);
    assert_eq!(value("chat.errors < 1"), 2.0);
    assert!(near(value("chat.error_rate < 1%"), 200.0 / 102.0));
    assert!(near(value("iteration.p99 < 1s"), 200.0));
    assert_eq!(value("iteration.count > 0"), 100.0);
    assert_eq!(value("iteration.rate > 0"), 10.0);
    assert!(near(value("flows.failed_rate < 1%"), 200.0 / 102.0));
    assert_eq!(value("flows.rate > 0"), 10.2);
    assert_eq!(value("flows.passed > 0"), 100.0);
    assert_eq!(value("flows.failed > 0"), 2.0);
    assert_eq!(value("flows.interrupted > 0"), 3.0);
    assert_eq!(value("dropped > 0"), 45.0);
    assert_eq!(value("dropped_rate < 1%"), 30.0);

    // Margins: limit − observed for < and <=, observed − limit for > and >=.
    let r = judged("chat.agent_started.p95 < 50ms");
    let o = r.observed.unwrap();
    assert!(
        r.passed && r.margin == Some(50.0 - o) && (o - 40.0).abs() < 0.1,
        "{r:?}"
    );
    let r = judged("chat.agent_started.p95 < 5ms");
    assert!(!r.passed && r.margin == Some(5.0 - o), "{r:?}");
    let r = judged("flows.passed >= 90");
    assert!(r.passed && r.margin == Some(10.0), "{r:?}");
    let r = judged("flows.passed > 100");
    assert!(!r.passed && r.margin == Some(0.0), "{r:?}");
    assert!(judged("flows.passed >= 100").passed);
    assert!(judged("flows.failed <= 2").passed && !judged("flows.failed < 2").passed);
    let r = judged("dropped_rate < 0.1%");
    assert_eq!(
        (r.unit, r.limit, r.op.as_str()),
        (ThresholdUnit::Percent, 0.1, "<")
    );
}

#[test]
fn nothing_measured_is_a_breach_never_a_pass() {
    let plan = plan();
    let s = empty(&plan);
    for expr in [
        "chat.agent_started.p95 < 1h",
        "chat.p99.9 < 1h",
        "chat.error_rate <= 100%",
        "iteration.mean < 1h",
        "flows.failed_rate < 100%",
        "dropped_rate < 100%",
    ] {
        let r = evaluate(&parse(expr).unwrap(), &s);
        assert_eq!(
            (r.observed, r.margin, r.passed),
            (None, None, false),
            "{expr}"
        );
    }
    // A count of nothing is a measured zero.
    let r = evaluate(&parse("chat.agent_completed.count > 0").unwrap(), &s);
    assert_eq!((r.observed, r.passed), (Some(0.0), false));
    let set = [parse("chat.agent_completed.count >= 0").unwrap()];
    // Judged: thresholds are the verdict, but a run where no flow passed still does not pass.
    assert_eq!(judge(s.clone(), &set, &[]).verdict, Verdict::Failed);
    let set = [parse("chat.p95 < 1h").unwrap()];
    assert_eq!(judge(s, &set, &[]).verdict, Verdict::Breached);
}

#[test]
fn p99_9_comes_from_the_histogram() {
    let plan = plan();
    let mut s = empty(&plan);
    let chat = s.steps.iter_mut().find(|x| x.name == "chat").unwrap();
    // 9,980 at 1 ms and 20 at 500 ms: p99 is 1 ms, p99.9 is 500 ms.
    chat.latency = latency(&[(9_980, 1), (20, 500)]);
    chat.ok = 10_000;
    chat.count = 10_000;
    let value = |expr: &str| evaluate(&parse(expr).unwrap(), &s).observed.unwrap();
    assert!((value("chat.p99 < 1s") - 1.0).abs() < 0.01);
    assert!((value("chat.p99.9 < 1s") - 500.0).abs() < 0.5);
}

#[test]
fn combine_keeps_each_expression_once_and_aborted_results_stand() {
    let plan = plan();
    let a = parse("chat.p95 < 2s").unwrap();
    let mut b = parse("chat.p95  <  2s").unwrap();
    b.source = "LOAD_TESTER_THRESHOLD".into();
    let c = parse("flows.passed > 0").unwrap();
    let all = combine(std::slice::from_ref(&a), vec![b, c.clone()]);
    assert_eq!(all, vec![a.clone(), c]);
    // An aborted check's result stands as it was when it stopped the run.
    let s = empty(&plan);
    let mut stood = evaluate(&a, &s);
    stood.observed = Some(3000.0);
    stood.aborted = true;
    stood.aborted_at_s = Some(3.0);
    let judged = judge(s, &[a], std::slice::from_ref(&stood));
    assert_eq!(judged.thresholds, vec![stood]);
    assert_eq!(judged.verdict, Verdict::Breached);
}

mod text;
