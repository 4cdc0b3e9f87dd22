//! `abort_on_fail`: a sink that judges those thresholds on the cumulative results once per
//! interval (each once its `delay` has passed) and halts the run at the first breach.
//!
//! Design choice: the check builds a `Summary` from the cumulative recorder and evaluates it
//! with `eval`, the same path as the final verdict (once per interval, on the collector: never on
//! the hot path). A metric with nothing measured yet is not judged live (it cannot be yet); the
//! final evaluation breaches it if it still has nothing.

use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

use super::{evaluate, Threshold};
use crate::metrics::summary::{Mode, RunInfo, StoppedBy, Summary, ThresholdResult};
use crate::plan::Plan;
use crate::report::{Sink, Tick};

/// The checks that stopped the run (empty while it goes on), shared with the command.
pub type Fired = Arc<Mutex<Vec<ThresholdResult>>>;

pub struct Abort {
    plan: Arc<Plan>,
    checks: Vec<Threshold>,
    halt: CancellationToken,
    fired: Fired,
}

impl Abort {
    /// A sink over the `abort_on_fail` thresholds of `set` (none: `None`, nothing to check)
    /// that cancels `halt` at the first breach.
    pub fn new(plan: Arc<Plan>, set: &[Threshold], halt: CancellationToken) -> Option<Abort> {
        let checks: Vec<Threshold> = set.iter().filter(|t| t.abort_on_fail).cloned().collect();
        (!checks.is_empty()).then(|| Abort {
            plan,
            checks,
            halt,
            fired: Fired::default(),
        })
    }

    /// Where the breached checks will be, once one stops the run.
    pub fn fired(&self) -> Fired {
        self.fired.clone()
    }
}

impl Sink for Abort {
    fn interval(&mut self, tick: &Tick<'_>) {
        if self.halt.is_cancelled() {
            return;
        }
        let due: Vec<&Threshold> = self.checks.iter().filter(|t| tick.end >= t.delay).collect();
        if due.is_empty() {
            return;
        }
        let end = tick.end.as_secs_f64();
        let summary = Summary::build(
            &self.plan,
            tick.total,
            RunInfo {
                mode: Mode::Run,
                stopped_by: StoppedBy::End,
                tool_errors: Vec::new(),
                shard: crate::shard::Shard::default(),
                started_at: String::new(),
                elapsed_s: end,
                timeseries: Vec::new(),
            },
        );
        let breached: Vec<ThresholdResult> = due
            .into_iter()
            .map(|t| evaluate(t, &summary))
            .filter(|r| r.observed.is_some() && !r.passed)
            .map(|r| ThresholdResult {
                aborted: true,
                aborted_at_s: Some(end),
                ..r
            })
            .collect();
        if breached.is_empty() {
            return;
        }
        if let Ok(mut f) = self.fired.lock() {
            *f = breached;
        }
        self.halt.cancel();
    }
}
