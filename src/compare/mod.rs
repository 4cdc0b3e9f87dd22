//! `compare`: two results files (a baseline and a current run) row by row — per step, per event,
//! the iteration and the flows — with a verdict per row (better, same, worse) that accounts for
//! sampling noise; the model every output of a comparison renders (text table, JSON, JUnit, HTML).
//!
//! Design choice: a row is `worse` only when the difference is both *real* and *large enough to
//! matter*. Real: the two runs' confidence intervals do not overlap — for a latency quantile a
//! distribution-free interval from the order statistics of each file's HDR histogram, for an
//! error rate a two-proportion z-test, for a throughput a Poisson interval on the count (see
//! `stats`). Large enough: beyond `--tolerance` (relative) and `--min-delta` (absolute, latency)
//! or `--error-tolerance` (percentage points, error rate). Either alone cries wolf: significance
//! alone flags a 1 % shift measured over a million samples; a tolerance alone flags the p99 of 40
//! samples. CI runners are noisy, and a baseline check that cries wolf gets switched off.

mod build;
pub mod html;
pub mod junit;
pub mod read;
mod settings;
pub mod stats;
pub mod table;
#[cfg(test)]
mod testing;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use build::compare;
pub use settings::{parse_confidence, parse_percent, parse_points, Settings};
#[cfg(test)]
pub(crate) use testing::test_results;

/// Below this many samples on either side a row is `same`, with the note "too few samples":
/// an interval from fewer order statistics says little about a p95 or a p99.
pub const MIN_SAMPLES: u64 = 20;

/// A comparison of two results files: what was compared, how, and every row.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
#[schemars(title = "load-tester comparison")]
pub struct Comparison {
    pub baseline: Side,
    pub current: Side,
    pub settings: Settings,
    /// Differences between the two runs that make the comparison less meaningful (another
    /// scenario digest, another load, a saturated generator).
    pub warnings: Vec<String>,
    pub rows: Vec<Row>,
    pub tally: Tally,
    /// Any row is `worse` (exit 5).
    pub regression: bool,
}

/// One of the two results files.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Side {
    /// The file as given (or `run` for the run just finished).
    pub file: String,
    pub scenario: String,
    pub scenario_digest: String,
    pub started_at: String,
    pub elapsed_s: f64,
    /// Flows that passed or failed.
    pub flows: u64,
}

/// One compared metric.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Row {
    /// The step's name, or `iteration` (whole passed iterations) or `flows` (the run level).
    pub step: String,
    /// The event of an exchange step, for an event's row.
    pub event: Option<String>,
    pub metric: Metric,
    pub unit: Unit,
    /// The baseline's value, in `unit`; none when it has no data for this row.
    pub baseline: Option<f64>,
    pub current: Option<f64>,
    /// The interval the baseline's value lies in at `settings.confidence`.
    pub baseline_interval: Option<Interval>,
    pub current_interval: Option<Interval>,
    /// Samples behind each value: latency samples, executions, or the count of a throughput.
    pub baseline_samples: u64,
    pub current_samples: u64,
    /// `current - baseline`, in `unit` (percentage points for an error rate).
    pub change: Option<f64>,
    /// The change relative to the baseline, in percent; none when the baseline is 0.
    pub change_pct: Option<f64>,
    pub verdict: RowVerdict,
    /// Why the verdict is what it is when that is not obvious ("too few samples", "within
    /// noise", "missing in current").
    pub note: Option<String>,
}

impl Row {
    /// The row's name, e.g. `chat.agent_started.p95`, `flows.error_rate`.
    pub fn name(&self) -> String {
        match &self.event {
            Some(e) => format!("{}.{e}.{}", self.step, self.metric.code()),
            None => format!("{}.{}", self.step, self.metric.code()),
        }
    }

    /// The block the row belongs to: `chat`, `chat.agent_started`.
    pub fn block(&self) -> String {
        match &self.event {
            Some(e) => format!("{}.{e}", self.step),
            None => self.step.clone(),
        }
    }
}

/// A confidence interval, in the row's unit.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

/// What a row compares.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    P50,
    P95,
    P99,
    /// Failed executions over executions (flows: failed over passed + failed).
    ErrorRate,
    /// Executions (events, flows) per second of run time; lower is worse.
    Throughput,
}

impl Metric {
    /// As in a row's name.
    pub fn code(self) -> &'static str {
        match self {
            Metric::P50 => "p50",
            Metric::P95 => "p95",
            Metric::P99 => "p99",
            Metric::ErrorRate => "error_rate",
            Metric::Throughput => "throughput",
        }
    }

    /// As in the table.
    pub fn label(self) -> &'static str {
        match self {
            Metric::ErrorRate => "error rate",
            m => m.code(),
        }
    }
}

/// The unit of a row's values.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Ms,
    Percent,
    PerS,
}

/// A row's verdict.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RowVerdict {
    Better,
    Same,
    Worse,
    /// A side has no data for this row (a step missing, no samples).
    #[serde(rename = "n/a")]
    NotApplicable,
}

impl RowVerdict {
    pub fn label(self) -> &'static str {
        match self {
            RowVerdict::Better => "better",
            RowVerdict::Same => "same",
            RowVerdict::Worse => "WORSE",
            RowVerdict::NotApplicable => "n/a",
        }
    }
}

/// How many rows got each verdict.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
pub struct Tally {
    pub worse: usize,
    pub better: usize,
    pub same: usize,
    pub not_applicable: usize,
}

impl Tally {
    pub fn of(rows: &[Row]) -> Tally {
        let mut t = Tally::default();
        for r in rows {
            match r.verdict {
                RowVerdict::Worse => t.worse += 1,
                RowVerdict::Better => t.better += 1,
                RowVerdict::Same => t.same += 1,
                RowVerdict::NotApplicable => t.not_applicable += 1,
            }
        }
        t
    }
}

impl Comparison {
    /// The last line of the table: `compare: N worse, M better, K same → REGRESSION (exit 5)`.
    pub fn conclusion(&self) -> String {
        let t = &self.tally;
        let na = if t.not_applicable > 0 {
            format!(", {} n/a", t.not_applicable)
        } else {
            String::new()
        };
        let end = if self.regression {
            "REGRESSION (exit 5)"
        } else {
            "no regression"
        };
        format!(
            "compare: {} worse, {} better, {} same{na} → {end}",
            t.worse, t.better, t.same
        )
    }

    /// Exit 5 on a regression, else 0.
    pub fn exit(&self) -> crate::exit::Exit {
        if self.regression {
            crate::exit::Exit::Regressed
        } else {
            crate::exit::Exit::Passed
        }
    }
}
