//! The report's canary section (`run --canary-every`): its flows, then its steps and its errors
//! in the load's columns, apart from the load's tables.

use super::super::charts::number;
use super::super::escape;
use super::{cell, end, head, row, step_row, text_cell};
use crate::metrics::summary::Summary;

/// The canary's tables, when the run had a canary.
pub fn tables(s: &Summary, page: &mut String) {
    let Some(c) = &s.canary else {
        return;
    };
    let f = &c.flows;
    let users: Vec<String> = c.users.iter().map(|u| format!("#{u}")).collect();
    page.push_str(&format!(
        "<p class=\"canary\">One user ({}) apart from the load, starting a flow every {} ms when \
         its previous one had ended: <b>{}</b> started, <b>{}</b> passed, <b>{}</b> failed, \
         <b>{}</b> interrupted, <b>{}</b> ticks skipped (the previous flow still ran).{}</p>\n",
        escape(&users.join(", ")),
        number(c.every_ms),
        f.started,
        f.passed,
        f.failed,
        f.interrupted,
        f.skipped,
        if c.failed() {
            " <b>A canary flow failed: a real user failed under this load.</b>"
        } else {
            ""
        }
    ));
    head(
        page,
        &[
            "canary step",
            "count",
            "errors",
            "rate/s",
            "p50",
            "p90",
            "p95",
            "p99",
            "max",
        ],
    );
    for step in &c.steps {
        step_row(page, step);
    }
    let it = &c.iteration;
    let counts = [it.count.to_string(), String::new(), String::new()];
    row(page, "iteration (passed)", false, &counts, Some(it));
    end(page);
    if c.errors.is_empty() {
        return;
    }
    head(page, &["count", "<step", "<kind", "<phase", "<what"]);
    for e in &c.errors {
        page.push_str(&format!(
            "<tr>{}{}{}{}{}</tr>\n",
            cell(&e.count.to_string()),
            text_cell(&e.step),
            text_cell(&e.kind.to_string()),
            text_cell(&e.phase.to_string()),
            text_cell(&e.detail),
        ));
    }
    end(page);
}
