//! The HTML report: one self-contained page (inline CSS and SVG charts, no script, nothing
//! fetched) with the run's header and verdict, its charts, and its tables; readable without
//! JavaScript and printable.
//!
//! Design choice: the page is written from the `Summary` alone (plus an optional comparison
//! view), so `run`, `merge` and `report` (from saved results) give the same page; a chart with
//! no data says so in its place instead of showing an empty axis.

mod charts;
mod figures;
mod spectrum;
mod tables;
mod transcripts;

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{Render, Sink};
use crate::metrics::summary::{ModelKind, Summary, Verdict};

/// The comparison with a baseline, as the report shows it (the compare command maps its
/// results to this view).
#[derive(Debug, Clone, PartialEq)]
pub struct ComparisonView {
    /// What the baseline is, e.g. its file name.
    pub baseline_label: String,
    pub rows: Vec<ComparisonRow>,
}

/// One compared metric.
#[derive(Debug, Clone, PartialEq)]
pub struct ComparisonRow {
    /// The step or event, e.g. `chat.agent_started`.
    pub name: String,
    /// The statistic, e.g. `p95`, `error_rate`, `rate`.
    pub metric: String,
    /// Values as shown, with their units (e.g. `41.2 ms`).
    pub baseline: String,
    pub current: String,
    /// The change from the baseline in percent; none when it has no meaning (a zero baseline).
    pub change_pct: Option<f64>,
    /// `better`, `same` or `worse` (anything else is shown as given).
    pub verdict: String,
    /// Why, e.g. the noise bound the change was judged against.
    pub note: String,
}

/// The HTML report as a `Render` (without a comparison).
pub struct Html;

impl Render for Html {
    fn write(&self, summary: &Summary, w: &mut dyn Write) -> io::Result<()> {
        render(summary, None, w)
    }
}

/// Writes the HTML report to a file when the results are final (atomically).
pub struct HtmlFile {
    pub path: PathBuf,
    pub comparison: Option<ComparisonView>,
}

impl HtmlFile {
    pub fn new(path: impl Into<PathBuf>) -> HtmlFile {
        HtmlFile {
            path: path.into(),
            comparison: None,
        }
    }
}

impl Sink for HtmlFile {
    fn finish(&mut self, summary: &Summary) -> Result<(), String> {
        write(&self.path, summary, self.comparison.as_ref())
            .map_err(|e| format!("cannot write the HTML report {}: {e}", self.path.display()))
    }
}

/// Writes the report to `path` atomically (see `output::write_atomic`).
pub fn write(
    path: &Path,
    summary: &Summary,
    comparison: Option<&ComparisonView>,
) -> io::Result<()> {
    super::output::write_atomic(path, &mut |w| render(summary, comparison, w))
}

/// The whole page.
pub fn render(
    summary: &Summary,
    comparison: Option<&ComparisonView>,
    w: &mut dyn Write,
) -> io::Result<()> {
    let mut page = String::with_capacity(64 * 1024);
    page.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    page.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    page.push_str(&format!(
        "<title>{} — load-tester report</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        escape(&summary.scenario)
    ));
    header(summary, &mut page);
    page.push_str("<main>\n");
    figures::all(summary, comparison, &mut page);
    page.push_str("</main>\n<footer>Written by load-tester ");
    page.push_str(&escape(&summary.tool_version));
    page.push_str(" from results format version ");
    page.push_str(&summary.version.to_string());
    page.push_str(". Latencies in milliseconds.</footer>\n</body>\n</html>\n");
    w.write_all(page.as_bytes())
}

/// Scenario, target, load, times, and the verdict badge.
fn header(s: &Summary, page: &mut String) {
    page.push_str("<header>\n");
    page.push_str(&format!(
        "<h1>{} <span class=\"badge {}\">{} (exit {})</span></h1>\n",
        escape(&s.scenario),
        badge_class(s.verdict),
        escape(s.verdict.label()),
        s.exit_code
    ));
    let mut facts: Vec<(&str, String)> = vec![
        ("target", s.target.base_url.clone()),
        ("load", load_text(s)),
        ("started", s.started_at.clone()),
        ("elapsed", format!("{} s", charts::number(s.elapsed_s))),
        (
            "flows",
            format!(
                "{} started: {} passed, {} failed, {} interrupted{}",
                s.flows.started,
                s.flows.passed,
                s.flows.failed,
                s.flows.interrupted,
                if s.flows.dropped > 0 {
                    format!(", {} dropped", s.flows.dropped)
                } else {
                    String::new()
                }
            ),
        ),
        ("stopped by", format!("{:?}", s.stopped_by).to_lowercase()),
    ];
    if let Some(pct) = s.goodput.good_pct {
        facts.insert(
            facts.len() - 1,
            (
                "goodput",
                format!(
                    "{} good flows/s: {} good, {} passed but late ({}% good)",
                    charts::number(s.goodput.per_s),
                    s.flows.good,
                    s.flows.late,
                    charts::number(pct)
                ),
            ),
        );
    }
    if s.target.auth_url != s.target.base_url {
        facts.insert(1, ("auth", s.target.auth_url.clone()));
    }
    if s.generators > 1 || s.shard.is_some() {
        let shard = s.shard.as_deref().map(|x| format!(", shard {x}"));
        facts.push((
            "generators",
            format!("{}{}", s.generators, shard.unwrap_or_default()),
        ));
    }
    page.push_str("<dl class=\"facts\">\n");
    for (k, v) in &facts {
        page.push_str(&format!("<dt>{k}</dt><dd>{}</dd>\n", escape(v)));
    }
    page.push_str("</dl>\n");
    let mut warnings: Vec<String> = Vec::new();
    if !s.missing_shards.is_empty() {
        warnings.push(format!(
            "PARTIAL: shards {} are missing; these figures cover only part of the users.",
            s.missing_shards.join(", ")
        ));
    }
    if s.generator.saturated {
        warnings.push(format!(
            "The generator was saturated (timer lag p99 {} ms): latencies include client-side delay.",
            charts::number(s.generator.lag_p99_ms)
        ));
    }
    warnings.extend(s.tool_errors.iter().map(|e| format!("Tool error: {e}")));
    for w in warnings {
        page.push_str(&format!("<p class=\"warning\">{}</p>\n", escape(&w)));
    }
    page.push_str("</header>\n");
}

fn load_text(s: &Summary) -> String {
    let l = &s.load;
    let end = match (l.duration_s, l.iterations) {
        (Some(d), Some(n)) => format!("{d} s or {n} iterations each"),
        (Some(d), None) => format!("{d} s"),
        (None, Some(n)) => format!("{n} iterations each"),
        (None, None) => "until stopped".into(),
    };
    match l.model {
        ModelKind::Closed => format!(
            "closed model, {} users, spawn rate {}/s, {end}",
            l.users, l.spawn_rate
        ),
        ModelKind::Open => format!(
            "open model, {} flows/s, pool of {} users, {end}",
            l.arrival_rate.map(charts::number).unwrap_or_default(),
            l.users
        ),
    }
}

fn badge_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Passed => "ok",
        Verdict::Failed | Verdict::Breached => "bad",
        Verdict::Unreachable | Verdict::Error | Verdict::Interrupted => "error",
    }
}

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = "
*{box-sizing:border-box}
body{margin:0 auto;max-width:1100px;padding:16px 24px;font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;color:#222;background:#fff}
h1{font-size:24px;margin:8px 0 12px}
h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin:14px 0 4px}
.badge{display:inline-block;font-size:14px;vertical-align:middle;padding:3px 10px;border-radius:12px;color:#fff;font-weight:600}
.badge.ok{background:#2e7d32}.badge.bad{background:#c62828}.badge.error{background:#6a1b9a}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0}
dl.facts dt{color:#555}dl.facts dd{margin:0}
.warning{background:#fff3e0;border-left:4px solid #ef6c00;padding:6px 10px;margin:8px 0}
figure.chart{margin:12px 0 20px;break-inside:avoid;page-break-inside:avoid}
figure.chart svg{display:block;max-width:100%;height:auto}
figcaption{font-weight:600;margin:0 0 6px}
.multiples{display:grid;grid-template-columns:repeat(auto-fit,minmax(440px,1fr));gap:8px 16px}
.nodata{color:#555;font-style:italic;border:1px dashed #bbb;padding:16px;margin:0}
.note{color:#555;margin:4px 0}
.legend{margin:2px 0;display:flex;flex-wrap:wrap;gap:2px 14px}.legend .key{font-weight:700}
table{border-collapse:collapse;margin:8px 0 16px;width:100%;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid #e4e4e4;padding:3px 8px;text-align:right;vertical-align:top}
th{background:#f4f4f4;font-weight:600}
th:first-child,td:first-child,td.text,th.text{text-align:left}
td.ev{padding-left:24px}
.pass{color:#2e7d32;font-weight:600}.fail{color:#c62828;font-weight:600}.same{color:#555}
footer{color:#666;font-size:12px;margin:32px 0 8px}
@media print{body{max-width:none;padding:0}h2{break-after:avoid}.multiples{grid-template-columns:1fr 1fr}}
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }
}
