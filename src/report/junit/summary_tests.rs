//! `from_summary` on hand-built results: the cases, their failures and the figures in messages.

use super::*;
use crate::metrics::errors::{ErrorKind, EventRef, Failure as StepFailure};
use crate::metrics::recorder::{record, Recorder};
use crate::metrics::summary::{Mode, RunInfo, StoppedBy, ThresholdUnit};
use crate::plan::Plan;
use crate::scenario::{self, Overrides};

fn plan() -> Plan {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/golden-path.toml");
    scenario::load(&path, &Overrides::default(), &|_| None).expect("golden path compiles")
}

/// 120 flows of the golden path: 117 pass; 3 fail at `chat` on an `agent_error` event.
fn results(failed: u64) -> Summary {
    let plan = plan();
    let mut rec = Recorder::new(&plan);
    let chat = plan.steps.iter().position(|s| s.name == "chat").unwrap();
    for i in 0..120u64 {
        rec.flows_started += 1;
        let fails = i < failed;
        for s in 0..rec.steps.len() {
            if s == chat && fails {
                let ev = match plan.event_id("agent_error") {
                    Some(id) => EventRef::Known(id),
                    None => rec.unknown_event("agent_error"),
                };
                let f = StepFailure::new(
                    ErrorKind::ErrorEvent(ev),
                    crate::metrics::errors::Phase::Events,
                )
                .cause("ws://127.0.0.1:1/ws: agent_error \"boom\" <&>");
                rec.step_err(s as u16, &f);
                break;
            }
            rec.steps[s].ok += 1;
            record(&mut rec.steps[s].latency, 1000 + i);
        }
        for h in rec.expected_events(&plan) {
            record(h, 2000 + i);
        }
        if fails {
            rec.flows_failed += 1;
        } else {
            rec.flows_passed += 1;
            record(&mut rec.iteration, 50_000 + i);
        }
    }
    let info = RunInfo {
        mode: Mode::Run,
        stopped_by: StoppedBy::End,
        tool_errors: Vec::new(),
        shard: crate::shard::Shard::default(),
        started_at: "2026-11-25T10:00:00.000Z".into(),
        elapsed_s: 10.0,
        timeseries: Vec::new(),
    };
    let mut s = Summary::build(&plan, &rec, info);
    // What the recorder saw of each event: the handshake (optional) never came, nor the tools
    // (optional); agent_completed missed the failed flows.
    for st in &mut s.steps {
        for e in &mut st.events {
            e.count = match e.name.as_str() {
                "agent_started" | "agent_thinking" => 120,
                "agent_completed" => 120 - failed,
                _ => 0,
            };
            // One occurrence a flow: it came in as many executions.
            e.flows = e.count;
        }
    }
    s
}

fn threshold(expr: &str, observed: f64, limit: f64) -> ThresholdResult {
    ThresholdResult {
        expr: expr.into(),
        source: "--threshold".into(),
        metric: expr.split(' ').next().unwrap().into(),
        op: "<".into(),
        limit,
        unit: ThresholdUnit::Ms,
        observed: Some(observed),
        passed: observed < limit,
        margin: Some(limit - observed),
        abort_on_fail: false,
        aborted: false,
        aborted_at_s: None,
    }
}

fn suite<'a>(suites: &'a [Suite], name: &str) -> &'a Suite {
    suites.iter().find(|s| s.name == name).expect(name)
}

fn failures(s: &Suite) -> Vec<(&str, &str)> {
    s.cases
        .iter()
        .filter_map(|c| {
            c.failure
                .as_ref()
                .map(|f| (c.name.as_str(), f.message.as_str()))
        })
        .collect()
}

#[test]
fn a_failing_step_and_its_missing_event() {
    let s = results(3);
    let suites = from_summary(&s);
    let names: Vec<&str> = suites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["steps", "events", "thresholds", "verdict"]);

    let steps = suite(&suites, "steps");
    assert_eq!(steps.cases.len(), 5);
    assert!(steps
        .cases
        .iter()
        .all(|c| c.classname == "golden-path.steps"));
    assert_eq!(
        failures(steps),
        [(
            "chat",
            "chat: 3 of 120 failed (error event: agent_error [error_event, events]: \
             ws://127.0.0.1:1/ws: agent_error \"boom\" <&>)"
        )]
    );
    let chat = steps.cases.iter().find(|c| c.name == "chat").unwrap();
    let f = chat.failure.as_ref().unwrap();
    assert_eq!(f.kind, "step_failed");
    assert!(
        f.text.starts_with("3 x error event: agent_error"),
        "{}",
        f.text
    );
    let close = steps.cases.iter().find(|c| c.name == "close").unwrap();
    let out = close.system_out.as_deref().unwrap();
    assert!(
        out.starts_with("executions 117 (ok 117, failed 0); p50 "),
        "{out}"
    );
    assert!(out.contains(" p95 ") && out.contains(" p99 "), "{out}");

    let events = suite(&suites, "events");
    assert_eq!(
        events.cases.len(),
        7,
        "2 handshake events and the golden five"
    );
    assert_eq!(
        failures(events),
        [(
            "chat.agent_completed",
            "chat.agent_completed: not received in 3 of 120 executions (error event: \
             agent_error [error_event, events]: ws://127.0.0.1:1/ws: agent_error \"boom\" <&>)"
        )]
    );
    let hs = events
        .cases
        .iter()
        .find(|c| c.name == "handshake.handshake_response")
        .unwrap();
    assert_eq!(
        hs.system_out.as_deref(),
        Some("received in 0 of 120 executions (optional)")
    );
    assert!(suite(&suites, "thresholds").cases.is_empty());

    let verdict = &suite(&suites, "verdict").cases[0];
    let f = verdict.failure.as_ref().unwrap();
    assert_eq!(
        f.message,
        "FAILED (exit 1): 3 of 120 flows failed, 117 passed"
    );
    assert_eq!(f.kind, "failed");
    let props: Vec<&str> = steps.properties.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        props,
        [
            "scenario",
            "target",
            "started_at",
            "elapsed_s",
            "verdict",
            "exit_code"
        ]
    );
    assert!(steps
        .properties
        .contains(&("verdict".into(), "FAILED".into())));
}

#[test]
fn a_required_event_never_seen_fails() {
    let mut s = results(0);
    let chat = s.steps.iter_mut().find(|st| st.name == "chat").unwrap();
    chat.events.iter_mut().for_each(|e| {
        if e.name == "agent_thinking" {
            e.count = 0;
            e.flows = 0;
        }
    });
    let suites = from_summary(&s);
    assert_eq!(
        failures(suite(&suites, "events")),
        [(
            "chat.agent_thinking",
            "chat.agent_thinking: not received in 120 of 120 executions"
        )]
    );
}

#[test]
fn thresholds_are_cases_with_their_figures() {
    let mut s = results(0);
    s.thresholds = vec![
        threshold("chat.agent_started.p95 < 5ms", 21.54, 5.0),
        threshold("login.p99 < 500ms", 3.25, 500.0),
    ];
    let s = s.conclude();
    let suites = from_summary(&s);
    let th = suite(&suites, "thresholds");
    assert_eq!(th.cases.len(), 2);
    assert_eq!(
        failures(th),
        [(
            "chat.agent_started.p95 < 5ms",
            "chat.agent_started.p95 < 5ms: observed 21.54 ms, breached by 16.54 ms"
        )]
    );
    assert_eq!(th.cases[0].failure.as_ref().unwrap().kind, "threshold");
    assert_eq!(
        th.cases[1].system_out.as_deref(),
        Some("observed 3.25 ms, 496.75 ms to spare (defined at --threshold)")
    );
    let verdict = &suite(&suites, "verdict").cases[0];
    assert_eq!(
        verdict.failure.as_ref().unwrap().message,
        "THRESHOLDS BREACHED (exit 4): 1 of 2 thresholds breached"
    );
    assert!(failures(suite(&suites, "steps")).is_empty());
    assert!(failures(suite(&suites, "events")).is_empty());
}

#[test]
fn a_passing_run_has_no_failure() {
    let s = results(0);
    assert_eq!(s.verdict, Verdict::Passed);
    let suites = from_summary(&s);
    let total: usize = suites.iter().map(|s| s.cases.len()).sum();
    assert_eq!(total, 5 + 7 + 1);
    assert!(suites.iter().all(|s| failures(s).is_empty()));
    let v = &suite(&suites, "verdict").cases[0];
    assert!(v
        .system_out
        .as_deref()
        .unwrap()
        .starts_with("PASSED (exit 0); flows: 120 started, 120 passed"));
    let mut xml = Vec::new();
    super::super::write("run", &suites, &mut xml).unwrap();
    let xml = String::from_utf8(xml).unwrap();
    assert!(xml.contains(r#"tests="13" failures="0""#), "{xml}");
}
