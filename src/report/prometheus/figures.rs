//! The figures a metrics page shows, taken from the cumulative recorder (each interval) or
//! from the final results (at the end) with the same arithmetic, so both agree to the last digit.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use crate::metrics::recorder::Recorder;
use crate::metrics::summary::{Latency, Summary};
use crate::plan::Plan;

/// Quantiles of every latency summary.
pub(super) const QUANTILES: [(f64, &str); 4] =
    [(0.5, "0.5"), (0.9, "0.9"), (0.95, "0.95"), (0.99, "0.99")];

/// One latency summary, in seconds.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Quantiles {
    /// At `QUANTILES`; NaN when nothing was observed (Prometheus' convention).
    pub(super) at: [f64; 4],
    pub(super) sum: f64,
    pub(super) count: u64,
}

impl Quantiles {
    pub(super) fn of_histogram(h: &Histogram<u64>) -> Quantiles {
        if h.is_empty() {
            return Quantiles::empty();
        }
        Quantiles {
            // As `Latency::from_histogram` computes them (µs → ms), then in seconds.
            at: QUANTILES.map(|(q, _)| h.value_at_quantile(q) as f64 / 1000.0 / 1000.0),
            sum: h.mean() / 1000.0 * h.len() as f64 / 1000.0,
            count: h.len(),
        }
    }

    pub(super) fn of_latency(l: &Latency) -> Quantiles {
        if l.count == 0 {
            return Quantiles::empty();
        }
        Quantiles {
            at: [l.p50_ms, l.p90_ms, l.p95_ms, l.p99_ms].map(|ms| ms / 1000.0),
            sum: l.mean_ms * l.count as f64 / 1000.0,
            count: l.count,
        }
    }

    pub(super) fn empty() -> Quantiles {
        Quantiles {
            at: [f64::NAN; 4],
            sum: 0.0,
            count: 0,
        }
    }
}

/// Everything the page shows, built from the cumulative recorder or from the final results.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Figures {
    pub(super) finished: bool,
    pub(super) elapsed_s: f64,
    pub(super) started: u64,
    pub(super) passed: u64,
    pub(super) failed: u64,
    pub(super) interrupted: u64,
    pub(super) dropped: u64,
    pub(super) lag_p99_s: f64,
    pub(super) lag_max_s: f64,
    /// Per step: name, ok, failed, latency of the successful executions.
    pub(super) steps: Vec<(String, u64, u64, Quantiles)>,
    /// Per (step, event): time from the send to the event.
    pub(super) events: Vec<(String, String, Quantiles)>,
    /// By (step, error kind code).
    pub(super) errors: BTreeMap<(String, &'static str), u64>,
}

impl Figures {
    pub(super) fn of_recorder(plan: &Plan, rec: &Recorder, elapsed_s: f64) -> Figures {
        let mut errors = BTreeMap::new();
        for (step, r) in plan.steps.iter().zip(&rec.steps) {
            for ((kind, _), stat) in &r.errors {
                *errors
                    .entry((step.name.clone(), kind.code().as_str()))
                    .or_default() += stat.count;
            }
        }
        let (lag_p99_s, lag_max_s) = if rec.lag.is_empty() {
            (0.0, 0.0)
        } else {
            (
                rec.lag.value_at_quantile(0.99) as f64 / 1000.0 / 1000.0,
                rec.lag.max() as f64 / 1000.0 / 1000.0,
            )
        };
        Figures {
            finished: false,
            elapsed_s,
            started: rec.flows_started,
            passed: rec.flows_passed,
            failed: rec.flows_failed,
            interrupted: rec.flows_interrupted(),
            dropped: rec.dropped,
            lag_p99_s,
            lag_max_s,
            steps: plan
                .steps
                .iter()
                .zip(&rec.steps)
                .map(|(s, r)| {
                    let q = Quantiles::of_histogram(&r.latency);
                    (s.name.clone(), r.ok, r.failed(), q)
                })
                .collect(),
            events: plan
                .event_metrics
                .iter()
                .zip(&rec.events)
                .filter(|(m, _)| m.role == crate::plan::stream::Role::Expected)
                .map(|(m, h)| {
                    let step = plan.steps.get(m.step as usize).map_or("?", |s| &s.name);
                    let q = Quantiles::of_histogram(h);
                    (step.to_string(), plan.event_name(m.event).to_string(), q)
                })
                .collect(),
            errors,
        }
    }

    pub(super) fn of_summary(s: &Summary) -> Figures {
        let mut errors = BTreeMap::new();
        for e in &s.errors {
            *errors.entry((e.step.clone(), e.kind.as_str())).or_default() += e.count;
        }
        Figures {
            finished: true,
            elapsed_s: s.elapsed_s,
            started: s.flows.started,
            passed: s.flows.passed,
            failed: s.flows.failed,
            interrupted: s.flows.interrupted,
            dropped: s.flows.dropped,
            lag_p99_s: s.generator.lag_p99_ms / 1000.0,
            lag_max_s: s.generator.lag_max_ms / 1000.0,
            steps: s
                .steps
                .iter()
                .map(|st| {
                    let q = Quantiles::of_latency(&st.latency);
                    (st.name.clone(), st.ok, st.failed, q)
                })
                .collect(),
            events: s
                .steps
                .iter()
                .flat_map(|st| {
                    st.events.iter().filter(|e| e.role == "expected").map(|e| {
                        let q = Quantiles::of_latency(&e.latency);
                        (st.name.clone(), e.name.clone(), q)
                    })
                })
                .collect(),
            errors,
        }
    }

    /// Flows started and not yet ended.
    pub(super) fn active(&self) -> u64 {
        self.started
            .saturating_sub(self.passed + self.failed + self.interrupted)
    }
}
