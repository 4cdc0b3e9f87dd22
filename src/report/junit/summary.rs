//! JUnit cases from final results (`run`, `probe`, `merge`): one suite each for the steps, the
//! expected events, the thresholds and the verdict, every figure in the messages.
//!
//! Design choice: built from the `Summary` alone (no plan), so `merge` reports merged files the
//! way `run` reports its own results; an event is judged by the counts the results carry (how
//! many executions of its step received it, and whether the expectation requires it).

use std::fmt::Write as _;

use super::{Case, Failure, Suite};
use crate::metrics::summary::{
    ErrorCount, EventSummary, Latency, StepSummary, StoppedBy, Summary, ThresholdResult,
    ThresholdUnit, Verdict,
};

/// The four suites: `steps`, `events`, `thresholds`, `verdict`.
pub fn from_summary(s: &Summary) -> Vec<Suite> {
    let props = properties(s);
    let suite = |name: &str, time_s: f64, cases: Vec<Case>| Suite {
        name: name.into(),
        time_s,
        properties: props.clone(),
        cases,
    };
    let class = |suite: &str| format!("{}.{suite}", s.scenario);
    vec![
        suite(
            "steps",
            s.elapsed_s,
            s.steps
                .iter()
                .map(|st| step_case(s, st, &class("steps")))
                .collect(),
        ),
        suite(
            "events",
            0.0,
            s.steps
                .iter()
                .flat_map(|st| {
                    // Expected events are test cases; noise and error rows are not.
                    st.events
                        .iter()
                        .filter(|e| e.role == "expected")
                        .map(move |e| (st, e))
                })
                .map(|(st, e)| event_case(st, e, &class("events")))
                .collect(),
        ),
        suite(
            "thresholds",
            0.0,
            s.thresholds
                .iter()
                .map(|t| threshold_case(t, &class("thresholds")))
                .collect(),
        ),
    ]
    .into_iter()
    .chain(super::canary::suite(s, props.clone()))
    .chain([suite(
        "verdict",
        0.0,
        vec![verdict_case(s, &class("verdict"))],
    )])
    .collect()
}

/// Every suite's `<properties>`: what ran against what, when, and how it ended.
pub fn properties(s: &Summary) -> Vec<(String, String)> {
    [
        ("scenario", s.scenario.clone()),
        ("target", s.target.base_url.clone()),
        ("started_at", s.started_at.clone()),
        ("elapsed_s", format!("{:.3}", s.elapsed_s)),
        ("verdict", s.verdict.label().to_string()),
        ("exit_code", s.exit_code.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// `p50 1.20 p95 3.40 p99 5.00 max 6.10 mean 1.50 ms`.
pub fn percentiles(l: &Latency) -> String {
    format!(
        "p50 {:.2} p95 {:.2} p99 {:.2} max {:.2} mean {:.2} ms",
        l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms, l.mean_ms
    )
}

/// `error event: agent_error [error_event, events]: CAUSE` of the most frequent error.
fn error_line(e: &ErrorCount) -> String {
    let mut line = format!("{} [{}, {}]", e.detail, e.kind, e.phase);
    if let Some(c) = e.causes.first() {
        let _ = write!(line, ": {}", c.cause);
    }
    line
}

/// Every error of a step, one per line with its count, and its top causes indented.
fn error_text(errors: &[ErrorCount]) -> String {
    let mut text = String::new();
    for e in errors {
        let _ = writeln!(text, "{} x {} [{}, {}]", e.count, e.detail, e.kind, e.phase);
        for c in &e.causes {
            let _ = writeln!(text, "    {} x {}", c.count, c.cause);
        }
        if e.other_causes > 0 {
            let _ = writeln!(text, "    {} x other causes", e.other_causes);
        }
    }
    text
}

fn step_case(s: &Summary, st: &StepSummary, classname: &str) -> Case {
    let mut case = Case {
        name: st.name.clone(),
        classname: classname.into(),
        time_s: st.latency.mean_ms / 1000.0,
        ..Case::default()
    };
    if st.count == 0 {
        case.skipped = Some(if s.flows.failed > 0 {
            "never ran (an earlier step failed in every flow that reached it)".into()
        } else {
            "never ran".into()
        });
        return case;
    }
    let mut out = format!(
        "executions {} (ok {}, failed {}); {}",
        st.count,
        st.ok,
        st.failed,
        percentiles(&st.latency)
    );
    if let Some(settled) = &st.settled {
        let _ = write!(
            out,
            "; {} ended by waiting out the {:.0} ms settle",
            settled.count, settled.settle_ms
        );
    }
    case.system_out = Some(out);
    if st.failed > 0 {
        let top = st
            .errors
            .first()
            .map(|e| format!(" ({})", error_line(e)))
            .unwrap_or_default();
        let more = match st.errors.len() {
            0 | 1 => String::new(),
            n => format!(
                " and {} other error kind{}",
                n - 1,
                if n == 2 { "" } else { "s" }
            ),
        };
        case.failure = Some(Failure {
            message: format!(
                "{}: {} of {} failed{top}{more}",
                st.name, st.failed, st.count
            ),
            kind: "step_failed".into(),
            text: error_text(&st.errors),
        });
    }
    case
}

/// The step's `event_missing` errors that name this event (`event missing: NAME` or
/// `event missing: NAME (X came instead)`).
fn missing_errors<'a>(st: &'a StepSummary, event: &'a str) -> impl Iterator<Item = &'a ErrorCount> {
    st.errors.iter().filter(move |e| {
        e.kind == crate::metrics::errors::ErrorCode::EventMissing
            && e.detail
                .strip_prefix("event missing: ")
                .and_then(|rest| rest.strip_prefix(event))
                .is_some_and(|tail| tail.is_empty() || tail.starts_with(" ("))
    })
}

fn event_case(st: &StepSummary, e: &EventSummary, classname: &str) -> Case {
    let name = format!("{}.{}", st.name, e.name);
    let mut case = Case {
        name: name.clone(),
        classname: classname.into(),
        time_s: e.latency.mean_ms / 1000.0,
        ..Case::default()
    };
    if st.count == 0 {
        case.skipped = Some(format!("its step {} never ran", st.name));
        return case;
    }
    // Executions it came in (`count` is every occurrence: a repeated event comes more often).
    let received = format!(
        "received in {} of {} executions ({})",
        e.flows.min(st.count),
        st.count,
        if e.required { "required" } else { "optional" }
    );
    case.system_out = Some(if e.flows > 0 {
        format!("{received}; from the send: {}", percentiles(&e.latency))
    } else {
        received.clone()
    });
    let named: Vec<&ErrorCount> = missing_errors(st, &e.name).collect();
    let named_count: u64 = named.iter().map(|x| x.count).sum();
    let without = st.count.saturating_sub(e.flows);
    let (missed, why) = if e.required && without > 0 {
        // The most telling cause: an error naming this event, else the step's top error.
        let why = named.first().copied().or(st.errors.first());
        (without, why)
    } else if named_count > 0 {
        (named_count, named.first().copied())
    } else {
        return case;
    };
    let why = why
        .map(|x| format!(" ({})", error_line(x)))
        .unwrap_or_default();
    let mut text = format!("{received}\n");
    text.push_str(&error_text(&st.errors));
    case.failure = Some(Failure {
        message: format!(
            "{name}: not received in {missed} of {} executions{why}",
            st.count
        ),
        kind: "event_missing".into(),
        text,
    });
    case
}

/// A threshold value in its unit: `21.54 ms`, `1.20%`, `50.00/s`, `12`.
pub fn in_unit(v: f64, unit: ThresholdUnit) -> String {
    match unit {
        ThresholdUnit::Ms => format!("{v:.2} ms"),
        ThresholdUnit::Percent => format!("{v:.2}%"),
        ThresholdUnit::PerS => format!("{v:.2}/s"),
        ThresholdUnit::Count => format!("{v:.0}"),
    }
}

fn threshold_case(t: &ThresholdResult, classname: &str) -> Case {
    let mut case = Case {
        name: t.expr.clone(),
        classname: classname.into(),
        ..Case::default()
    };
    let observed = match (t.observed, t.margin) {
        (Some(o), Some(m)) if t.passed => format!(
            "observed {}, {} to spare",
            in_unit(o, t.unit),
            in_unit(m.abs(), t.unit)
        ),
        (Some(o), Some(m)) => format!(
            "observed {}, breached by {}",
            in_unit(o, t.unit),
            in_unit(m.abs(), t.unit)
        ),
        (Some(o), None) => format!("observed {}", in_unit(o, t.unit)),
        (None, _) => "nothing was measured".into(),
    };
    let mut text = format!("defined at {}", t.source);
    if t.abort_on_fail {
        text.push_str("; abort_on_fail");
    }
    if t.aborted {
        text.push_str("; its breach stopped the run");
    }
    if t.passed {
        case.system_out = Some(format!("{observed} ({text})"));
    } else {
        case.failure = Some(Failure {
            message: format!("{}: {observed}", t.expr),
            kind: "threshold".into(),
            text,
        });
    }
    case
}

fn verdict_case(s: &Summary, classname: &str) -> Case {
    let f = &s.flows;
    let ended = match s.stopped_by {
        StoppedBy::End => "ran to its end",
        StoppedBy::Signal => "stopped by a signal",
        StoppedBy::Threshold => "stopped by a threshold",
    };
    let mut text = format!(
        "flows: {} started, {} passed, {} failed, {} interrupted, {} dropped; {ended}",
        f.started, f.passed, f.failed, f.interrupted, f.dropped
    );
    let mut case = Case {
        name: "verdict".into(),
        classname: classname.into(),
        time_s: s.elapsed_s,
        ..Case::default()
    };
    if s.verdict == Verdict::Passed {
        case.system_out = Some(format!(
            "{} (exit {}); {text}",
            s.verdict.label(),
            s.exit_code
        ));
        return case;
    }
    for e in &s.tool_errors {
        let _ = write!(text, "\ntool error: {}", e.detail);
    }
    let breached = s.thresholds.iter().filter(|t| !t.passed).count();
    if breached > 0 {
        let _ = write!(
            text,
            "\n{breached} of {} thresholds breached",
            s.thresholds.len()
        );
    }
    if let Some(e) = s.errors.first() {
        let _ = write!(
            text,
            "\nmost frequent error: {} x {} in {}",
            e.count,
            error_line(e),
            e.step
        );
    }
    let why = match s.verdict {
        Verdict::Breached => format!("{breached} of {} thresholds breached", s.thresholds.len()),
        Verdict::Error => s
            .tool_errors
            .first()
            .map(|e| e.detail.clone())
            .unwrap_or_else(|| "an internal error in load-tester".into()),
        Verdict::Failed if f.failed == 0 && s.canary.as_ref().is_some_and(|c| c.failed()) => {
            let c = s.canary.as_ref().map_or(0, |c| c.flows.failed);
            format!("{c} canary flows failed (a real user failed under load); the load's passed")
        }
        _ => format!(
            "{} of {} flows failed, {} passed",
            f.failed, f.started, f.passed
        ),
    };
    case.failure = Some(Failure {
        message: format!("{} (exit {}): {why}", s.verdict.label(), s.exit_code),
        kind: serde_json::to_value(s.verdict)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "verdict".into()),
        text,
    });
    case
}

#[cfg(test)]
#[path = "summary_tests.rs"]
mod tests;
