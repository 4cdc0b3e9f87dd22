//! The canary's section of the terminal summary: its flows (with the ticks it skipped), its
//! steps in the load's columns, and its errors, under their own heading.

use std::io::{self, Write};

use super::{row, settled_row};
use crate::metrics::canary::Canary;
use crate::metrics::summary::{StepPhase, Summary};

/// Errors of the canary shown (the results keep all).
const TOP_ERRORS: usize = 5;

/// Writes the canary's section when the run had one.
pub fn section(w: &mut dyn Write, s: &Summary) -> io::Result<()> {
    let Some(c) = &s.canary else {
        return Ok(());
    };
    writeln!(
        w,
        "\ncanary ({}, a flow every {}, apart from the load):",
        users(c),
        crate::duration::human(std::time::Duration::from_secs_f64(c.every_ms / 1000.0))
    )?;
    for step in &c.steps {
        let label = if step.phase == StepPhase::Setup {
            format!("{} (setup)", step.name)
        } else {
            step.name.clone()
        };
        // A step that only ever ended by its settle has no latency: shown as the load's is.
        if step
            .settled
            .as_ref()
            .is_some_and(|t| t.count > 0 && t.count == step.ok)
        {
            settled_row(w, &label, step)?;
            continue;
        }
        row(
            w,
            &label,
            step.count,
            Some(step.failed),
            Some(step.rate_per_s),
            &step.latency,
        )?;
    }
    let it = &c.iteration;
    row(w, "iteration (passed)", it.count, None, None, it)?;
    writeln!(
        w,
        "canary flows: {} started: {} passed, {} failed, {} interrupted; {} ticks skipped (the \
         previous canary flow still ran)",
        c.flows.started, c.flows.passed, c.flows.failed, c.flows.interrupted, c.flows.skipped
    )?;
    if !c.errors.is_empty() {
        writeln!(w, "canary errors (count, step, what [kind, phase]):")?;
        for e in c.errors.iter().take(TOP_ERRORS) {
            writeln!(
                w,
                "  {:>8}  {}: {} [{}, {}]",
                e.count, e.step, e.detail, e.kind, e.phase
            )?;
        }
        if c.errors.len() > TOP_ERRORS {
            writeln!(w, "  ... and {} more kinds", c.errors.len() - TOP_ERRORS)?;
        }
    }
    if c.failed() {
        writeln!(
            w,
            "CANARY FAILED: {} of {} canary flows failed: a real user failed under this load",
            c.flows.failed, c.flows.started
        )?;
    }
    Ok(())
}

/// `user #150`, or `users #150, #151` once merged.
fn users(c: &Canary) -> String {
    let list: Vec<String> = c.users.iter().map(|u| format!("#{u}")).collect();
    let noun = if list.len() == 1 { "user" } else { "users" };
    format!("{noun} {}", list.join(", "))
}
