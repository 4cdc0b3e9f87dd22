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

pub use crate::plan::threshold::{FlowStat, Metric, Op, Stat, Threshold};

impl Stat {
    /// The unit of its values in thresholds and results.
    pub fn unit(self) -> ThresholdUnit {
        match self {
            Stat::Quantile(_) | Stat::Max | Stat::Mean => ThresholdUnit::Ms,
            Stat::Count | Stat::Errors => ThresholdUnit::Count,
            Stat::Rate => ThresholdUnit::PerS,
            Stat::ErrorRate => ThresholdUnit::Percent,
        }
    }
}

impl Metric {
    /// The unit of its values in thresholds and results.
    pub fn unit(&self) -> ThresholdUnit {
        match self {
            Metric::Step { stat, .. } | Metric::Iteration(stat) => stat.unit(),
            Metric::Flows(FlowStat::FailedRate | FlowStat::GoodRate | FlowStat::LateRate)
            | Metric::DroppedRate => ThresholdUnit::Percent,
            Metric::Flows(FlowStat::Rate | FlowStat::Goodput) => ThresholdUnit::PerS,
            Metric::Flows(_) | Metric::Dropped => ThresholdUnit::Count,
            Metric::Canary(m) => m.unit(),
        }
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
