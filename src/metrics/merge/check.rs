//! What `merge` refuses: inputs that cannot be added up honestly — the same shard twice, mixed
//! shard counts, another scenario or target, a partial merge, counts that contradict their own
//! histograms (a step's `ok` is its latency samples plus its settled executions) — each refusal
//! naming the file and the JSON field.
//!
//! Design choice: every input is checked on its own first (its counts against its histograms),
//! then against the first input (scenario, target), then the set of shards; the first problem
//! found is the refusal. Which shards are missing is an answer (`Coverage`), not a refusal: the
//! caller decides whether a partial merge is allowed.

use std::fmt;

use crate::metrics::summary::{Latency, Summary, RESULTS_VERSION};
use crate::shard::{Shard, ShardArg};

/// One input of a merge: where it came from (named in refusals), what it holds and, when read
/// from a file, its bytes (two identical files are the same results twice).
pub struct Input<'a> {
    pub label: &'a str,
    pub summary: &'a Summary,
    pub bytes: Option<&'a [u8]>,
}

/// Why inputs cannot be merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Nothing was given.
    #[error("nothing to merge")]
    Empty,
    /// A results format this tool does not read.
    #[error(
        "{file}: version: results version {found} (this tool reads version {RESULTS_VERSION})"
    )]
    Version { file: String, found: u32 },
    /// A count that its own histogram or its parts contradict.
    #[error("{file}: {field}: {problem}")]
    Inconsistent {
        file: String,
        field: String,
        problem: String,
    },
    /// Results of another scenario (name, source digest or steps differ).
    #[error("{file}: {field}: {found} differs from {expected} in {first}: only results of one scenario merge")]
    Scenario {
        file: String,
        first: String,
        field: String,
        found: String,
        expected: String,
    },
    /// Results against another target.
    #[error("{file}: {field}: '{found}' differs from '{expected}' in {first}: only results against one target merge")]
    Target {
        file: String,
        first: String,
        field: String,
        found: String,
        expected: String,
    },
    /// Byte-identical inputs: the same results given twice.
    #[error("{file}: identical to {other}: the same results twice would count every flow twice")]
    Identical { file: String, other: String },
    /// Two inputs of the same shard (or two whole runs, each holding every user).
    #[error("{file}: shard: {shard} is also the shard of {other}: {why}")]
    SameShard {
        file: String,
        other: String,
        shard: String,
        why: &'static str,
    },
    /// Shards of different splits (e.g. 1/3 and 2/4).
    #[error("{file}: shard: {found} is one of {count} shards, but {other} is {expected}, one of {expected_count}: shards of different splits do not add up")]
    MixedCounts {
        file: String,
        other: String,
        found: String,
        count: u32,
        expected: String,
        expected_count: u32,
    },
    /// A shard field that is not `I/N`.
    #[error("{file}: shard: '{found}' is not a shard (I/N)")]
    BadShard { file: String, found: String },
    /// A result that is itself a partial merge.
    #[error("{file}: missing_shards: it is a partial merge (shards {missing} missing); merge the shard files themselves")]
    PartialInput { file: String, missing: String },
    /// Shards absent from a merge that must be complete.
    #[error("shard{plural} {missing} of {count} missing: the merged result would cover only part of the users; give every shard's results, or pass --allow-partial to accept a partial result (marked in its missing_shards)")]
    Missing {
        missing: String,
        count: u32,
        plural: &'static str,
    },
}

/// Which shards the inputs cover: `count` shards in all, of which `missing` were not given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    pub count: u32,
    pub missing: Vec<Shard>,
}

impl Coverage {
    /// The refusal for a merge that must be complete, if shards are missing.
    pub fn require_complete(&self) -> Result<(), Refusal> {
        if self.missing.is_empty() {
            return Ok(());
        }
        Err(Refusal::Missing {
            missing: list(&self.missing),
            count: self.count,
            plural: if self.missing.len() == 1 { "" } else { "s" },
        })
    }

    /// The missing shards as the results list them (`2/3`).
    pub fn missing_names(&self) -> Vec<String> {
        self.missing.iter().map(Shard::to_string).collect()
    }
}

fn list(shards: &[Shard]) -> String {
    shards
        .iter()
        .map(Shard::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks that `inputs` can be merged and says which shards they cover.
pub fn check(inputs: &[Input<'_>]) -> Result<Coverage, Refusal> {
    let first = inputs.first().ok_or(Refusal::Empty)?;
    for input in inputs {
        if input.summary.version != RESULTS_VERSION {
            return Err(Refusal::Version {
                file: input.label.into(),
                found: input.summary.version,
            });
        }
        consistent(input.label, input.summary)?;
        same_test(first, input)?;
        if !input.summary.missing_shards.is_empty() {
            return Err(Refusal::PartialInput {
                file: input.label.into(),
                missing: input.summary.missing_shards.join(", "),
            });
        }
    }
    identical(inputs)?;
    coverage(inputs)
}

/// Two inputs with the same bytes.
fn identical(inputs: &[Input<'_>]) -> Result<(), Refusal> {
    for (i, a) in inputs.iter().enumerate() {
        for b in &inputs[i + 1..] {
            if let (Some(x), Some(y)) = (a.bytes, b.bytes) {
                if x == y {
                    return Err(Refusal::Identical {
                        file: b.label.into(),
                        other: a.label.into(),
                    });
                }
            }
        }
    }
    Ok(())
}

/// This input's shard: a result without one is a whole run (or a complete merge), shard 1/1.
fn shard_of(input: &Input<'_>) -> Result<Shard, Refusal> {
    match &input.summary.shard {
        None => Ok(Shard::default()),
        Some(text) => match text.parse::<ShardArg>() {
            Ok(ShardArg::Fixed(s)) => Ok(s),
            _ => Err(Refusal::BadShard {
                file: input.label.into(),
                found: text.clone(),
            }),
        },
    }
}

/// Every input a different shard of one split; which of the split's shards are absent.
fn coverage(inputs: &[Input<'_>]) -> Result<Coverage, Refusal> {
    let mut seen: Vec<(Shard, &str)> = Vec::new();
    for input in inputs {
        let shard = shard_of(input)?;
        if let Some((s, other)) = seen.first() {
            if s.count != shard.count {
                return Err(Refusal::MixedCounts {
                    file: input.label.into(),
                    other: (*other).into(),
                    found: shard.to_string(),
                    count: shard.count,
                    expected: s.to_string(),
                    expected_count: s.count,
                });
            }
        }
        if let Some((_, other)) = seen.iter().find(|(s, _)| *s == shard) {
            let why = if shard.is_whole() {
                "both are whole runs (no --shard), each of every user: run the generators with --shard I/N"
            } else {
                "the same shard twice would count its flows twice"
            };
            return Err(Refusal::SameShard {
                file: input.label.into(),
                other: (*other).into(),
                shard: shard.to_string(),
                why,
            });
        }
        seen.push((shard, input.label));
    }
    let count = seen.first().map_or(1, |(s, _)| s.count);
    let missing = (0..count)
        .filter(|i| !seen.iter().any(|(s, _)| s.index == *i))
        .map(|index| Shard { index, count })
        .collect();
    Ok(Coverage { count, missing })
}

/// The same scenario (name, source digest, steps) against the same target as the first input.
fn same_test(first: &Input<'_>, input: &Input<'_>) -> Result<(), Refusal> {
    let (a, b) = (first.summary, input.summary);
    let scenario = |field: &str, found: String, expected: String| Refusal::Scenario {
        file: input.label.into(),
        first: first.label.into(),
        field: field.into(),
        found,
        expected,
    };
    if b.scenario != a.scenario {
        return Err(scenario(
            "scenario",
            format!("'{}'", b.scenario),
            format!("'{}'", a.scenario),
        ));
    }
    if !a.scenario_digest.is_empty()
        && !b.scenario_digest.is_empty()
        && a.scenario_digest != b.scenario_digest
    {
        return Err(scenario(
            "scenario_digest",
            format!("{} (another scenario file)", b.scenario_digest),
            a.scenario_digest.clone(),
        ));
    }
    let steps = |s: &Summary| {
        s.steps
            .iter()
            .map(|x| {
                let kind = serde_json::to_value(x.kind).unwrap_or_default();
                format!("{} ({})", x.name, kind.as_str().unwrap_or("?"))
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    if steps(a) != steps(b) {
        return Err(scenario(
            "steps",
            format!("[{}]", steps(b)),
            format!("[{}]", steps(a)),
        ));
    }
    for (i, (x, y)) in a.steps.iter().zip(&b.steps).enumerate() {
        // The expected events are the scenario's; noise rows appear only where noise came.
        let events = |s: &crate::metrics::summary::StepSummary| {
            s.events
                .iter()
                .filter(|e| e.role == "expected")
                .map(|e| e.name.clone())
                .collect::<Vec<_>>()
        };
        if events(x) != events(y) {
            return Err(scenario(
                &format!("steps[{i}].events"),
                format!("{:?}", events(y)),
                format!("{:?}", events(x)),
            ));
        }
    }
    let targets = [
        ("target.base_url", &a.target.base_url, &b.target.base_url),
        ("target.auth_url", &a.target.auth_url, &b.target.auth_url),
        ("target.ws_url", &a.target.ws_url, &b.target.ws_url),
    ];
    for (field, expected, found) in targets {
        if expected != found {
            return Err(Refusal::Target {
                file: input.label.into(),
                first: first.label.into(),
                field: field.into(),
                found: found.clone(),
                expected: expected.clone(),
            });
        }
    }
    Ok(())
}

/// A count that disagrees with the histogram or parts it summarizes.
fn bad(file: &str, field: impl fmt::Display, problem: String) -> Refusal {
    Refusal::Inconsistent {
        file: file.into(),
        field: field.to_string(),
        problem,
    }
}

/// The histogram's sample count, checked against the block's `count`.
fn samples(file: &str, field: &str, l: &Latency) -> Result<u64, Refusal> {
    let h = l
        .histogram()
        .map_err(|e| bad(file, format!("{field}.histogram"), e))?;
    if h.len() != l.count {
        return Err(bad(
            file,
            field,
            format!("count {} but its histogram holds {}", l.count, h.len()),
        ));
    }
    Ok(l.count)
}

fn optional(file: &str, field: &str, l: Option<&Latency>) -> Result<(), Refusal> {
    match l {
        Some(l) => samples(file, field, l).map(drop),
        None => Ok(()),
    }
}

/// The sum of `counts`, `None` past `u64`.
fn checked_sum(mut counts: impl Iterator<Item = u64>) -> Option<u64> {
    counts.try_fold(0u64, |n, x| n.checked_add(x))
}

/// Counts that agree with their histograms and their parts, within one input.
pub fn consistent(file: &str, s: &Summary) -> Result<(), Refusal> {
    for (i, step) in s.steps.iter().enumerate() {
        let at = format!("steps[{i}]");
        // A step passes with a latency sample, or by waiting out its `settle` (counted apart).
        let timed = samples(file, &format!("{at}.latency"), &step.latency)?;
        let settled = step.settled.as_ref().map(|s| s.count);
        if Some(step.ok) != timed.checked_add(settled.unwrap_or(0)) {
            let also = settled.map_or(String::new(), |n| format!(" and {at}.settled.count is {n}"));
            return Err(bad(
                file,
                format!("{at}.ok"),
                format!("{} but {at}.latency holds {timed} samples{also}", step.ok),
            ));
        }
        let errors = step
            .errors
            .iter()
            .try_fold(0u64, |n, e| n.checked_add(e.count));
        if errors != Some(step.failed) {
            let sum = errors.map_or("more than 2^64".into(), |n| n.to_string());
            return Err(bad(
                file,
                format!("{at}.failed"),
                format!("{} but its errors add up to {sum}", step.failed),
            ));
        }
        if step.ok.checked_add(step.failed) != Some(step.count) {
            return Err(bad(
                file,
                format!("{at}.count"),
                format!(
                    "{} but ok + failed = {} + {}",
                    step.count, step.ok, step.failed
                ),
            ));
        }
        optional(
            file,
            &format!("{at}.latency_corrected"),
            step.latency_corrected.as_ref(),
        )?;
        optional(file, &format!("{at}.gaps"), step.gaps.as_ref())?;
        for (j, e) in step.events.iter().enumerate() {
            let ev = format!("{at}.events[{j}]");
            let n = samples(file, &format!("{ev}.latency"), &e.latency)?;
            if e.count != n {
                return Err(bad(
                    file,
                    format!("{ev}.count"),
                    format!("{} but {ev}.latency holds {n} samples", e.count),
                ));
            }
            optional(
                file,
                &format!("{ev}.latency_corrected"),
                e.latency_corrected.as_ref(),
            )?;
        }
    }
    let passed = samples(file, "iteration", &s.iteration)?;
    if s.flows.passed != passed {
        return Err(bad(
            file,
            "flows.passed",
            format!("{} but iteration holds {passed} samples", s.flows.passed),
        ));
    }
    // Every failed flow failed at one step, and every step failure ended its flow; the
    // results' error list is the steps' errors. A file whose totals disagree would merge into
    // a verdict its own steps contradict.
    let step_failed = checked_sum(s.steps.iter().map(|st| st.failed));
    if step_failed != Some(s.flows.failed) {
        return Err(bad(
            file,
            "flows.failed",
            format!(
                "{} but the steps' failures add up to {}",
                s.flows.failed,
                step_failed.map_or("more than 2^64".into(), |n| n.to_string())
            ),
        ));
    }
    let listed = checked_sum(s.errors.iter().map(|e| e.count));
    if listed != step_failed {
        return Err(bad(
            file,
            "errors",
            format!(
                "their counts add up to {} but the steps' failures to {}",
                listed.map_or("more than 2^64".into(), |n| n.to_string()),
                s.flows.failed
            ),
        ));
    }
    let ended = checked_sum([s.flows.passed, s.flows.failed, s.flows.interrupted].into_iter());
    if ended.is_none_or(|n| n > s.flows.started) {
        return Err(bad(
            file,
            "flows.started",
            format!(
                "{} but passed + failed + interrupted = {} + {} + {}",
                s.flows.started, s.flows.passed, s.flows.failed, s.flows.interrupted
            ),
        ));
    }
    optional(file, "iteration_corrected", s.iteration_corrected.as_ref())
}

#[cfg(test)]
mod tests;
