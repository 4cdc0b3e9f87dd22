//! Judging thresholds on a `Summary`: the observed value of each metric (percentiles, max and
//! mean from the embedded HDR histogram, so p99.9 is exact to the histogram's precision), the
//! comparison and the margin. The one evaluation path for run, merge and the live abort check.

use super::{FlowStat, Metric, Stat, Threshold};
use crate::metrics::summary::{Latency, Summary, ThresholdResult};

/// One threshold judged on `s`. Nothing measured (`observed: None`) is a breach, never a pass.
pub fn evaluate(t: &Threshold, s: &Summary) -> ThresholdResult {
    let observed = observed(&t.metric, s);
    ThresholdResult {
        expr: t.expr.clone(),
        source: t.source.clone(),
        metric: t.metric.name(),
        op: t.op.as_str().into(),
        limit: t.limit,
        unit: t.metric.unit(),
        observed,
        passed: observed.is_some_and(|o| t.op.holds(o, t.limit)),
        margin: observed.map(|o| t.op.margin(o, t.limit)),
        abort_on_fail: t.abort_on_fail,
        aborted: false,
        aborted_at_s: None,
    }
}

/// Fills `summary.thresholds` with every threshold judged on it (`aborted`: the results of the
/// checks that stopped the run, which stand as they were then) and derives the verdict again.
pub fn judge(mut summary: Summary, set: &[Threshold], aborted: &[ThresholdResult]) -> Summary {
    summary.thresholds = set
        .iter()
        .map(|t| match aborted.iter().find(|a| a.expr == t.expr) {
            Some(a) => a.clone(),
            None => evaluate(t, &summary),
        })
        .collect();
    summary.conclude()
}

/// The metric's value on `s`, in its unit; `None` when nothing was measured.
pub fn observed(metric: &Metric, s: &Summary) -> Option<f64> {
    let secs = s.elapsed_s;
    let per_s = |n: u64| (secs > 0.0).then(|| n as f64 / secs);
    let percent = |part: u64, whole: u64| (whole > 0).then(|| part as f64 * 100.0 / whole as f64);
    match metric {
        Metric::Step { step, event, stat } => {
            let st = s.step(step)?;
            let (latency, count) = match event {
                Some(e) => {
                    let ev = st.event(e)?;
                    (&ev.latency, ev.count)
                }
                None => (&st.latency, st.count),
            };
            match stat {
                Stat::Count => Some(count as f64),
                Stat::Rate => per_s(count),
                Stat::Errors => Some(st.failed as f64),
                Stat::ErrorRate => percent(st.failed, st.count),
                _ => latency_stat(latency, *stat),
            }
        }
        Metric::Iteration(stat) => match stat {
            Stat::Count => Some(s.iteration.count as f64),
            Stat::Rate => per_s(s.iteration.count),
            _ => latency_stat(&s.iteration, *stat),
        },
        Metric::Flows(f) => {
            let finished = s.flows.passed.saturating_add(s.flows.failed);
            match f {
                FlowStat::FailedRate => percent(s.flows.failed, finished),
                FlowStat::Rate => per_s(finished),
                FlowStat::Passed => Some(s.flows.passed as f64),
                FlowStat::Failed => Some(s.flows.failed as f64),
                FlowStat::Interrupted => Some(s.flows.interrupted as f64),
                FlowStat::Goodput => per_s(s.flows.good),
                FlowStat::GoodRate => percent(s.flows.good, finished),
                FlowStat::LateRate => percent(s.flows.late, finished),
                FlowStat::Good => Some(s.flows.good as f64),
                FlowStat::Late => Some(s.flows.late as f64),
            }
        }
        Metric::Canary(m) => observed(m, &s.canary.as_ref()?.view(s)),
        Metric::Dropped => Some(s.flows.dropped as f64),
        Metric::DroppedRate => percent(
            s.flows.dropped,
            s.flows.started.saturating_add(s.flows.dropped),
        ),
    }
}

/// A latency statistic in milliseconds, from the histogram; `None` without samples (or when the
/// histogram does not decode, which `merge` refuses before this).
fn latency_stat(l: &Latency, stat: Stat) -> Option<f64> {
    if l.count == 0 {
        return None;
    }
    let h = l.histogram().ok()?;
    if h.is_empty() {
        return None;
    }
    let us = match stat {
        Stat::Quantile(pm) => h.value_at_quantile(f64::from(pm) / 1000.0) as f64,
        Stat::Max => h.max() as f64,
        Stat::Mean => h.mean(),
        _ => return None,
    };
    Some(us / 1000.0)
}
