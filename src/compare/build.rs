//! The rows of a comparison, built from two results: the steps and their events matched by name,
//! then `iteration` (whole passed iterations) and `flows` (the run level).
//!
//! Design choice: a step or event present on one side only still gets its rows, `n/a` with a
//! note, so a renamed step shows up instead of silently dropping out; think steps are skipped
//! (their duration is the scenario's pause, not the target's).

use hdrhistogram::Histogram;

use super::stats::{self, Measure, Worse};
use super::{Comparison, Metric, Row, RowVerdict, Settings, Side, Tally, Unit};
use crate::metrics::summary::{EventSummary, Latency, StepKindCode, StepSummary, Summary};

/// Compares `current` against `baseline` (each with the label its file goes by).
pub fn compare(
    baseline: (&str, &Summary),
    current: (&str, &Summary),
    settings: Settings,
) -> Comparison {
    let (b, c) = (baseline.1, current.1);
    let ctx = Ctx {
        s: settings,
        secs: (b.elapsed_s, c.elapsed_s),
    };
    let mut rows = Vec::new();
    for name in union(
        b.steps.iter().map(|s| s.name.as_str()),
        c.steps.iter().map(|s| s.name.as_str()),
    ) {
        let (bs, cs) = (b.step(&name), c.step(&name));
        if [bs, cs]
            .iter()
            .flatten()
            .any(|s| s.kind == StepKindCode::Think)
        {
            continue;
        }
        ctx.step_rows(&name, bs, cs, &mut rows);
    }
    ctx.latency_rows(
        "iteration",
        None,
        Some(&b.iteration),
        Some(&c.iteration),
        &mut rows,
    );
    let done = |s: &Summary| s.flows.passed.saturating_add(s.flows.failed);
    rows.push(ctx.error_row(
        "flows",
        Some((b.flows.failed, done(b))),
        Some((c.flows.failed, done(c))),
    ));
    rows.push(ctx.throughput_row("flows", None, Some(done(b)), Some(done(c))));
    let tally = Tally::of(&rows);
    Comparison {
        baseline: side(baseline.0, b),
        current: side(current.0, c),
        settings,
        warnings: warnings(b, c),
        regression: tally.worse > 0,
        tally,
        rows,
    }
}

fn side(file: &str, s: &Summary) -> Side {
    Side {
        file: file.to_string(),
        scenario: s.scenario.clone(),
        scenario_digest: s.scenario_digest.clone(),
        started_at: s.started_at.clone(),
        elapsed_s: s.elapsed_s,
        flows: s.flows.passed.saturating_add(s.flows.failed),
    }
}

/// Names in the order of `a`, then those only in `b`.
fn union<'a>(a: impl Iterator<Item = &'a str>, b: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for n in a.chain(b) {
        if !out.iter().any(|x| x == n) {
            out.push(n.to_string());
        }
    }
    out
}

/// What makes the two runs less comparable.
fn warnings(b: &Summary, c: &Summary) -> Vec<String> {
    let mut w = Vec::new();
    if b.scenario != c.scenario {
        w.push(format!(
            "scenario: baseline '{}', current '{}': results of different scenarios",
            b.scenario, c.scenario
        ));
    } else if !b.scenario_digest.is_empty()
        && !c.scenario_digest.is_empty()
        && b.scenario_digest != c.scenario_digest
    {
        w.push(format!(
            "scenario_digest: the scenario file changed since the baseline ({} → {})",
            b.scenario_digest, c.scenario_digest
        ));
    }
    let load = |s: &Summary| {
        format!(
            "{:?} model, {} users{}",
            s.load.model,
            s.load.users,
            s.load
                .arrival_rate
                .map_or(String::new(), |r| format!(", {r} flows/s"))
        )
        .to_lowercase()
    };
    if load(b) != load(c) {
        w.push(format!(
            "load: baseline {}, current {}: throughputs are not comparable",
            load(b),
            load(c)
        ));
    }
    for (who, s) in [("baseline", b), ("current", c)] {
        if s.generator.saturated {
            w.push(format!(
                "{who}: the generator was saturated (timer lag p99 {:.1} ms): its latencies \
                 include client-side delay",
                s.generator.lag_p99_ms
            ));
        }
    }
    w
}

struct Ctx {
    s: Settings,
    /// Run time of the baseline and the current run.
    secs: (f64, f64),
}

impl Ctx {
    fn step_rows(
        &self,
        name: &str,
        b: Option<&StepSummary>,
        c: Option<&StepSummary>,
        rows: &mut Vec<Row>,
    ) {
        let (bl, cl) = (b.map(|s| &s.latency), c.map(|s| &s.latency));
        self.latency_rows(name, None, bl, cl, rows);
        let fails = |s: Option<&StepSummary>| s.map(|s| (s.failed, s.count));
        rows.push(self.error_row(name, fails(b), fails(c)));
        let count = |s: Option<&StepSummary>| s.map(|s| s.count);
        rows.push(self.throughput_row(name, None, count(b), count(c)));
        for ev in union(event_names(b), event_names(c)) {
            let (be, ce) = (b.and_then(|s| s.event(&ev)), c.and_then(|s| s.event(&ev)));
            let (bl, cl) = (be.map(|e| &e.latency), ce.map(|e| &e.latency));
            self.latency_rows(name, Some(&ev), bl, cl, rows);
            let count = |e: Option<&EventSummary>| e.map(|e| e.count);
            rows.push(self.throughput_row(name, Some(&ev), count(be), count(ce)));
        }
    }

    fn latency_rows(
        &self,
        step: &str,
        event: Option<&str>,
        b: Option<&Latency>,
        c: Option<&Latency>,
        rows: &mut Vec<Row>,
    ) {
        let (hb, hc) = (decoded(b), decoded(c));
        for (metric, q) in [
            (Metric::P50, 0.50),
            (Metric::P95, 0.95),
            (Metric::P99, 0.99),
        ] {
            let m = |h: &Result<Option<Histogram<u64>>, String>| match h {
                Ok(Some(h)) => stats::quantile(h, q, self.s.z),
                _ => None,
            };
            let (mb, mc) = (m(&hb), m(&hc));
            let mut row = row(step, event, metric, Unit::Ms, mb, mc);
            match (mb, mc) {
                (Some(x), Some(y)) => {
                    let (v, note) = stats::judge_shift(
                        &x,
                        &y,
                        self.s.tolerance,
                        self.s.min_delta_ms,
                        Worse::Higher,
                        self.s.min_samples.max(stats::samples_for_quantile(q)),
                    );
                    row.verdict = v;
                    row.note = note;
                }
                _ => row.note = Some(missing(b.is_some(), &hb, c.is_some(), &hc)),
            }
            rows.push(row);
        }
    }

    fn error_row(&self, step: &str, b: Option<(u64, u64)>, c: Option<(u64, u64)>) -> Row {
        let m = |x: Option<(u64, u64)>| x.and_then(|(e, n)| stats::error_rate(e, n, self.s.z));
        let mut row = row(step, None, Metric::ErrorRate, Unit::Percent, m(b), m(c));
        match (b, c) {
            (Some(x), Some(y)) if x.1 > 0 && y.1 > 0 => {
                let (v, note) = stats::judge_rates(
                    x,
                    y,
                    self.s.z,
                    self.s.error_tolerance_pp,
                    self.s.min_samples,
                );
                row.verdict = v;
                row.note = note;
                // Percentage points: the relative change of a rate says little.
                row.change_pct = None;
            }
            _ => {
                let none = |x: Option<(u64, u64)>| x.map_or("missing", |_| "no executions");
                row.note = Some(match (b.filter(|x| x.1 > 0), c.filter(|x| x.1 > 0)) {
                    (None, _) => format!("{} in baseline", none(b)),
                    _ => format!("{} in current", none(c)),
                });
            }
        }
        row
    }

    fn throughput_row(
        &self,
        step: &str,
        event: Option<&str>,
        b: Option<u64>,
        c: Option<u64>,
    ) -> Row {
        let mb = b.and_then(|n| stats::throughput(n, self.secs.0, self.s.z));
        let mc = c.and_then(|n| stats::throughput(n, self.secs.1, self.s.z));
        let mut row = row(step, event, Metric::Throughput, Unit::PerS, mb, mc);
        match (mb, mc) {
            (Some(x), Some(y)) => {
                let (v, note) = stats::judge_shift(
                    &x,
                    &y,
                    self.s.tolerance,
                    0.0,
                    Worse::Lower,
                    self.s.min_samples,
                );
                row.verdict = v;
                row.note = note;
            }
            _ => {
                row.note = Some(match (b, mb) {
                    (None, _) => "missing in baseline".into(),
                    (Some(_), None) => "no run time in baseline".into(),
                    _ if c.is_none() => "missing in current".into(),
                    _ => "no run time in current".into(),
                })
            }
        }
        row
    }
}

/// The expected events of a step, if it is there (noise and error rows are not compared).
fn event_names(s: Option<&StepSummary>) -> impl Iterator<Item = &str> {
    s.into_iter().flat_map(|s| {
        s.events
            .iter()
            .filter(|e| e.role == "expected")
            .map(|e| e.name.as_str())
    })
}

/// A histogram decoded: `Ok(None)` for a missing block, an error for one that does not decode
/// (files are checked when read: this only keeps a hand-built summary from panicking).
fn decoded(l: Option<&Latency>) -> Result<Option<Histogram<u64>>, String> {
    l.map(Latency::histogram).transpose()
}

/// Why a latency row has no verdict.
fn missing(
    b_there: bool,
    hb: &Result<Option<Histogram<u64>>, String>,
    c_there: bool,
    hc: &Result<Option<Histogram<u64>>, String>,
) -> String {
    let why = |there: bool, h: &Result<Option<Histogram<u64>>, String>| match h {
        _ if !there => Some("missing".to_string()),
        Err(e) => Some(e.clone()),
        Ok(Some(h)) if !h.is_empty() => None,
        _ => Some("no samples".to_string()),
    };
    match (why(b_there, hb), why(c_there, hc)) {
        (Some(x), Some(y)) if x == y => format!("{x} on either side"),
        (Some(x), _) => format!("{x} in baseline"),
        (None, Some(y)) => format!("{y} in current"),
        (None, None) => "no samples".into(),
    }
}

/// A row with its values and change, verdict `n/a` until judged.
fn row(
    step: &str,
    event: Option<&str>,
    metric: Metric,
    unit: Unit,
    b: Option<Measure>,
    c: Option<Measure>,
) -> Row {
    let change = b.zip(c).map(|(x, y)| y.value - x.value);
    let change_pct = b.zip(c).and_then(|(x, y)| {
        let rel = stats::relative(x.value, y.value - x.value);
        rel.is_finite().then_some(rel * 100.0)
    });
    let interval = |m: Option<Measure>| m.map(|m| m.interval);
    Row {
        step: step.to_string(),
        event: event.map(str::to_string),
        metric,
        unit,
        baseline: b.map(|m| m.value),
        current: c.map(|m| m.value),
        baseline_interval: interval(b),
        current_interval: interval(c),
        baseline_samples: b.map_or(0, |m| m.samples),
        current_samples: c.map_or(0, |m| m.samples),
        change,
        change_pct,
        verdict: RowVerdict::NotApplicable,
        note: None,
    }
}
