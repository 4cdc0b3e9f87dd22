//! The terminal summary: a table of steps and events with percentiles, flows, top errors, verdict.

use std::io::{self, Write};

use super::Render;
use crate::metrics::summary::{Latency, StepSummary, StoppedBy, Summary, Verdict};

pub mod canary;
pub mod stream;
pub mod thresholds;
pub mod transcripts;

pub struct Text;

const TOP_ERRORS: usize = 10;
/// Causes shown under each error kind (the results keep more).
const TOP_CAUSES: usize = 3;

impl Render for Text {
    fn write(&self, s: &Summary, w: &mut dyn Write) -> io::Result<()> {
        writeln!(
            w,
            "\n{} — {} users, {:.1}s, target {}",
            s.scenario, s.load.users, s.elapsed_s, s.target.base_url
        )?;
        if !s.missing_shards.is_empty() {
            writeln!(
                w,
                "  PARTIAL: shards {} missing: these figures cover only part of the users",
                s.missing_shards.join(", ")
            )?;
        }
        writeln!(
            w,
            "  {:<26} {:>8} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "step / event (ms)", "count", "errors", "rate/s", "p50", "p90", "p95", "p99", "max"
        )?;
        for step in &s.steps {
            let label = if step.phase == crate::metrics::summary::StepPhase::Setup {
                format!("{} (setup)", step.name)
            } else {
                step.name.clone()
            };
            let rate = step.rate_per_s;
            let settled = step.settled.as_ref().filter(|t| t.count > 0);
            let all_settled = settled.is_some_and(|t| t.count == step.ok);
            if all_settled {
                settled_row(w, &label, step)?;
            } else {
                row(
                    w,
                    &label,
                    step.count,
                    Some(step.failed),
                    Some(rate),
                    &step.latency,
                )?;
            }
            if let Some(t) = settled.filter(|_| !all_settled) {
                writeln!(
                    w,
                    "  ({} of {} ended by its {} settle: not in the percentiles)",
                    t.count,
                    step.ok,
                    settle_text(t.settle_ms)
                )?;
            }
            // A step that only ever ended by its settle has no latency to correct either.
            if let Some(c) = step.latency_corrected.as_ref().filter(|_| !all_settled) {
                row(w, "  ↳ corrected", c.count, None, None, c)?;
            }
            // Events that never came are named in the settled row instead.
            for e in step
                .events
                .iter()
                .filter(|e| !(all_settled && e.count == 0))
            {
                let label = format!("  {}", e.name);
                row(w, &label, e.count, None, Some(e.rate_per_s), &e.latency)?;
                if let Some(c) = &e.latency_corrected {
                    row(w, "    ↳ corrected", c.count, None, None, c)?;
                }
                for g in &e.groups {
                    let label = format!("    [{}]", g.value);
                    row(w, &label, g.latency.count, None, None, &g.latency)?;
                }
            }
            // Gaps are shown by pair of event types in the stream block.
            if step.stream.is_none() {
                if let Some(g) = step.gaps.as_ref().filter(|g| g.count > 0) {
                    row(w, "  (gap between events)", g.count, None, None, g)?;
                }
            }
        }
        let rate = s.iteration.count as f64 / s.elapsed_s.max(1e-9);
        let it = &s.iteration;
        row(w, "iteration (passed)", it.count, None, Some(rate), it)?;
        if let Some(c) = &s.iteration_corrected {
            row(w, "  ↳ corrected", c.count, None, None, c)?;
            writeln!(
                w,
                "  (↳ corrected: measured from each flow's intended start, so time a flow waited \
                 to start is not hidden: coordinated omission, corrected as wrk2 does)"
            )?;
        }
        stream::section(w, s)?;
        write!(
            w,
            "\nflows: {} passed, {} failed, {} interrupted",
            s.flows.passed, s.flows.failed, s.flows.interrupted
        )?;
        if s.load.model == crate::metrics::summary::ModelKind::Open {
            write!(w, ", {} dropped (no free user)", s.flows.dropped)?;
        }
        writeln!(
            w,
            " ({:.1}/s)",
            s.flows.passed as f64 / s.elapsed_s.max(1e-9)
        )?;
        if s.flows.passed > 0 || s.flows.failed > 0 {
            let pct = s
                .goodput
                .good_pct
                .map_or_else(|| "-".to_string(), |p| format!("{p:.1}%"));
            writeln!(
                w,
                "goodput: {:.1} good flows/s ({} good, {} passed but late, {pct} of the flows \
                 that ended were good)",
                s.goodput.per_s, s.flows.good, s.flows.late
            )?;
        }
        let g = &s.generator;
        if g.saturated {
            writeln!(
                w,
                "WARNING: generator saturated: its timers ran late by {:.1} ms at p99 (max {:.1} ms, \
                 threshold {:.0} ms), so latencies include client-side delay; give it more CPU, \
                 fewer users, or more generators",
                g.lag_p99_ms, g.lag_max_ms, g.threshold_ms
            )?;
        } else {
            writeln!(
                w,
                "generator: timer lag p99 {:.2} ms, max {:.2} ms (not saturated)",
                g.lag_p99_ms, g.lag_max_ms
            )?;
        }
        interrupted(w, s)?;
        if s.backoff.waits > 0 {
            writeln!(
                w,
                "backoff: {} pauses after failed iterations, {:.1} s in all (so a failing target \
                 is not hammered; --backoff sets it)",
                s.backoff.waits, s.backoff.total_s
            )?;
        }
        errors(w, s)?;
        transcripts::section(w, s)?;
        for e in &s.tool_errors {
            writeln!(w, "TOOL ERROR: {e}")?;
        }
        canary::section(w, s)?;
        thresholds::section(w, s)?;
        let verdict = match s.verdict {
            Verdict::Passed => "PASSED",
            Verdict::Failed if s.flows.passed == 0 && s.errors.is_empty() => {
                "FAILED (no flow passed)"
            }
            Verdict::Failed => "FAILED",
            Verdict::Unreachable => "UNREACHABLE (nothing reached the target)",
            Verdict::Error => "ERROR (load-tester itself failed: the results are incomplete)",
            Verdict::Interrupted => "INTERRUPTED (stopped by a signal before any flow finished)",
            Verdict::Breached => "THRESHOLDS BREACHED",
        };
        writeln!(w, "verdict: {verdict} (exit {})", s.exit_code)
    }
}

/// A step whose every pass ended by its `settle`: a wait, not a latency, so no percentiles.
fn settled_row(w: &mut dyn Write, label: &str, step: &StepSummary) -> io::Result<()> {
    let Some(t) = &step.settled else {
        return Ok(());
    };
    let unseen: Vec<&str> = step
        .events
        .iter()
        .filter(|e| e.count == 0)
        .map(|e| e.name.as_str())
        .collect();
    let unseen = if unseen.is_empty() {
        String::new()
    } else {
        format!("; no {} seen", unseen.join(" or "))
    };
    writeln!(
        w,
        "  {label:<26} {:>8} {:>7} {:>9.1}   (ended by its {} settle: {} of {}{unseen})",
        step.count,
        step.failed,
        step.rate_per_s,
        settle_text(t.settle_ms),
        t.count,
        step.ok
    )
}

/// A settle time as scenarios write it (`300ms`, `1.5s`): the probe prints it the same way.
fn settle_text(ms: f64) -> String {
    crate::duration::human(std::time::Duration::from_secs_f64(ms.max(0.0) / 1000.0))
}

fn row(
    w: &mut dyn Write,
    label: &str,
    count: u64,
    errors: Option<u64>,
    rate: Option<f64>,
    l: &Latency,
) -> io::Result<()> {
    let errors = errors.map_or_else(String::new, |e| e.to_string());
    // Corrected and gap rows have no rate of their own: blank, not a misleading 0.0.
    let rate = rate.map_or_else(String::new, |r| format!("{r:.1}"));
    if l.count == 0 {
        return writeln!(
            w,
            "  {label:<26} {count:>8} {errors:>7} {rate:>9} {:>9}",
            "-"
        );
    }
    writeln!(
        w,
        "  {label:<26} {count:>8} {errors:>7} {rate:>9} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
        l.p50_ms, l.p90_ms, l.p95_ms, l.p99_ms, l.max_ms
    )
}

/// Where interrupted flows were cut off, and whether a signal stopped the run.
fn interrupted(w: &mut dyn Write, s: &Summary) -> io::Result<()> {
    if s.stopped_by == StoppedBy::Signal {
        writeln!(
            w,
            "stopped by a signal: the results cover what ran until then"
        )?;
    }
    if s.interrupted.is_empty() {
        return Ok(());
    }
    writeln!(
        w,
        "interrupted flows (cut off by the end of the run or a signal), where they were:"
    )?;
    for i in s.interrupted.iter().take(TOP_ERRORS) {
        let at = match &i.after_event {
            Some(e) => format!("after {e}"),
            None => "before its first expected event".to_string(),
        };
        writeln!(
            w,
            "  {:>8}  {}: {at}, waiting up to {:.0} ms",
            i.count, i.step, i.longest_wait_ms
        )?;
    }
    Ok(())
}

/// Error kinds, most frequent first, each with its phase and its top causes.
fn errors(w: &mut dyn Write, s: &Summary) -> io::Result<()> {
    if s.errors.is_empty() {
        return Ok(());
    }
    writeln!(
        w,
        "errors (count, step, what [kind, phase], then the top causes):"
    )?;
    for e in s.errors.iter().take(TOP_ERRORS) {
        writeln!(
            w,
            "  {:>8}  {}: {} [{}, {}]",
            e.count, e.step, e.detail, e.kind, e.phase
        )?;
        for c in e.causes.iter().take(TOP_CAUSES) {
            writeln!(w, "  {:>8}    {}", c.count, c.cause)?;
        }
        let hidden: u64 = e.causes.iter().skip(TOP_CAUSES).map(|c| c.count).sum();
        let more = hidden + e.other_causes;
        if more > 0 && !e.causes.is_empty() {
            writeln!(w, "  {more:>8}    (other causes)")?;
        }
    }
    if s.errors.len() > TOP_ERRORS {
        writeln!(w, "  ... and {} more kinds", s.errors.len() - TOP_ERRORS)?;
    }
    Ok(())
}
