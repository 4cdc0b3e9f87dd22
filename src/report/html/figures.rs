//! The report's sections in order, and each chart's data taken from the `Summary`: latency over
//! time per step, flows and errors per second, active users, error causes and the comparison's
//! changes (the percentile spectra are in `spectrum`).

use plotters::style::RGBColor;

use super::charts::{legend, number, palette, Bar, BarChart, Line, LineChart, WIDTH};
use super::{escape, tables, ComparisonView};
use crate::metrics::summary::Summary;

const RED: RGBColor = RGBColor(0xc6, 0x28, 0x28);
const GREEN: RGBColor = RGBColor(0x2e, 0x7d, 0x32);
const GREY: RGBColor = RGBColor(0x9e, 0x9e, 0x9e);
/// The width of each chart of small multiples (two to a row on a wide page).
pub(super) const SMALL: u32 = 540;
/// Error rows drawn as bars (the table lists them all).
const TOP_ERROR_BARS: usize = 12;

/// Every section of the page's body, in order.
pub fn all(s: &Summary, comparison: Option<&ComparisonView>, page: &mut String) {
    section(page, "thresholds", "Thresholds");
    tables::thresholds(s, page);
    if let Some(c) = comparison {
        section(
            page,
            "comparison",
            &format!("Comparison with {}", c.baseline_label),
        );
        comparison_chart(c, page);
        tables::comparison(c, page);
    }
    section(page, "latency", "Latency");
    latency_over_time(s, page);
    super::spectrum::spectrum(s, page);
    section(page, "load", "Throughput and load");
    throughput(s, page);
    active(s, page);
    section(page, "errors", "Errors");
    errors(s, page);
    tables::errors(s, page);
    section(page, "steps", "Steps and events");
    tables::steps(s, page);
    if s.canary.is_some() {
        section(page, "canary", "Canary user");
        tables::canary::tables(s, page);
    }
    super::transcripts::section(s, page);
}

fn section(page: &mut String, id: &str, title: &str) {
    page.push_str(&format!("<h2 id=\"{id}\">{}</h2>\n", escape(title)));
}

/// A chart figure: its id (`chart-...`), caption and content.
pub(super) fn figure(page: &mut String, id: &str, caption: &str, content: &str) {
    page.push_str(&format!(
        "<figure class=\"chart\" id=\"chart-{id}\">\n<figcaption>{}</figcaption>\n{content}\n</figure>\n",
        escape(caption)
    ));
}

/// Said in a chart's place when it has nothing to draw.
pub(super) fn no_data(why: &str) -> String {
    format!("<p class=\"nodata\">{}</p>", escape(why))
}

/// The drawn chart, or in its place what went wrong.
pub(super) fn drawn(svg: Result<String, String>) -> String {
    svg.unwrap_or_else(|e| no_data(&format!("This chart could not be drawn: {e}")))
}

/// A line chart under its HTML legend.
pub(super) fn with_legend(chart: &LineChart<'_>, aria: &str) -> String {
    format!("{}\n{}", legend(&chart.lines), drawn(chart.svg(aria)))
}

/// Small multiples: one titled chart per item in a grid.
pub(super) fn multiples(charts: &[(String, String)]) -> String {
    let mut out = String::from("<div class=\"multiples\">\n");
    for (title, svg) in charts {
        out.push_str(&format!("<div><h3>{}</h3>\n{svg}\n</div>\n", escape(title)));
    }
    out.push_str("</div>");
    out
}

/// The end of the time axis (at least one second).
fn time_range(s: &Summary) -> std::ops::Range<f64> {
    let end = s.timeseries.last().map(|p| p.t_s).unwrap_or(0.0);
    0.0..end.max(1.0)
}

/// Each interval's length in seconds (the first starts at 0).
fn interval_lengths(s: &Summary) -> Vec<f64> {
    let mut prev = 0.0;
    s.timeseries
        .iter()
        .map(|p| {
            let dt = p.t_s - prev;
            prev = p.t_s;
            if dt > 1e-6 {
                dt
            } else {
                1.0
            }
        })
        .collect()
}

fn seconds(x: &f64) -> String {
    number(*x)
}

/// (a) p50/p95/p99 of each step per interval (intervals without a success are left out).
fn latency_over_time(s: &Summary, page: &mut String) {
    let caption = "Latency percentiles over time, per step (ms, each interval's successes)";
    let mut charts = Vec::new();
    let mut empty = Vec::new();
    for step in &s.steps {
        let pick = |f: fn(&crate::report::series::StepPoint) -> f64| -> Vec<(f64, f64)> {
            s.timeseries
                .iter()
                .filter_map(|p| {
                    let sp = p.steps.iter().find(|x| x.name == step.name)?;
                    // An interval whose successes had no latency (settled) has none to show.
                    (sp.ok > 0 && sp.p99_ms > 0.0).then(|| (p.t_s, f(sp)))
                })
                .collect()
        };
        let p50 = pick(|x| x.p50_ms);
        if p50.is_empty() || step.latency.count == 0 {
            empty.push(step.name.as_str());
            continue;
        }
        let lines = vec![
            line("p50", palette(0), p50),
            line("p95", palette(1), pick(|x| x.p95_ms)),
            line("p99", palette(2), pick(|x| x.p99_ms)),
        ];
        let chart = LineChart {
            width: SMALL,
            height: 320,
            x_desc: "time (s)",
            y_desc: "latency (ms)",
            x_range: time_range(s),
            x_labels: 8,
            x_fmt: &seconds,
            lines,
            area: false,
        };
        let aria = format!("{}: p50, p95 and p99 latency over time", step.name);
        charts.push((step.name.clone(), with_legend(&chart, &aria)));
    }
    let mut content = if charts.is_empty() {
        no_data("No latency was recorded in any interval (no step succeeded).")
    } else {
        multiples(&charts)
    };
    if !charts.is_empty() && !empty.is_empty() {
        content.push_str(&format!(
            "\n<p class=\"note\">No latency over time for: {} (no success with a latency in any interval).</p>",
            escape(&empty.join(", "))
        ));
    }
    figure(page, "latency-over-time", caption, &content);
}

pub(super) fn line(label: &str, color: RGBColor, points: Vec<(f64, f64)>) -> Line {
    Line {
        label: label.into(),
        color,
        points,
        dashed: false,
    }
}

/// (c) flows passed and failed, step errors and dropped arrivals, per second of each interval.
fn throughput(s: &Summary, page: &mut String) {
    let caption = "Flows and errors per second";
    if s.timeseries.is_empty() {
        let content = no_data("No interval was recorded (the run ended within its first second).");
        return figure(page, "throughput", caption, &content);
    }
    let dts = interval_lengths(s);
    let per_s = |f: &dyn Fn(&crate::report::series::IntervalStats) -> u64| -> Vec<(f64, f64)> {
        s.timeseries
            .iter()
            .zip(&dts)
            .map(|(p, dt)| (p.t_s, f(p) as f64 / dt))
            .collect()
    };
    let mut lines = vec![
        line("flows passed/s", GREEN, per_s(&|p| p.flows_passed)),
        line("flows failed/s", RED, per_s(&|p| p.flows_failed)),
        // Dashed: with one error per failed flow it runs along the failed flows' line.
        Line {
            dashed: true,
            ..line(
                "step errors/s",
                palette(1),
                per_s(&|p| p.steps.iter().map(|x| x.errors).sum()),
            )
        },
    ];
    if s.timeseries.iter().any(|p| p.dropped > 0) {
        lines.push(line("dropped/s", palette(4), per_s(&|p| p.dropped)));
    }
    let chart = LineChart {
        width: WIDTH,
        height: 320,
        x_desc: "time (s)",
        y_desc: "per second",
        x_range: time_range(s),
        x_labels: 10,
        x_fmt: &seconds,
        lines,
        area: false,
    };
    let content = with_legend(&chart, "flows and errors per second over time");
    figure(page, "throughput", caption, &content);
}

/// (d) flows in progress at each interval's end.
fn active(s: &Summary, page: &mut String) {
    let caption = "Active users (flows in progress at each interval's end)";
    if s.timeseries.is_empty() {
        let content = no_data("No interval was recorded (the run ended within its first second).");
        return figure(page, "active-users", caption, &content);
    }
    let points = s
        .timeseries
        .iter()
        .map(|p| (p.t_s, p.active as f64))
        .collect();
    let chart = LineChart {
        width: WIDTH,
        height: 260,
        x_desc: "time (s)",
        y_desc: "active",
        x_range: time_range(s),
        x_labels: 10,
        x_fmt: &seconds,
        lines: vec![line("", palette(0), points)],
        area: true,
    };
    let content = drawn(chart.svg("active users over time"));
    figure(page, "active-users", caption, &content);
}

/// (e) error counts by step and kind, most frequent first.
fn errors(s: &Summary, page: &mut String) {
    let caption = "Errors by step and kind (count)";
    if s.errors.is_empty() {
        return figure(
            page,
            "errors",
            caption,
            &no_data("No errors were recorded."),
        );
    }
    let bars = s
        .errors
        .iter()
        .take(TOP_ERROR_BARS)
        .map(|e| Bar {
            label: format!("{}: {} ({})", e.step, e.kind, e.phase),
            value: e.count as f64,
            color: RED,
            text: e.count.to_string(),
        })
        .collect();
    let chart = BarChart {
        x_desc: "count",
        bars,
    };
    let mut content = drawn(chart.svg("error counts by step and kind"));
    if s.errors.len() > TOP_ERROR_BARS {
        content.push_str(&format!(
            "<p class=\"note\">The {TOP_ERROR_BARS} most frequent of {} are drawn; the table lists all.</p>",
            s.errors.len()
        ));
    }
    figure(page, "errors", caption, &content);
}

/// (g) the change of each compared metric from the baseline.
fn comparison_chart(c: &ComparisonView, page: &mut String) {
    let caption = "Change from the baseline per metric (%)";
    let bars: Vec<Bar> = c
        .rows
        .iter()
        .filter_map(|r| {
            let pct = r.change_pct.filter(|p| p.is_finite())?;
            let color = match r.verdict.as_str() {
                "worse" => RED,
                "better" => GREEN,
                _ => GREY,
            };
            Some(Bar {
                label: format!("{} {}", r.name, r.metric),
                value: pct,
                color,
                text: format!("{}{}%", if pct > 0.0 { "+" } else { "" }, number(pct)),
            })
        })
        .collect();
    let content = if bars.is_empty() {
        no_data(
            "No compared metric has a change in percent (nothing to compare, or zero baselines).",
        )
    } else {
        let chart = BarChart {
            x_desc: "change from the baseline (%)",
            bars,
        };
        drawn(chart.svg("change from the baseline per metric"))
    };
    figure(page, "comparison", caption, &content);
}
