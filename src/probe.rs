//! The one-user verdict mode: one pass through the scenario, each step's verdict and time printed.

pub mod pass;
pub mod passes;

use std::fmt::Write as _;
use std::time::Duration;

use crate::metrics::errors::Failure;
use crate::metrics::summary::PlanNames;
use crate::plan::{Plan, Step};
use crate::runner::observer::{Done, Observer};

/// What happened to one step.
#[derive(Debug, Clone)]
pub enum Outcome {
    Passed(Duration),
    /// Passed by waiting out its `settle` (this long): no latency to show.
    Settled(Duration),
    Failed(Failure),
    Skipped,
}

/// One line of the probe's report.
#[derive(Debug, Clone)]
pub struct Entry {
    pub step: String,
    pub outcome: Outcome,
    /// Expected events and their time since the send, in arrival order.
    pub events: Vec<(String, Duration)>,
}

/// Collects the trace while the user runs.
#[derive(Default)]
pub struct Trace {
    pub entries: Vec<Entry>,
    pending_events: Vec<(String, Duration)>,
}

impl Observer for Trace {
    fn step(&mut self, step: &Step, result: &Result<Done, Failure>) {
        self.entries.push(Entry {
            step: step.name.clone(),
            outcome: match result {
                Ok(Done::Took(d)) => Outcome::Passed(*d),
                Ok(Done::Settled(d)) => Outcome::Settled(*d),
                Err(f) => Outcome::Failed(f.clone()),
            },
            events: std::mem::take(&mut self.pending_events),
        });
    }
    fn event(&mut self, _step: &Step, name: &str, since_send: Duration) {
        self.pending_events.push((name.to_string(), since_send));
    }
    fn skipped(&mut self, step: &Step) {
        self.entries.push(Entry {
            step: step.name.clone(),
            outcome: Outcome::Skipped,
            events: Vec::new(),
        });
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Renders the trace: one line per step (`PASS`/`FAIL`/`SKIP`), events indented under their step.
pub fn render(plan: &Plan, trace: &Trace, unknown_events: &[String]) -> String {
    let names = PlanNames {
        plan,
        unknown: unknown_events,
    };
    let mut out = String::new();
    for e in &trace.entries {
        match &e.outcome {
            Outcome::Passed(d) => {
                let _ = writeln!(out, "  PASS  {:<24} {:>10.2} ms", e.step, ms(*d));
            }
            Outcome::Settled(d) => {
                let _ = writeln!(
                    out,
                    "  PASS  {:<24} (ended by its {} settle)",
                    e.step,
                    crate::duration::human(*d)
                );
            }
            Outcome::Failed(f) => {
                let _ = writeln!(
                    out,
                    "  FAIL  {:<24} {} [{}, {}]",
                    e.step,
                    f.kind.describe(&names),
                    f.kind.code(),
                    f.phase
                );
                if let Some(cause) = &f.cause {
                    let _ = writeln!(out, "        {cause}");
                }
            }
            Outcome::Skipped => {
                let _ = writeln!(out, "  SKIP  {:<24} (an earlier step failed)", e.step);
            }
        }
        for (name, at) in &e.events {
            let _ = writeln!(out, "          {:<22} {:>10.2} ms", name, ms(*at));
        }
    }
    out
}

/// What the trace cannot show: a flow cut off by a signal (where it was and how long it had
/// waited there), the transcript of a failed flow (its frames, secrets masked), and failures of
/// the tool itself.
pub fn render_end(s: &crate::metrics::summary::Summary) -> String {
    let mut out = String::new();
    for t in &s.transcripts {
        out.push_str(&t.render("  "));
    }
    for i in &s.interrupted {
        let at = match &i.after_event {
            Some(e) => format!("after {e}"),
            None => "before its first event".to_string(),
        };
        let _ = writeln!(
            out,
            "  STOP  {:<24} interrupted by a signal {at}, {:.0} ms into the wait",
            i.step, i.longest_wait_ms
        );
    }
    for e in &s.tool_errors {
        let _ = writeln!(out, "  ERROR {e}");
    }
    out
}
