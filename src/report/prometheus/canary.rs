//! The canary's series on the metrics page (`run --canary-every`): families of their own, named
//! `load_tester_canary_*`, so no sum over the load's series ever counts the canary's flows.
//!
//! Live figures come from the canary's last published snapshot (after each of its flows); the
//! final page's from the results, as the load's do.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::figures::Quantiles;
use super::{family, label, summary_samples};
use crate::metrics::canary::Canary;
use crate::plan::Plan;
use crate::runner::canary::Snapshot;

/// What the page shows of the canary.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct CanaryFigures {
    started: u64,
    passed: u64,
    failed: u64,
    interrupted: u64,
    skipped: u64,
    /// Per step: name, ok, failed, latency of the successful executions.
    steps: Vec<(String, u64, u64, Quantiles)>,
    /// By (step, error kind code).
    errors: BTreeMap<(String, &'static str), u64>,
}

impl CanaryFigures {
    pub(super) fn of_snapshot(plan: &Plan, s: &Snapshot) -> CanaryFigures {
        let rec = &s.rec;
        let mut errors = BTreeMap::new();
        for (step, r) in plan.steps.iter().zip(&rec.steps) {
            for ((kind, _), stat) in &r.errors {
                *errors
                    .entry((step.name.clone(), kind.code().as_str()))
                    .or_default() += stat.count;
            }
        }
        CanaryFigures {
            started: rec.flows_started,
            passed: rec.flows_passed,
            failed: rec.flows_failed,
            interrupted: rec.flows_interrupted(),
            skipped: s.skipped,
            steps: plan
                .steps
                .iter()
                .zip(&rec.steps)
                .map(|(st, r)| {
                    let q = Quantiles::of_histogram(&r.latency);
                    (st.name.clone(), r.ok, r.failed(), q)
                })
                .collect(),
            errors,
        }
    }

    pub(super) fn of_results(c: &Canary) -> CanaryFigures {
        let mut errors = BTreeMap::new();
        for e in &c.errors {
            *errors.entry((e.step.clone(), e.kind.as_str())).or_default() += e.count;
        }
        CanaryFigures {
            started: c.flows.started,
            passed: c.flows.passed,
            failed: c.flows.failed,
            interrupted: c.flows.interrupted,
            skipped: c.flows.skipped,
            steps: c
                .steps
                .iter()
                .map(|st| {
                    let q = Quantiles::of_latency(&st.latency);
                    (st.name.clone(), st.ok, st.failed, q)
                })
                .collect(),
            errors,
        }
    }
}

/// Appends the canary's families to a page.
pub(super) fn render(o: &mut String, f: &CanaryFigures) {
    family(
        o,
        "load_tester_canary_flows_started_total",
        "counter",
        "Canary flows started (the canary user, apart from the load).",
    );
    let _ = writeln!(o, "load_tester_canary_flows_started_total {}", f.started);
    family(
        o,
        "load_tester_canary_flows_total",
        "counter",
        "Canary flows ended, by outcome: passed, failed, or interrupted by the end of the run or a signal.",
    );
    for (outcome, n) in [
        ("passed", f.passed),
        ("failed", f.failed),
        ("interrupted", f.interrupted),
    ] {
        let _ = writeln!(
            o,
            "load_tester_canary_flows_total{{outcome=\"{outcome}\"}} {n}"
        );
    }
    family(
        o,
        "load_tester_canary_ticks_skipped_total",
        "counter",
        "Canary ticks that started no flow because the previous canary flow still ran.",
    );
    let _ = writeln!(o, "load_tester_canary_ticks_skipped_total {}", f.skipped);
    family(
        o,
        "load_tester_canary_step_executions_total",
        "counter",
        "Canary step executions by result (ok or failed).",
    );
    for (name, ok, failed, _) in &f.steps {
        let step = label(name);
        let _ = writeln!(
            o,
            "load_tester_canary_step_executions_total{{step=\"{step}\",result=\"ok\"}} {ok}"
        );
        let _ = writeln!(
            o,
            "load_tester_canary_step_executions_total{{step=\"{step}\",result=\"failed\"}} {failed}"
        );
    }
    family(
        o,
        "load_tester_canary_step_latency_seconds",
        "summary",
        "Duration of the canary's successful step executions, since the start of the run.",
    );
    for (name, _, _, q) in &f.steps {
        let labels = format!("step=\"{}\"", label(name));
        summary_samples(o, "load_tester_canary_step_latency_seconds", &labels, q);
    }
    family(
        o,
        "load_tester_canary_errors_total",
        "counter",
        "Canary step failures by step and error kind.",
    );
    for ((step, kind), n) in &f.errors {
        let _ = writeln!(
            o,
            "load_tester_canary_errors_total{{step=\"{}\",kind=\"{kind}\"}} {n}",
            label(step)
        );
    }
}
