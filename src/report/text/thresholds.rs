//! The summary's `thresholds:` section: every threshold with its status, observed value, margin
//! and where it came from; what stopped the run when one did; a note when failed flows are left
//! unjudged by the thresholds.

use std::io::{self, Write};

use crate::metrics::summary::{StoppedBy, Summary, ThresholdResult, ThresholdUnit};

/// A value in its unit: `21.54 ms`, `0.50%`, `48.20/s`, `12`.
pub fn value(v: f64, unit: ThresholdUnit) -> String {
    match unit {
        ThresholdUnit::Ms => format!("{v:.2} ms"),
        ThresholdUnit::Percent => format!("{v:.2}%"),
        ThresholdUnit::PerS => format!("{v:.2}/s"),
        ThresholdUnit::Count if v.fract() == 0.0 => format!("{v:.0}"),
        ThresholdUnit::Count => format!("{v:.2}"),
    }
}

/// The section (nothing when there are no thresholds).
pub fn section(w: &mut dyn Write, s: &Summary) -> io::Result<()> {
    if s.thresholds.is_empty() {
        return Ok(());
    }
    if s.stopped_by == StoppedBy::Threshold {
        for t in s.thresholds.iter().filter(|t| t.aborted) {
            let at = t
                .aborted_at_s
                .map_or_else(String::new, |x| format!(" at {x:.1} s"));
            writeln!(
                w,
                "stopped by threshold `{}` (abort_on_fail){at}: the results cover what ran until then",
                t.expr
            )?;
        }
    }
    writeln!(w, "thresholds (they are the verdict):")?;
    let width = s.thresholds.iter().map(|t| t.expr.len()).max().unwrap_or(0);
    let rows: Vec<(String, String)> = s.thresholds.iter().map(observed_and_margin).collect();
    let obs_width = rows
        .iter()
        .map(|(o, _)| o.chars().count())
        .max()
        .unwrap_or(0);
    let margin_width = rows
        .iter()
        .map(|(_, m)| m.chars().count())
        .max()
        .unwrap_or(0);
    for (t, (obs, margin)) in s.thresholds.iter().zip(&rows) {
        let status = if t.passed { "ok" } else { "BREACHED" };
        writeln!(
            w,
            "  {status:<8}  {:<width$}   {obs:<obs_width$}   {margin:<margin_width$}   ({})",
            t.expr, t.source
        )?;
    }
    let judged = s
        .thresholds
        .iter()
        .any(|t| crate::thresholds::parse_metric(&t.metric).is_ok_and(|m| m.is_about_failures()));
    if s.flows.failed > 0 && !judged {
        writeln!(
            w,
            "  note: {} flow(s) failed, and no threshold judges failures (flows.failed_rate, \
             flows.failed, STEP.errors, STEP.error_rate), so they do not change the verdict",
            s.flows.failed
        )?;
    }
    Ok(())
}

/// `observed 21.54 ms` and `BREACHED by 16.54 ms` / `margin 178.46 ms`.
fn observed_and_margin(t: &ThresholdResult) -> (String, String) {
    let Some(o) = t.observed else {
        return (
            "nothing measured".into(),
            "BREACHED: no samples to judge".into(),
        );
    };
    let at = match t.aborted_at_s {
        Some(x) if t.aborted => format!(" at {x:.1} s"),
        _ => String::new(),
    };
    let obs = format!("observed {}{at}", value(o, t.unit));
    let m = t.margin.unwrap_or(0.0);
    let mut margin = if t.passed {
        format!("margin {}", value(m, t.unit))
    } else if m <= 0.0 {
        format!("BREACHED by {}", value(0.0 - m, t.unit))
    } else {
        // At the limit (`<` with observed = limit), or judged breached by an aborted shard.
        format!("BREACHED (margin {})", value(m, t.unit))
    };
    if t.aborted {
        margin.push_str("; stopped the run");
    }
    (obs, margin)
}
