//! A threshold as the plan stores it: `METRIC OP VALUE`, parsed into typed parts (the metric,
//! its statistic, the comparison and the limit); `thresholds` parses, checks and evaluates them.

use std::time::Duration;

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
    /// `canary.METRIC`: a step, iteration or flows metric of the canary user
    /// (`run --canary-every`) instead of the load's.
    Canary(Box<Metric>),
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
            Metric::Canary(m) => format!("canary.{}", m.name()),
        }
    }

    /// Whether this metric judges failures (so failed flows are not left unjudged).
    pub fn is_about_failures(&self) -> bool {
        if let Metric::Canary(m) = self {
            return m.is_about_failures();
        }
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
