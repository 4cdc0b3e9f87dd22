//! `--metrics-listen`: the run's figures as a Prometheus text exposition (format 0.0.4), served
//! at `/metrics` while the run goes on and, with `--metrics-linger`, a while after it.
//!
//! Design choice: the page is rendered once per interval on the collector (from the cumulative
//! recorder) and swapped into a shared slot; a scrape only clones an `Arc` of the last page, so
//! scrapes cost the run nothing and the hot path never sees any of it. The final hook renders
//! from the `Summary` itself, so the last scrape agrees exactly with the results file.
//! Latencies are `summary`s with the HDR histogram's own quantiles (the same figures the results
//! carry) rather than fixed-bucket `histogram`s, which would round them to bucket bounds.

mod server;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use hdrhistogram::Histogram;

pub use server::{bind, Server};

use crate::metrics::recorder::Recorder;
use crate::metrics::summary::{Latency, Summary};
use crate::plan::Plan;

/// Quantiles of every latency summary.
const QUANTILES: [(f64, &str); 4] = [(0.5, "0.5"), (0.9, "0.9"), (0.95, "0.95"), (0.99, "0.99")];

/// One latency summary, in seconds.
#[derive(Debug, Clone, PartialEq)]
struct Quantiles {
    /// At `QUANTILES`; NaN when nothing was observed (Prometheus' convention).
    at: [f64; 4],
    sum: f64,
    count: u64,
}

impl Quantiles {
    fn of_histogram(h: &Histogram<u64>) -> Quantiles {
        if h.is_empty() {
            return Quantiles::empty();
        }
        Quantiles {
            // As `Latency::from_histogram` computes them (µs → ms), then in seconds.
            at: QUANTILES.map(|(q, _)| h.value_at_quantile(q) as f64 / 1000.0 / 1000.0),
            sum: h.mean() / 1000.0 * h.len() as f64 / 1000.0,
            count: h.len(),
        }
    }

    fn of_latency(l: &Latency) -> Quantiles {
        if l.count == 0 {
            return Quantiles::empty();
        }
        Quantiles {
            at: [l.p50_ms, l.p90_ms, l.p95_ms, l.p99_ms].map(|ms| ms / 1000.0),
            sum: l.mean_ms * l.count as f64 / 1000.0,
            count: l.count,
        }
    }

    fn empty() -> Quantiles {
        Quantiles {
            at: [f64::NAN; 4],
            sum: 0.0,
            count: 0,
        }
    }
}

/// Everything the page shows, built from the cumulative recorder or from the final results.
#[derive(Debug, Clone, PartialEq)]
struct Figures {
    finished: bool,
    elapsed_s: f64,
    started: u64,
    passed: u64,
    failed: u64,
    interrupted: u64,
    dropped: u64,
    lag_p99_s: f64,
    lag_max_s: f64,
    /// Per step: name, ok, failed, latency of the successful executions.
    steps: Vec<(String, u64, u64, Quantiles)>,
    /// Per (step, event): time from the send to the event.
    events: Vec<(String, String, Quantiles)>,
    /// By (step, error kind code).
    errors: BTreeMap<(String, &'static str), u64>,
}

impl Figures {
    fn of_recorder(plan: &Plan, rec: &Recorder, elapsed_s: f64) -> Figures {
        let mut errors = BTreeMap::new();
        for (step, r) in plan.steps.iter().zip(&rec.steps) {
            for ((kind, _), stat) in &r.errors {
                *errors
                    .entry((step.name.clone(), kind.code().as_str()))
                    .or_default() += stat.count;
            }
        }
        let (lag_p99_s, lag_max_s) = if rec.lag.is_empty() {
            (0.0, 0.0)
        } else {
            (
                rec.lag.value_at_quantile(0.99) as f64 / 1000.0 / 1000.0,
                rec.lag.max() as f64 / 1000.0 / 1000.0,
            )
        };
        Figures {
            finished: false,
            elapsed_s,
            started: rec.flows_started,
            passed: rec.flows_passed,
            failed: rec.flows_failed,
            interrupted: rec.flows_interrupted(),
            dropped: rec.dropped,
            lag_p99_s,
            lag_max_s,
            steps: plan
                .steps
                .iter()
                .zip(&rec.steps)
                .map(|(s, r)| {
                    let q = Quantiles::of_histogram(&r.latency);
                    (s.name.clone(), r.ok, r.failed(), q)
                })
                .collect(),
            events: plan
                .event_metrics
                .iter()
                .zip(&rec.events)
                .map(|(m, h)| {
                    let step = plan.steps.get(m.step as usize).map_or("?", |s| &s.name);
                    let q = Quantiles::of_histogram(h);
                    (step.to_string(), plan.event_name(m.event).to_string(), q)
                })
                .collect(),
            errors,
        }
    }

    fn of_summary(s: &Summary) -> Figures {
        let mut errors = BTreeMap::new();
        for e in &s.errors {
            *errors.entry((e.step.clone(), e.kind.as_str())).or_default() += e.count;
        }
        Figures {
            finished: true,
            elapsed_s: s.elapsed_s,
            started: s.flows.started,
            passed: s.flows.passed,
            failed: s.flows.failed,
            interrupted: s.flows.interrupted,
            dropped: s.flows.dropped,
            lag_p99_s: s.generator.lag_p99_ms / 1000.0,
            lag_max_s: s.generator.lag_max_ms / 1000.0,
            steps: s
                .steps
                .iter()
                .map(|st| {
                    let q = Quantiles::of_latency(&st.latency);
                    (st.name.clone(), st.ok, st.failed, q)
                })
                .collect(),
            events: s
                .steps
                .iter()
                .flat_map(|st| {
                    st.events.iter().map(|e| {
                        let q = Quantiles::of_latency(&e.latency);
                        (st.name.clone(), e.name.clone(), q)
                    })
                })
                .collect(),
            errors,
        }
    }

    /// Flows started and not yet ended.
    fn active(&self) -> u64 {
        self.started
            .saturating_sub(self.passed + self.failed + self.interrupted)
    }
}

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
        "Time from a step's send to an expected event's first arrival, since the start of the run.",
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
}

impl Metrics {
    fn new(plan: Arc<Plan>, page: Arc<Page>) -> Metrics {
        let info = Info {
            scenario: plan.name.clone(),
        };
        let empty = Recorder::new(&plan);
        page.set(render(&info, &Figures::of_recorder(&plan, &empty, 0.0)));
        Metrics { plan, info, page }
    }
}

impl super::Sink for Metrics {
    fn interval(&mut self, tick: &super::Tick<'_>) {
        let f = Figures::of_recorder(&self.plan, tick.total, tick.end.as_secs_f64());
        self.page.set(render(&self.info, &f));
    }

    fn finish(&mut self, summary: &Summary) -> Result<(), String> {
        self.page
            .set(render(&self.info, &Figures::of_summary(summary)));
        Ok(())
    }
}

#[cfg(test)]
mod tests;
