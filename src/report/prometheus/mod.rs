//! `--metrics-listen`: the run's figures as a Prometheus text exposition (format 0.0.4), served
//! at `/metrics` while the run goes on and, with `--metrics-linger`, a while after it.
//!
//! Design choice: the page is rendered once per interval on the collector (from the cumulative
//! recorder) and swapped into a shared slot; a scrape only clones an `Arc` of the last page, so
//! scrapes cost the run nothing and the hot path never sees any of it. The final hook renders
//! from the `Summary` itself, so the last scrape agrees exactly with the results file.
//! Latencies are `summary`s with the HDR histogram's own quantiles (the same figures the results
//! carry) rather than fixed-bucket `histogram`s, which would round them to bucket bounds.

mod canary;
mod figures;
mod server;

use std::fmt::Write as _;
use std::sync::Arc;

use figures::{Figures, Quantiles, QUANTILES};
pub use server::{bind, Server};

use crate::metrics::recorder::Recorder;
use crate::metrics::summary::Summary;
use crate::plan::Plan;

/// What identifies the run on every page.
#[derive(Debug, Clone)]
struct Info {
    scenario: String,
}

/// Escapes a label value: backslash, double quote and line feed (the text format's rules).
fn label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A sample value as the text format writes it (`NaN`, `+Inf`, or a decimal to 9 places).
fn value(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        // Nanosecond resolution, without the binary noise of `us / 1e6` (0.0051589999999999995).
        let s = format!("{x:.9}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s == "-0" {
            "0".into()
        } else {
            s.into()
        }
    }
}

/// Writes the HELP and TYPE lines of a family.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn summary_samples(out: &mut String, name: &str, labels: &str, q: &Quantiles) {
    for ((_, text), v) in QUANTILES.iter().zip(q.at) {
        let _ = writeln!(out, "{name}{{{labels},quantile=\"{text}\"}} {}", value(v));
    }
    let _ = writeln!(out, "{name}_sum{{{labels}}} {}", value(q.sum));
    let _ = writeln!(out, "{name}_count{{{labels}}} {}", q.count);
}

/// The whole exposition page.
fn render(info: &Info, f: &Figures) -> String {
    let mut o = String::with_capacity(4096);
    family(
        &mut o,
        "load_tester_info",
        "gauge",
        "The run: scenario name and tool version (always 1).",
    );
    let _ = writeln!(
        o,
        "load_tester_info{{scenario=\"{}\",version=\"{}\"}} 1",
        label(&info.scenario),
        env!("CARGO_PKG_VERSION")
    );
    family(&mut o, "load_tester_run_finished", "gauge", "1 once the run has ended and these are its final figures (as in the results file), else 0.");
    let _ = writeln!(o, "load_tester_run_finished {}", u8::from(f.finished));
    family(
        &mut o,
        "load_tester_elapsed_seconds",
        "gauge",
        "Run time covered by these figures.",
    );
    let _ = writeln!(o, "load_tester_elapsed_seconds {}", value(f.elapsed_s));
    family(
        &mut o,
        "load_tester_flows_started_total",
        "counter",
        "Flows (iterations) started.",
    );
    let _ = writeln!(o, "load_tester_flows_started_total {}", f.started);
    family(&mut o, "load_tester_flows_total", "counter", "Flows ended, by outcome: passed, failed, or interrupted by the end of the run or a signal.");
    for (outcome, n) in [
        ("passed", f.passed),
        ("failed", f.failed),
        ("interrupted", f.interrupted),
    ] {
        let _ = writeln!(o, "load_tester_flows_total{{outcome=\"{outcome}\"}} {n}");
    }
    family(
        &mut o,
        "load_tester_active_users",
        "gauge",
        "Flows in progress (users busy in a flow).",
    );
    let _ = writeln!(o, "load_tester_active_users {}", f.active());
    family(
        &mut o,
        "load_tester_dropped_arrivals_total",
        "counter",
        "Open model: arrivals that found no free user and no room to wait.",
    );
    let _ = writeln!(o, "load_tester_dropped_arrivals_total {}", f.dropped);
    family(&mut o, "load_tester_generator_lag_p99_seconds", "gauge", "99th percentile of how late the generator's own timers fired (above 0.01 the latencies include client-side delay).");
    let _ = writeln!(
        o,
        "load_tester_generator_lag_p99_seconds {}",
        value(f.lag_p99_s)
    );
    family(
        &mut o,
        "load_tester_generator_lag_max_seconds",
        "gauge",
        "Longest delay of the generator's own timers.",
    );
    let _ = writeln!(
        o,
        "load_tester_generator_lag_max_seconds {}",
        value(f.lag_max_s)
    );
    family(
        &mut o,
        "load_tester_step_executions_total",
        "counter",
        "Step executions by result (ok or failed).",
    );
    for (name, ok, failed, _) in &f.steps {
        let step = label(name);
        let _ = writeln!(
            o,
            "load_tester_step_executions_total{{step=\"{step}\",result=\"ok\"}} {ok}"
        );
        let _ = writeln!(
            o,
            "load_tester_step_executions_total{{step=\"{step}\",result=\"failed\"}} {failed}"
        );
    }
    family(
        &mut o,
        "load_tester_step_latency_seconds",
        "summary",
        "Duration of successful step executions, since the start of the run.",
    );
    for (name, _, _, q) in &f.steps {
        summary_samples(
            &mut o,
            "load_tester_step_latency_seconds",
            &format!("step=\"{}\"", label(name)),
            q,
        );
    }
    family(
        &mut o,
        "load_tester_event_latency_seconds",
        "summary",
        "Time from a step's send to each arrival of an expected event, since the start of the run.",
    );
    for (step, event, q) in &f.events {
        let labels = format!("step=\"{}\",event=\"{}\"", label(step), label(event));
        summary_samples(&mut o, "load_tester_event_latency_seconds", &labels, q);
    }
    family(
        &mut o,
        "load_tester_errors_total",
        "counter",
        "Step failures by step and error kind (the results' error codes).",
    );
    for ((step, kind), n) in &f.errors {
        let _ = writeln!(
            o,
            "load_tester_errors_total{{step=\"{}\",kind=\"{kind}\"}} {n}",
            label(step)
        );
    }
    o
}

/// The page served before the run's plan is known: only the run-finished gauge.
fn placeholder() -> String {
    let mut o = String::new();
    family(&mut o, "load_tester_run_finished", "gauge", "1 once the run has ended and these are its final figures (as in the results file), else 0.");
    o.push_str("load_tester_run_finished 0\n");
    o
}

/// The last rendered page, shared between the sink (writer, once per interval) and the server.
#[derive(Default)]
pub struct Page(std::sync::Mutex<Arc<str>>);

impl Page {
    fn set(&self, text: String) {
        if let Ok(mut p) = self.0.lock() {
            *p = text.into();
        }
    }

    /// The current page (one lock to clone an `Arc`).
    pub fn get(&self) -> Arc<str> {
        self.0
            .lock()
            .map(|p| Arc::clone(&p))
            .unwrap_or_else(|_| Arc::from(""))
    }
}

/// The sink: renders the page from the cumulative recorder each interval, and from the
/// results at the end.
pub struct Metrics {
    plan: Arc<Plan>,
    info: Info,
    page: Arc<Page>,
    /// The canary's live figures (`--canary-every`), shown under `load_tester_canary_*`.
    canary: Option<Arc<crate::runner::canary::Live>>,
}

impl Metrics {
    fn new(plan: Arc<Plan>, page: Arc<Page>) -> Metrics {
        let info = Info {
            scenario: plan.name.clone(),
        };
        let empty = Recorder::new(&plan);
        page.set(render(&info, &Figures::of_recorder(&plan, &empty, 0.0)));
        Metrics {
            plan,
            info,
            page,
            canary: None,
        }
    }

    /// Shows the canary's figures as it publishes them.
    pub fn with_canary(mut self, live: Option<Arc<crate::runner::canary::Live>>) -> Metrics {
        self.canary = live;
        self
    }
}

impl super::Sink for Metrics {
    fn interval(&mut self, tick: &super::Tick<'_>) {
        let f = Figures::of_recorder(&self.plan, tick.total, tick.end.as_secs_f64());
        let mut page = render(&self.info, &f);
        if let Some(snapshot) = self.canary.as_ref().and_then(|c| c.get()) {
            canary::render(
                &mut page,
                &canary::CanaryFigures::of_snapshot(&self.plan, &snapshot),
            );
        }
        self.page.set(page);
    }

    fn finish(&mut self, summary: &Summary) -> Result<(), String> {
        let mut page = render(&self.info, &Figures::of_summary(summary));
        if let Some(c) = &summary.canary {
            canary::render(&mut page, &canary::CanaryFigures::of_results(c));
        }
        self.page.set(page);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
