//! One pass of a repeated probe, as a record: its verdict, each step's verdict, time and error;
//! printed as one human line, as one JSON line, and as one JUnit suite.

use serde::Serialize;

use super::{Outcome, Trace};
use crate::metrics::errors::{ErrorCode, Phase};
use crate::metrics::summary::{PlanNames, Summary, Verdict};
use crate::plan::Plan;
use crate::report::junit::{Case, Failure, Suite};

/// One pass: a JSON line of `probe --json` (`"type": "pass"`).
#[derive(Debug, Clone, Serialize)]
pub struct PassRecord {
    /// Always `pass`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Counts from 1.
    pub pass: u64,
    /// How many passes were asked for (none: until stopped).
    pub of: Option<u64>,
    pub started_at: String,
    pub elapsed_ms: f64,
    pub verdict: Verdict,
    pub exit_code: i32,
    pub steps: Vec<StepRecord>,
}

/// One step of a pass.
#[derive(Debug, Clone, Serialize)]
pub struct StepRecord {
    pub name: String,
    pub verdict: StepVerdict,
    /// Its time (a settled step: the settle waited out); none when it failed or did not run.
    pub time_ms: Option<f64>,
    pub error: Option<StepError>,
}

/// What happened to a step in one pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepVerdict {
    Passed,
    /// Passed by waiting out its `settle`.
    Settled,
    Failed,
    /// An earlier step failed.
    Skipped,
    /// A signal stopped the pass before it.
    NotRun,
}

/// Why a step failed.
#[derive(Debug, Clone, Serialize)]
pub struct StepError {
    pub kind: ErrorCode,
    pub phase: Phase,
    /// E.g. `event missing: agent_completed (agent_error came instead)`.
    pub detail: String,
    /// The exact cause with the address, when known.
    pub cause: Option<String>,
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} [{}, {}]", self.detail, self.kind, self.phase)?;
        match &self.cause {
            Some(c) => write!(f, ": {c}"),
            None => Ok(()),
        }
    }
}

impl PassRecord {
    /// The record of pass `pass` from its trace and its own results.
    pub fn new(
        pass: u64,
        of: Option<u64>,
        plan: &Plan,
        trace: &Trace,
        unknown_events: &[String],
        results: &Summary,
    ) -> PassRecord {
        let names = PlanNames {
            plan,
            unknown: unknown_events,
        };
        let ms = |d: std::time::Duration| Some(micros(d.as_secs_f64() * 1000.0));
        let mut steps: Vec<StepRecord> = trace
            .entries
            .iter()
            .map(|e| {
                let (verdict, time_ms, error) = match &e.outcome {
                    Outcome::Passed(d) => (StepVerdict::Passed, ms(*d), None),
                    Outcome::Settled(d) => (StepVerdict::Settled, ms(*d), None),
                    Outcome::Skipped => (StepVerdict::Skipped, None, None),
                    Outcome::Failed(f) => (
                        StepVerdict::Failed,
                        None,
                        Some(StepError {
                            kind: f.kind.code(),
                            phase: f.phase,
                            detail: f.kind.describe(&names),
                            cause: f.cause.as_deref().map(str::to_string),
                        }),
                    ),
                };
                StepRecord {
                    name: e.step.clone(),
                    verdict,
                    time_ms,
                    error,
                }
            })
            .collect();
        // Steps a signal kept from running.
        for step in plan.steps.iter().skip(steps.len()) {
            steps.push(StepRecord {
                name: step.name.clone(),
                verdict: StepVerdict::NotRun,
                time_ms: None,
                error: None,
            });
        }
        PassRecord {
            kind: "pass",
            pass,
            of,
            started_at: results.started_at.clone(),
            elapsed_ms: micros(results.elapsed_s * 1000.0),
            verdict: results.verdict,
            exit_code: results.exit_code,
            steps,
        }
    }

    /// `pass 3/10`, or `pass 3` when repeating until stopped.
    pub fn label(&self) -> String {
        match self.of {
            Some(n) => format!("pass {}/{n}", self.pass),
            None => format!("pass {}", self.pass),
        }
    }

    /// The first step that failed, with its error.
    pub fn failed_at(&self) -> Option<(&str, &StepError)> {
        self.steps
            .iter()
            .find_map(|s| s.error.as_ref().map(|e| (s.name.as_str(), e)))
    }

    /// `pass 3/10 ok 1.42s`, `pass 4/10 FAILED 0.05s at chat: DETAIL [KIND, PHASE]: CAUSE`.
    pub fn line(&self) -> String {
        let verdict = match self.verdict {
            Verdict::Passed => "ok",
            v => v.label(),
        };
        let mut line = format!(
            "{} {verdict} {:.2}s",
            self.label(),
            self.elapsed_ms / 1000.0
        );
        if let Some((step, e)) = self.failed_at() {
            line.push_str(&format!(" at {step}: {e}"));
        } else if let Some(s) = self.steps.iter().find(|s| s.verdict == StepVerdict::NotRun) {
            line.push_str(&format!(" (stopped by a signal at {})", s.name));
        }
        line
    }

    /// The pass as a JUnit suite: a case per step.
    pub fn suite(&self, scenario: &str) -> Suite {
        let classname = format!("{scenario}.pass{}", self.pass);
        let cases = self
            .steps
            .iter()
            .map(|s| Case {
                name: s.name.clone(),
                classname: classname.clone(),
                time_s: s.time_ms.unwrap_or(0.0) / 1000.0,
                failure: s.error.as_ref().map(|e| Failure {
                    message: format!("{}: {e}", s.name),
                    kind: "step_failed".into(),
                    text: format!("{} failed in {}", s.name, self.label()),
                }),
                skipped: match s.verdict {
                    StepVerdict::Skipped => Some("an earlier step failed".into()),
                    StepVerdict::NotRun => {
                        Some("a signal stopped the pass before this step ended".into())
                    }
                    _ => None,
                },
                system_out: s.time_ms.map(|t| format!("{t:.2} ms")),
            })
            .collect();
        Suite {
            name: self.label(),
            time_s: self.elapsed_ms / 1000.0,
            properties: vec![
                ("pass".into(), self.pass.to_string()),
                ("started_at".into(), self.started_at.clone()),
                ("verdict".into(), self.verdict.label().into()),
            ],
            cases,
        }
    }
}

/// Milliseconds rounded to the microsecond.
fn micros(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}
