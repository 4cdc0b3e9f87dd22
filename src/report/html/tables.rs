//! The report's tables: thresholds, the comparison, error causes, and steps with their events.

use super::charts::number;
use super::{escape, ComparisonView};
use crate::metrics::summary::{Latency, StepPhase, Summary, ThresholdUnit};

pub mod canary;

/// Causes listed per error row (the results keep a few more).
const TOP_CAUSES: usize = 5;

fn cell(text: &str) -> String {
    format!("<td>{}</td>", escape(text))
}

fn text_cell(text: &str) -> String {
    format!("<td class=\"text\">{}</td>", escape(text))
}

/// A table's head; columns named with a leading `<` hold text (left-aligned), the others numbers.
fn head(page: &mut String, columns: &[&str]) {
    page.push_str("<table>\n<thead><tr>");
    for c in columns {
        match c.strip_prefix('<') {
            Some(text) => page.push_str(&format!("<th class=\"text\">{}</th>", escape(text))),
            None => page.push_str(&format!("<th>{}</th>", escape(c))),
        }
    }
    page.push_str("</tr></thead>\n<tbody>\n");
}

fn end(page: &mut String) {
    page.push_str("</tbody>\n</table>\n");
}

fn with_unit(v: f64, unit: ThresholdUnit) -> String {
    match unit {
        ThresholdUnit::Ms => format!("{} ms", number(v)),
        ThresholdUnit::Percent => format!("{}%", number(v)),
        ThresholdUnit::PerS => format!("{}/s", number(v)),
        ThresholdUnit::Count => number(v),
    }
}

/// (f) every threshold with its observed value and margin.
pub fn thresholds(s: &Summary, page: &mut String) {
    if s.thresholds.is_empty() {
        page.push_str(
            "<p class=\"note\" id=\"thresholds-none\">No thresholds were set: the verdict is \
             “no failed flow”.</p>\n",
        );
        return;
    }
    page.push_str("<div id=\"thresholds-table\">\n");
    head(
        page,
        &["<threshold", "<defined at", "observed", "margin", "<result"],
    );
    for t in &s.thresholds {
        let observed = t
            .observed
            .map(|v| with_unit(v, t.unit))
            .unwrap_or_else(|| "nothing measured".into());
        let margin = t
            .margin
            .map(|v| {
                let sign = if v > 0.0 { "+" } else { "" };
                format!("{sign}{}", with_unit(v, t.unit))
            })
            .unwrap_or_else(|| "—".into());
        let result = match (t.passed, t.aborted) {
            (true, _) => "<td class=\"text pass\">ok</td>".to_string(),
            (false, true) => "<td class=\"text fail\">BREACHED (stopped the run)</td>".to_string(),
            (false, false) => "<td class=\"text fail\">BREACHED</td>".to_string(),
        };
        page.push_str(&format!(
            "<tr>{}{}{}{}{result}</tr>\n",
            text_cell(&t.expr),
            text_cell(&t.source),
            cell(&observed),
            cell(&margin)
        ));
    }
    end(page);
    page.push_str("</div>\n");
}

/// (g) every compared metric with both values, the change and the verdict.
pub fn comparison(c: &ComparisonView, page: &mut String) {
    if c.rows.is_empty() {
        page.push_str("<p class=\"note\">Nothing was compared.</p>\n");
        return;
    }
    head(
        page,
        &[
            "<metric", "<stat", "baseline", "current", "change", "<verdict", "<note",
        ],
    );
    for r in &c.rows {
        let change = r
            .change_pct
            .filter(|p| p.is_finite())
            .map(|p| format!("{}{}%", if p > 0.0 { "+" } else { "" }, number(p)))
            .unwrap_or_else(|| "—".into());
        let class = match r.verdict.as_str() {
            "worse" => "fail",
            "better" => "pass",
            _ => "same",
        };
        page.push_str(&format!(
            "<tr>{}{}{}{}{}<td class=\"text {class}\">{}</td>{}</tr>\n",
            text_cell(&r.name),
            text_cell(&r.metric),
            cell(&r.baseline),
            cell(&r.current),
            cell(&change),
            escape(&r.verdict),
            text_cell(&r.note)
        ));
    }
    end(page);
}

/// (e) every error with its top causes.
pub fn errors(s: &Summary, page: &mut String) {
    if s.errors.is_empty() {
        return;
    }
    head(
        page,
        &["count", "<step", "<kind", "<phase", "<what", "<top causes"],
    );
    for e in &s.errors {
        let mut causes: Vec<String> = e
            .causes
            .iter()
            .take(TOP_CAUSES)
            .map(|c| format!("{} × {}", c.count, escape(&c.cause)))
            .collect();
        let unlisted = e.other_causes
            + e.causes
                .iter()
                .skip(TOP_CAUSES)
                .map(|c| c.count)
                .sum::<u64>();
        if unlisted > 0 {
            causes.push(format!("{unlisted} × (cause not kept)"));
        }
        page.push_str(&format!(
            "<tr>{}{}{}{}{}<td class=\"text\">{}</td></tr>\n",
            cell(&e.count.to_string()),
            text_cell(&e.step),
            text_cell(&e.kind.to_string()),
            text_cell(&e.phase.to_string()),
            text_cell(&e.detail),
            causes.join("<br>")
        ));
    }
    end(page);
}

/// Every step with its events, gaps and the whole iteration: counts and percentiles.
pub fn steps(s: &Summary, page: &mut String) {
    head(
        page,
        &[
            "step / event",
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
    for step in &s.steps {
        step_row(page, step);
        if let Some(t) = step.settled.as_ref().filter(|t| t.count > 0) {
            page.push_str(&format!(
                "<tr><td class=\"ev note\" colspan=\"9\">{} of {} ended by waiting out its {} ms \
                 settle (not in the percentiles)</td></tr>\n",
                t.count,
                step.ok,
                number(t.settle_ms)
            ));
        }
        for e in &step.events {
            let counts = [e.count.to_string(), String::new(), number(e.rate_per_s)];
            row(page, &e.name, true, &counts, Some(&e.latency));
        }
        match &step.stream {
            Some(st) => stream_rows(page, st),
            None => {
                if let Some(g) = step.gaps.as_ref().filter(|g| g.count > 0) {
                    let counts = [g.count.to_string(), String::new(), String::new()];
                    row(page, "(gap between events)", true, &counts, Some(g));
                }
            }
        }
    }
    let it = &s.iteration;
    let counts = [it.count.to_string(), String::new(), String::new()];
    row(page, "iteration (passed)", false, &counts, Some(it));
    if let Some(c) = &s.iteration_corrected {
        let counts = [c.count.to_string(), String::new(), String::new()];
        row(
            page,
            "iteration (from intended start)",
            false,
            &counts,
            Some(c),
        );
    }
    end(page);
}

/// A step's own row: its name (`(setup)` marked), counts and percentiles.
fn step_row(page: &mut String, step: &crate::metrics::summary::StepSummary) {
    let name = match step.phase {
        StepPhase::Setup => format!("{} (setup)", step.name),
        StepPhase::Iteration => step.name.clone(),
    };
    let counts = [
        step.count.to_string(),
        step.failed.to_string(),
        number(step.rate_per_s),
    ];
    row(page, &name, false, &counts, Some(&step.latency));
}

/// An exchange step's stream: time to first event, gaps by pair, tool calls beside the
/// server's figure.
fn stream_rows(page: &mut String, st: &crate::metrics::summary::StreamSummary) {
    let counts = |l: &Latency| [l.count.to_string(), String::new(), String::new()];
    if st.first_event.count > 0 {
        row(
            page,
            "(first event)",
            true,
            &counts(&st.first_event),
            Some(&st.first_event),
        );
    }
    for p in &st.pairs {
        let name = format!("(gap) {} → {}", p.from, p.to);
        row(page, &name, true, &counts(&p.gaps), Some(&p.gaps));
    }
    for t in &st.tools {
        row(
            page,
            &format!("tool {}", t.name),
            true,
            &counts(&t.latency),
            Some(&t.latency),
        );
        if let Some(server) = &t.server {
            row(
                page,
                "  ↳ server-reported",
                true,
                &counts(server),
                Some(server),
            );
        }
        if let Some(o) = &t.overhead {
            row(
                page,
                "  ↳ overhead (client − server)",
                true,
                &counts(o),
                Some(o),
            );
        }
    }
}

fn row(page: &mut String, name: &str, event: bool, counts: &[String; 3], l: Option<&Latency>) {
    let class = if event { "text ev" } else { "text" };
    page.push_str(&format!("<tr><td class=\"{class}\">{}</td>", escape(name)));
    for c in counts {
        page.push_str(&cell(c));
    }
    match l.filter(|l| l.count > 0) {
        Some(l) => {
            for v in [l.p50_ms, l.p90_ms, l.p95_ms, l.p99_ms, l.max_ms] {
                page.push_str(&cell(&number(v)));
            }
        }
        None => page.push_str("<td colspan=\"5\" class=\"text note\">no latency recorded</td>"),
    }
    page.push_str("</tr>\n");
}
