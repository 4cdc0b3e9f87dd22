//! The end of a repeated probe: passes, failures, availability and each step's p50/p95/max over
//! the passes, as text and as the final JSON line.

use std::fmt::Write as _;

use serde::Serialize;

use super::pass::PassRecord;
use crate::metrics::summary::{StoppedBy, Summary, Verdict};

/// The final JSON line of `probe --json` (`"type": "summary"`).
#[derive(Debug, Clone, Serialize)]
pub struct PassesSummary {
    /// Always `summary`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Passes run (an interrupted one included).
    pub passes: u64,
    pub passed: u64,
    /// Passes that ended without passing (failed, unreachable, error).
    pub failed: u64,
    /// Passes a signal cut short.
    pub interrupted: u64,
    /// Passed over finished passes, in percent; none when no pass finished.
    pub availability_pct: Option<f64>,
    pub stopped_by: StoppedBy,
    pub elapsed_s: f64,
    /// The verdict of all passes together, and its exit code.
    pub verdict: Verdict,
    pub exit_code: i32,
    pub steps: Vec<StepOverPasses>,
}

/// One step over all passes (times of the executions that passed).
#[derive(Debug, Clone, Serialize)]
pub struct StepOverPasses {
    pub name: String,
    pub ok: u64,
    pub failed: u64,
    /// None when no execution had a time (failed, or passed by waiting out a `settle`).
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

impl PassesSummary {
    /// From the pass records and the results over all passes.
    pub fn new(passes: &[PassRecord], all: &Summary) -> PassesSummary {
        let count = |v: &dyn Fn(Verdict) -> bool| passes.iter().filter(|p| v(p.verdict)).count();
        let passed = count(&|v| v == Verdict::Passed) as u64;
        let interrupted = count(&|v| v == Verdict::Interrupted) as u64;
        let failed = passes.len() as u64 - passed - interrupted;
        let finished = passed + failed;
        PassesSummary {
            kind: "summary",
            passes: passes.len() as u64,
            passed,
            failed,
            interrupted,
            availability_pct: (finished > 0).then(|| passed as f64 * 100.0 / finished as f64),
            stopped_by: all.stopped_by,
            elapsed_s: all.elapsed_s,
            verdict: all.verdict,
            exit_code: all.exit_code,
            steps: all
                .steps
                .iter()
                .map(|s| {
                    let timed = |v: f64| (s.latency.count > 0).then_some(v);
                    StepOverPasses {
                        name: s.name.clone(),
                        ok: s.ok,
                        failed: s.failed,
                        p50_ms: timed(s.latency.p50_ms),
                        p95_ms: timed(s.latency.p95_ms),
                        max_ms: timed(s.latency.max_ms),
                    }
                })
                .collect(),
        }
    }

    /// The text: a line of counts, a table of the steps, the failed passes, the verdict line.
    pub fn render(&self, passes: &[PassRecord]) -> String {
        let mut out = String::new();
        if self.stopped_by == StoppedBy::Signal {
            out.push_str("stopped by a signal: the summary covers the passes that ran\n");
        }
        let availability = self
            .availability_pct
            .map_or("no pass finished".to_string(), |a| {
                format!("availability {a:.1}%")
            });
        let _ = writeln!(
            out,
            "passes {}: {} passed, {} failed{} ({availability})",
            self.passes,
            self.passed,
            self.failed,
            if self.interrupted > 0 {
                format!(", {} interrupted", self.interrupted)
            } else {
                String::new()
            }
        );
        let _ = writeln!(
            out,
            "  {:<24} {:>10} {:>10} {:>10} {:>7} {:>7}",
            "step", "p50 ms", "p95 ms", "max ms", "ok", "failed"
        );
        let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
        for s in &self.steps {
            let _ = writeln!(
                out,
                "  {:<24} {:>10} {:>10} {:>10} {:>7} {:>7}",
                s.name,
                ms(s.p50_ms),
                ms(s.p95_ms),
                ms(s.max_ms),
                s.ok,
                s.failed
            );
        }
        let failed: Vec<String> = passes
            .iter()
            .filter(|p| !matches!(p.verdict, Verdict::Passed | Verdict::Interrupted))
            .map(|p| p.pass.to_string())
            .collect();
        // The first few: an endless repeat may have failed many times.
        const SHOWN: usize = 20;
        if !failed.is_empty() {
            let more = match failed.len().saturating_sub(SHOWN) {
                0 => String::new(),
                n => format!(" and {n} more"),
            };
            let shown = &failed[..failed.len().min(SHOWN)];
            let _ = writeln!(out, "failed passes: {}{more}", shown.join(", "));
        }
        let _ = writeln!(
            out,
            "{} after {} pass{} in {:.2} s (exit {})",
            self.verdict.label(),
            self.passes,
            if self.passes == 1 { "" } else { "es" },
            self.elapsed_s,
            self.exit_code
        );
        out
    }
}
