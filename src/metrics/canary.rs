//! The canary user's results (`run --canary-every`): its flows, per-step latencies and errors,
//! kept apart from the load's in every output, and the rule by which it joins the verdict.
//!
//! Design choice: the canary records into a `Recorder` of its own and is summarized by the same
//! `Summary::build` as the load, so its step rows are the load's `StepSummary` type (the same
//! columns, merged by the same code); only the flow counts add `skipped` ticks. Merged results
//! (`merge`, `--processes`) add the canaries of several generators up, like the load's shards,
//! and list every canary user in `users`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::errors::ErrorCode;
use super::merge::{add_interrupted, add_latencies, merge_errors, merge_step, total};
use super::summary::{
    sort_errors, ErrorCount, InterruptedAt, Latency, Mode, RunInfo, StepSummary, StoppedBy,
    Summary, ThresholdResult, ToolError, Verdict,
};
use crate::plan::Plan;
use crate::runner::canary::CanaryRecord;

/// The canary user: one extra user that started a flow every `every_ms` while the load ran, on
/// its own connection, recorded apart from the load. A failed canary flow fails the run (a real
/// user failed under load), unless a threshold names a `canary.*` metric: then the thresholds
/// judge the canary, as they judge the load's failed flows.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Canary {
    /// The period between canary flow starts, in milliseconds.
    #[schemars(range(min = 0))]
    pub every_ms: f64,
    /// The canary users' numbers (`{{vu}}`): the first after the load's users plus the
    /// generator's shard index; one per generator that ran a canary (several once merged).
    pub users: Vec<u64>,
    pub flows: CanaryFlows,
    /// Its steps, as the load's `steps` (setup steps included: the canary logs in itself).
    pub steps: Vec<StepSummary>,
    /// Its whole flows that passed.
    pub iteration: Latency,
    /// Its errors over all steps, most frequent first.
    pub errors: Vec<ErrorCount>,
    /// Where its interrupted flows were cut off.
    pub interrupted: Vec<InterruptedAt>,
}

/// The canary's flows: `started = passed + failed + interrupted`; `skipped` ticks started none.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default, JsonSchema)]
pub struct CanaryFlows {
    pub started: u64,
    pub passed: u64,
    /// Of `passed`: flows that met every budget, and those that passed but missed one.
    #[serde(default)]
    pub good: u64,
    #[serde(default)]
    pub late: u64,
    pub failed: u64,
    /// Cut off by the end of the run or a signal: neither passed nor failed.
    pub interrupted: u64,
    /// Ticks that came while the previous canary flow still ran, so no flow started then.
    pub skipped: u64,
}

impl Canary {
    /// Summarizes the canary's record; the tool errors it shows (a flow unaccounted for, a
    /// panic) are returned for the run's own `tool_errors`, named as the canary's.
    pub fn build(plan: &Plan, record: &CanaryRecord, elapsed_s: f64) -> (Canary, Vec<ToolError>) {
        let s = Summary::build(
            plan,
            &record.rec,
            RunInfo {
                mode: Mode::Run,
                stopped_by: StoppedBy::End,
                tool_errors: Vec::new(),
                shard: crate::shard::Shard::default(),
                started_at: String::new(),
                elapsed_s,
                timeseries: Vec::new(),
            },
        );
        let tool_errors = s
            .tool_errors
            .into_iter()
            .map(|e| ToolError::new(e.kind, format!("canary: {}", e.detail)))
            .collect();
        let canary = Canary {
            every_ms: record.every.as_secs_f64() * 1000.0,
            users: vec![record.user],
            flows: CanaryFlows {
                started: s.flows.started,
                passed: s.flows.passed,
                good: s.flows.good,
                late: s.flows.late,
                failed: s.flows.failed,
                interrupted: s.flows.interrupted,
                skipped: record.skipped,
            },
            steps: s.steps,
            iteration: s.iteration,
            errors: s.errors,
            interrupted: s.interrupted,
        };
        (canary, tool_errors)
    }

    /// The run's verdict once the canary is judged: a load that passed fails when a canary flow
    /// failed (unless a threshold names a `canary.*` metric: the thresholds are then its
    /// verdict), and a canary's internal error (a bug in load-tester) makes it `error`.
    pub fn judge(&self, load: Verdict, thresholds: &[ThresholdResult]) -> Verdict {
        let judged_by_thresholds = thresholds.iter().any(|t| t.metric.starts_with("canary."));
        if self.errors.iter().any(|e| e.kind == ErrorCode::Internal) {
            return Verdict::Error;
        }
        match load {
            Verdict::Passed if self.flows.failed > 0 && !judged_by_thresholds => Verdict::Failed,
            v => v,
        }
    }

    /// Whether this canary, on its own, failed a run (the summary explains a `failed` verdict
    /// by it).
    pub fn failed(&self) -> bool {
        self.flows.failed > 0
    }

    /// Looks a step up by name.
    pub fn step(&self, name: &str) -> Option<&StepSummary> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// The run's results with the canary's figures in place of the load's (steps, iteration,
    /// flows, errors), so a `canary.*` threshold reads them as the load's are read.
    pub fn view(&self, s: &Summary) -> Summary {
        Summary {
            steps: self.steps.clone(),
            iteration: self.iteration.clone(),
            iteration_corrected: None,
            errors: self.errors.clone(),
            flows: super::summary::Flows {
                started: self.flows.started,
                passed: self.flows.passed,
                good: self.flows.good,
                late: self.flows.late,
                failed: self.flows.failed,
                interrupted: self.flows.interrupted,
                dropped: 0,
            },
            timeseries: Vec::new(),
            thresholds: Vec::new(),
            canary: None,
            ..s.clone()
        }
    }

    /// Step and event rates over `elapsed_s` (as `Summary::conclude` derives the load's).
    pub fn conclude(&mut self, elapsed_s: f64) {
        let secs = elapsed_s.max(1e-9);
        for s in &mut self.steps {
            s.rate_per_s = s.count as f64 / secs;
            for e in &mut s.events {
                e.rate_per_s = e.count as f64 / secs;
            }
        }
    }
}

/// The canaries of several results added up (flows summed, histograms added, users listed);
/// `None` when no input has one.
pub fn merge(parts: &[Summary]) -> Result<Option<Canary>, String> {
    let canaries: Vec<&Canary> = parts.iter().filter_map(|p| p.canary.as_ref()).collect();
    let Some(first) = canaries.first() else {
        return Ok(None);
    };
    let names = |c: &Canary| c.steps.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
    if canaries.iter().any(|c| names(c) != names(first)) {
        return Err("the canaries' steps differ between the inputs".into());
    }
    let steps = (0..first.steps.len())
        .map(|i| merge_step(canaries.iter().map(|c| &c.steps[i])))
        .collect::<Result<Vec<_>, String>>()?;
    let mut errors = merge_errors(canaries.iter().flat_map(|c| c.errors.iter()));
    sort_errors(&mut errors);
    let flows = CanaryFlows {
        started: total(canaries.iter().map(|c| c.flows.started)),
        passed: total(canaries.iter().map(|c| c.flows.passed)),
        good: total(canaries.iter().map(|c| c.flows.good)),
        late: total(canaries.iter().map(|c| c.flows.late)),
        failed: total(canaries.iter().map(|c| c.flows.failed)),
        interrupted: total(canaries.iter().map(|c| c.flows.interrupted)),
        skipped: total(canaries.iter().map(|c| c.flows.skipped)),
    };
    Ok(Some(Canary {
        every_ms: first.every_ms,
        users: canaries
            .iter()
            .flat_map(|c| c.users.iter().copied())
            .collect(),
        flows,
        steps,
        iteration: add_latencies(canaries.iter().map(|c| &c.iteration))?,
        errors,
        interrupted: add_interrupted(canaries.iter().flat_map(|c| c.interrupted.iter())),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::recorder::Recorder;
    use std::time::Duration;

    fn plan() -> Plan {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/golden-path.toml");
        crate::scenario::load(&path, &crate::scenario::Overrides::default(), &|_| None).unwrap()
    }

    /// A canary record of `passed` and `failed` flows (each through step 0), `skipped` ticks.
    fn record(plan: &Plan, user: u64, passed: u64, failed: u64, skipped: u64) -> CanaryRecord {
        let mut rec = Recorder::new(plan);
        for i in 0..passed {
            rec.flow_started();
            rec.step_ok(0, Duration::from_millis(10 + i), None);
            rec.flow_passed(Duration::from_millis(100 + i), None, false);
        }
        for _ in 0..failed {
            rec.flow_started();
            let f =
                crate::metrics::errors::Failure::from(crate::metrics::errors::ErrorKind::Timeout);
            rec.step_err(0, &f);
            rec.flow_failed();
        }
        CanaryRecord {
            rec,
            skipped,
            user,
            every: Duration::from_millis(250),
        }
    }

    /// The load's results (passing) with this canary.
    fn results(plan: &Plan, canary: &CanaryRecord) -> Summary {
        let mut load = Recorder::new(plan);
        load.flow_started();
        load.step_ok(0, Duration::from_millis(5), None);
        load.flow_passed(Duration::from_millis(50), None, false);
        let info = RunInfo {
            mode: Mode::Run,
            stopped_by: StoppedBy::End,
            tool_errors: Vec::new(),
            shard: crate::shard::Shard::default(),
            started_at: String::new(),
            elapsed_s: 2.0,
            timeseries: Vec::new(),
        };
        let mut s = Summary::build(plan, &load, info);
        let (c, tool_errors) = Canary::build(plan, canary, 2.0);
        assert!(tool_errors.is_empty(), "{tool_errors:?}");
        s.canary = Some(c);
        s.conclude()
    }

    #[test]
    fn a_failed_canary_flow_fails_a_passing_run_unless_a_canary_threshold_judges_it() {
        let plan = plan();
        let ok = results(&plan, &record(&plan, 150, 4, 0, 1));
        assert_eq!(ok.verdict, Verdict::Passed);
        let c = ok.canary.as_ref().unwrap();
        assert_eq!(
            c.flows,
            CanaryFlows {
                started: 4,
                passed: 4,
                good: 4,
                late: 0,
                failed: 0,
                interrupted: 0,
                skipped: 1
            }
        );
        assert_eq!(c.every_ms, 250.0);
        assert_eq!(c.steps[0].rate_per_s, 2.0, "4 executions over 2 s");
        let bad = results(&plan, &record(&plan, 150, 3, 1, 0));
        assert_eq!(bad.flows.failed, 0, "the load's own flows passed");
        assert_eq!(bad.verdict, Verdict::Failed);
        assert_eq!(bad.exit_code, 1);
        let c = bad.canary.as_ref().unwrap();
        assert_eq!(c.errors.len(), 1);
        assert_eq!(c.errors[0].count, 1);
        assert!(
            bad.errors.is_empty(),
            "the canary's errors stay in the canary"
        );
        // A threshold over the canary makes the thresholds its verdict.
        let judged = ThresholdResult {
            expr: "canary.flows.failed_rate < 50%".into(),
            source: "--threshold".into(),
            metric: "canary.flows.failed_rate".into(),
            op: "<".into(),
            limit: 50.0,
            unit: crate::metrics::summary::ThresholdUnit::Percent,
            observed: Some(25.0),
            passed: true,
            margin: Some(25.0),
            abort_on_fail: false,
            aborted: false,
            aborted_at_s: None,
        };
        assert_eq!(c.judge(Verdict::Passed, &[judged]), Verdict::Passed);
        assert_eq!(c.judge(Verdict::Passed, &[]), Verdict::Failed);
        // A worse verdict stands.
        assert_eq!(c.judge(Verdict::Breached, &[]), Verdict::Breached);
        assert_eq!(c.judge(Verdict::Unreachable, &[]), Verdict::Unreachable);
    }

    #[test]
    fn merge_adds_the_canaries_and_lists_their_users() {
        let plan = plan();
        let a = results(&plan, &record(&plan, 150, 4, 0, 1));
        let b = results(&plan, &record(&plan, 151, 2, 1, 3));
        let mut none = a.clone();
        none.canary = None;
        let merged = crate::metrics::merge::merge(&[a.clone(), b.clone(), none]).unwrap();
        let c = merged.canary.as_ref().unwrap();
        assert_eq!(c.users, vec![150, 151]);
        assert_eq!(
            c.flows,
            CanaryFlows {
                started: 7,
                passed: 6,
                good: 6,
                late: 0,
                failed: 1,
                interrupted: 0,
                skipped: 4
            }
        );
        assert_eq!(c.iteration.count, 6);
        assert_eq!(c.steps[0].count, 7);
        assert_eq!(c.steps[0].failed, 1);
        assert_eq!(c.errors.iter().map(|e| e.count).sum::<u64>(), 1);
        assert_eq!(merged.verdict, Verdict::Failed, "a canary flow failed");
        // Without canaries, none.
        let mut plain = a.clone();
        plain.canary = None;
        let merged = crate::metrics::merge::merge(&[plain.clone(), plain]).unwrap();
        assert_eq!(merged.canary, None);
        // Results written before the canary existed read as without one.
        let mut json = serde_json::to_value(&a).unwrap();
        json.as_object_mut().unwrap().remove("canary");
        let old: Summary = serde_json::from_value(json).unwrap();
        assert_eq!(old.canary, None);
    }
}
