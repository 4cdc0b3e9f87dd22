//! The time series kept in the results: a few numbers per interval and step, so an hour-long run
//! holds a few megabytes at most (the full per-interval histograms go to `--hdr-log`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::metrics::recorder::Recorder;
use crate::plan::Plan;

/// One interval of the time series: counts so far and the interval's step percentiles.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct IntervalStats {
    /// Seconds from the start to the end of this interval.
    #[schemars(range(min = 0))]
    pub t_s: f64,
    pub flows_passed: u64,
    pub flows_failed: u64,
    pub dropped: u64,
    /// Flows in progress at the interval's end (the active users).
    #[serde(default)]
    pub active: u64,
    pub steps: Vec<StepPoint>,
}

/// One step in one interval.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct StepPoint {
    pub name: String,
    pub ok: u64,
    pub errors: u64,
    #[schemars(range(min = 0))]
    pub p50_ms: f64,
    #[schemars(range(min = 0))]
    pub p95_ms: f64,
    #[schemars(range(min = 0))]
    pub p99_ms: f64,
}

impl IntervalStats {
    pub fn of(plan: &Plan, t_s: f64, rec: &Recorder) -> IntervalStats {
        let q = |h: &hdrhistogram::Histogram<u64>, q: f64| {
            if h.is_empty() {
                0.0
            } else {
                h.value_at_quantile(q) as f64 / 1000.0
            }
        };
        IntervalStats {
            t_s,
            flows_passed: rec.flows_passed,
            flows_failed: rec.flows_failed,
            dropped: rec.dropped,
            active: 0,
            steps: plan
                .steps
                .iter()
                .zip(&rec.steps)
                .map(|(s, r)| StepPoint {
                    name: s.name.clone(),
                    ok: r.ok,
                    errors: r.failed(),
                    p50_ms: q(&r.latency, 0.5),
                    p95_ms: q(&r.latency, 0.95),
                    p99_ms: q(&r.latency, 0.99),
                })
                .collect(),
        }
    }
}

/// The sink that keeps the time series for the results.
pub struct Series {
    plan: std::sync::Arc<Plan>,
    points: std::sync::Arc<std::sync::Mutex<Vec<IntervalStats>>>,
}

impl Series {
    /// The points are shared with the caller, who takes them to build the results.
    pub fn new(
        plan: std::sync::Arc<Plan>,
        points: std::sync::Arc<std::sync::Mutex<Vec<IntervalStats>>>,
    ) -> Series {
        Series { plan, points }
    }
}

impl super::Sink for Series {
    fn interval(&mut self, tick: &super::Tick<'_>) {
        let mut point = IntervalStats::of(&self.plan, tick.end.as_secs_f64(), tick.interval);
        // In progress: started and not yet passed, failed nor interrupted.
        point.active = tick.total.flows_unaccounted();
        if let Ok(mut s) = self.points.lock() {
            s.push(point);
        }
    }
}
