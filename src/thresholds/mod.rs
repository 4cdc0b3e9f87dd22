//! Thresholds: `METRIC OP VALUE` rules over the results (`chat.agent_started.p95 < 2s`), which
//! are the verdict of a run that has any.
//!
//! Design choice: a threshold is parsed once into typed parts (`Metric`, `Op`, a limit in its
//! unit) and checked against the names the results will have (`Catalog`) before any traffic;
//! `eval` reads every value from the final `Summary` (percentiles from its embedded HDR
//! histograms), and `abort` evaluates the `abort_on_fail` ones on the same path every interval.

pub mod abort;
mod eval;
pub mod merged;
mod parse;

use std::time::Duration;

pub use eval::{evaluate, judge, observed};
pub use parse::{parse_check, parse_metric, Catalog, ParseError, Part};

use crate::metrics::summary::ThresholdUnit;
use crate::plan::Plan;

/// One threshold, parsed and checked against the scenario's names.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// Normalized: `METRIC OP VALUE` with single spaces, the value as written.
    pub expr: String,
    /// `FILE:LINE` of the scenario, `--threshold`, or the environment variable.
    pub source: String,
    pub metric: Metric,
    pub op: Op,
    /// The limit, in `metric.unit()`.
    pub limit: f64,
    pub abort_on_fail: bool,
    /// With `abort_on_fail`: not checked before this long after the start.
    pub delay: Duration,
}

/// The comparison of a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }

    /// Whether `observed OP limit` holds.
    pub fn holds(self, observed: f64, limit: f64) -> bool {
        match self {
            Op::Lt => observed < limit,
            Op::Le => observed <= limit,
            Op::Gt => observed > limit,
            Op::Ge => observed >= limit,
        }
    }

    /// Room left before a breach: limit − observed for `<`/`<=`, observed − limit for `>`/`>=`.
    pub fn margin(self, observed: f64, limit: f64) -> f64 {
        match self {
            Op::Lt | Op::Le => limit - observed,
            Op::Gt | Op::Ge => observed - limit,
        }
    }
}

/// What a threshold measures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Metric {
    /// `STEP.STAT` or `STEP.EVENT.STAT`.
    Step {
        step: String,
        event: Option<String>,
        stat: Stat,
    },
    /// `iteration.STAT`: whole passed iterations.
    Iteration(Stat),
    /// `flows.*`.
    Flows(FlowStat),
    /// `dropped`: open-model arrivals dropped.
    Dropped,
    /// `dropped_rate`: dropped arrivals / arrivals, percent.
    DroppedRate,
}

/// A statistic of a step, an event or the iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    /// A quantile in per mille: 500 = p50, 999 = p99.9.
    Quantile(u16),
    Max,
    Mean,
    Count,
    Rate,
    Errors,
    ErrorRate,
}

/// A run-level figure of `flows.*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowStat {
    FailedRate,
    Rate,
    Passed,
    Failed,
    Interrupted,
    /// Good flows (passed, every budget met) per second.
    Goodput,
    /// Good flows in percent of the flows that ended.
    GoodRate,
    /// Passed-but-late flows in percent of the flows that ended.
    LateRate,
    Good,
    Late,
}

impl Stat {
    /// Every statistic with its name.
    pub const ALL: [(&'static str, Stat); 11] = [
        ("p50", Stat::Quantile(500)),
        ("p90", Stat::Quantile(900)),
        ("p95", Stat::Quantile(950)),
        ("p99", Stat::Quantile(990)),
        ("p99.9", Stat::Quantile(999)),
        ("max", Stat::Max),
        ("mean", Stat::Mean),
        ("count", Stat::Count),
        ("rate", Stat::Rate),
        ("errors", Stat::Errors),
        ("error_rate", Stat::ErrorRate),
    ];

    pub fn name(self) -> &'static str {
        Stat::ALL
            .iter()
            .find(|(_, s)| *s == self)
            .map_or("?", |(n, _)| n)
    }

    pub fn unit(self) -> ThresholdUnit {
        match self {
            Stat::Quantile(_) | Stat::Max | Stat::Mean => ThresholdUnit::Ms,
            Stat::Count | Stat::Errors => ThresholdUnit::Count,
            Stat::Rate => ThresholdUnit::PerS,
            Stat::ErrorRate => ThresholdUnit::Percent,
        }
    }

    /// Errors and error rates belong to steps (an event or an iteration has none of its own).
    pub fn is_step_only(self) -> bool {
        matches!(self, Stat::Errors | Stat::ErrorRate)
    }
}

impl FlowStat {
    pub const ALL: [(&'static str, FlowStat); 10] = [
        ("failed_rate", FlowStat::FailedRate),
        ("rate", FlowStat::Rate),
        ("passed", FlowStat::Passed),
        ("failed", FlowStat::Failed),
        ("interrupted", FlowStat::Interrupted),
        ("goodput", FlowStat::Goodput),
        ("good_rate", FlowStat::GoodRate),
        ("late_rate", FlowStat::LateRate),
        ("good", FlowStat::Good),
        ("late", FlowStat::Late),
    ];

    pub fn name(self) -> &'static str {
        FlowStat::ALL
            .iter()
            .find(|(_, s)| *s == self)
            .map_or("?", |(n, _)| n)
    }
}

impl Metric {
    pub fn unit(&self) -> ThresholdUnit {
        match self {
            Metric::Step { stat, .. } | Metric::Iteration(stat) => stat.unit(),
            Metric::Flows(FlowStat::FailedRate | FlowStat::GoodRate | FlowStat::LateRate)
            | Metric::DroppedRate => ThresholdUnit::Percent,
            Metric::Flows(FlowStat::Rate | FlowStat::Goodput) => ThresholdUnit::PerS,
            Metric::Flows(_) | Metric::Dropped => ThresholdUnit::Count,
        }
    }

    /// As written: `chat.agent_started.p95`, `flows.failed_rate`.
    pub fn name(&self) -> String {
        match self {
            Metric::Step {
                step,
                event: Some(e),
                stat,
            } => format!("{step}.{e}.{}", stat.name()),
            Metric::Step { step, stat, .. } => format!("{step}.{}", stat.name()),
            Metric::Iteration(stat) => format!("iteration.{}", stat.name()),
            Metric::Flows(f) => format!("flows.{}", f.name()),
            Metric::Dropped => "dropped".into(),
            Metric::DroppedRate => "dropped_rate".into(),
        }
    }

    /// Whether this metric judges failures (so failed flows are not left unjudged).
    pub fn is_about_failures(&self) -> bool {
        matches!(
            self,
            Metric::Flows(FlowStat::FailedRate | FlowStat::Failed | FlowStat::GoodRate)
                | Metric::Step {
                    stat: Stat::Errors | Stat::ErrorRate,
                    ..
                }
        )
    }
}

impl Threshold {
    /// Parses a whole `METRIC OP VALUE` expression (a flag, or one stored in results) and
    /// checks its names against `catalog`.
    pub fn parse(expr: &str, source: &str, catalog: &Catalog) -> Result<Threshold, String> {
        let (metric_text, check) = parse::split_expr(expr).map_err(|e| e.message)?;
        Threshold::from_parts(metric_text, check, source, catalog).map_err(|e| e.message)
    }

    /// A threshold from a metric name and a check (`< 2s`), as the scenario writes them.
    pub fn from_parts(
        metric_text: &str,
        check: &str,
        source: &str,
        catalog: &Catalog,
    ) -> Result<Threshold, ParseError> {
        let metric = parse_metric(metric_text.trim())?;
        catalog.check(&metric).map_err(|message| ParseError {
            part: Part::Metric,
            offset: 0,
            message,
        })?;
        let (op, limit, value) = parse_check(check, &metric)?;
        Ok(Threshold {
            expr: format!("{} {} {value}", metric_text.trim(), op.as_str()),
            source: source.to_owned(),
            metric,
            op,
            limit,
            abort_on_fail: false,
            delay: Duration::ZERO,
        })
    }
}

/// The `--threshold` values (from the flag, or `;`-separated from `LOAD_TESTER_THRESHOLD`),
/// checked against the plan's names. `source` names where they came from. Every bad one is
/// reported, one message each.
pub fn from_flags(values: &[String], source: &str, plan: &Plan) -> Result<Vec<Threshold>, String> {
    let catalog = Catalog::of_plan(plan);
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for v in values.iter().filter(|v| !v.trim().is_empty()) {
        match Threshold::parse(v, source, &catalog) {
            Ok(t) => out.push(t),
            Err(e) => errors.push(format!("{source} '{}': {e}", v.trim())),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors.join("\n"))
    }
}

/// The plan's thresholds followed by `extra` ones, each expression once (the first kept).
pub fn combine(first: &[Threshold], extra: Vec<Threshold>) -> Vec<Threshold> {
    let mut out: Vec<Threshold> = Vec::with_capacity(first.len() + extra.len());
    for t in first.iter().cloned().chain(extra) {
        if !out.iter().any(|x| x.expr == t.expr) {
            out.push(t);
        }
    }
    out
}

#[cfg(test)]
mod tests;
