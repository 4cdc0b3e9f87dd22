//! Merges results from several generators without loss: histograms added, counts summed,
//! percentiles recomputed from the merged histograms, the verdict judged again.
//!
//! `check` says first whether the inputs can be merged at all (see `check.rs`); `merge` only adds.

pub mod check;

use hdrhistogram::Histogram;

use super::recorder::new_histogram;
use super::summary::{
    decode_histogram, sort_errors, sort_interrupted, Backoff, Counts, ErrorCount, EventGroup,
    EventSummary, Flows, GapPair, Generator, InterruptedAt, Latency, LoadInfo, ServerLag,
    StepSummary, StoppedBy, StreamSummary, Summary, TextRates, ToolError, ToolSummary, Verdict,
    RESULTS_VERSION,
};
use crate::report::series::IntervalStats;

/// Checks `inputs` and merges them; missing shards are refused unless `allow_partial`, and
/// then listed in the result's `missing_shards`.
pub fn merge_checked(inputs: &[check::Input<'_>], allow_partial: bool) -> Result<Summary, String> {
    let coverage = check::check(inputs).map_err(|e| e.to_string())?;
    if !allow_partial {
        coverage.require_complete().map_err(|e| e.to_string())?;
    }
    let parts: Vec<Summary> = inputs.iter().map(|i| i.summary.clone()).collect();
    let mut merged = merge(&parts)?;
    merged.missing_shards = coverage.missing_names();
    Ok(merged)
}

/// Adds result summaries of one scenario (e.g. the shards of one test); `check` first.
pub fn merge(parts: &[Summary]) -> Result<Summary, String> {
    let first = parts.first().ok_or("nothing to merge")?;
    for (i, p) in parts.iter().enumerate() {
        if p.version != RESULTS_VERSION {
            return Err(format!(
                "input {}: results version {} (this tool reads version {RESULTS_VERSION})",
                i + 1,
                p.version
            ));
        }
        if p.scenario != first.scenario {
            return Err(format!(
                "input {}: scenario '{}' differs from '{}': only results of one scenario merge",
                i + 1,
                p.scenario,
                first.scenario
            ));
        }
        let names = |s: &Summary| s.steps.iter().map(|x| x.name.clone()).collect::<Vec<_>>();
        if names(p) != names(first) {
            return Err(format!(
                "input {}: its steps differ from the first input's",
                i + 1
            ));
        }
    }
    let steps = first
        .steps
        .iter()
        .enumerate()
        .map(|(i, _)| merge_step(parts.iter().map(|p| &p.steps[i])))
        .collect::<Result<Vec<_>, String>>()?;
    let flows = Flows {
        started: total(parts.iter().map(|p| p.flows.started)),
        passed: total(parts.iter().map(|p| p.flows.passed)),
        good: total(parts.iter().map(|p| p.flows.good)),
        late: total(parts.iter().map(|p| p.flows.late)),
        failed: total(parts.iter().map(|p| p.flows.failed)),
        interrupted: total(parts.iter().map(|p| p.flows.interrupted)),
        dropped: total(parts.iter().map(|p| p.flows.dropped)),
    };
    let mut errors = merge_errors(parts.iter().flat_map(|p| p.errors.iter()));
    sort_errors(&mut errors);
    let elapsed_s = parts.iter().map(|p| p.elapsed_s).fold(0.0, f64::max);

    let stopped_by = if parts.iter().any(|p| p.stopped_by == StoppedBy::Threshold) {
        StoppedBy::Threshold
    } else if parts.iter().any(|p| p.stopped_by == StoppedBy::Signal) {
        StoppedBy::Signal
    } else {
        StoppedBy::End
    };
    let tool_errors: Vec<ToolError> = parts.iter().flat_map(|p| p.tool_errors.clone()).collect();
    // The first of each kind over all inputs (each kept at most its own `per_kind`).
    let per_kind = parts
        .iter()
        .map(|p| p.transcripts_per_kind)
        .max()
        .unwrap_or(0);
    let mut transcripts: Vec<_> = parts.iter().flat_map(|p| p.transcripts.clone()).collect();
    super::transcript::keep_first(&mut transcripts, per_kind);

    Ok(Summary {
        goodput: Default::default(),
        version: RESULTS_VERSION,
        tool: first.tool,
        tool_version: env!("CARGO_PKG_VERSION").into(),
        scenario: first.scenario.clone(),
        scenario_digest: first.scenario_digest.clone(),
        mode: first.mode,
        started_at: parts
            .iter()
            .map(|p| p.started_at.clone())
            .min()
            .unwrap_or_default(),
        elapsed_s,
        target: first.target.clone(),
        load: LoadInfo {
            users: parts
                .iter()
                .fold(0u32, |n, p| n.saturating_add(p.load.users)),
            ..first.load.clone()
        },
        shard: None,
        generators: parts
            .iter()
            .fold(0u32, |n, p| n.saturating_add(p.generators)),
        missing_shards: Vec::new(),
        flows,
        interrupted: merge_interrupted(parts),
        stopped_by,
        tool_errors,
        backoff: Backoff {
            waits: total(parts.iter().map(|p| p.backoff.waits)),
            total_s: parts.iter().map(|p| p.backoff.total_s).sum(),
        },
        // Re-evaluated on the merged results by the caller (`merge` knows the thresholds).
        thresholds: Vec::new(),
        verdict: Verdict::Failed,
        exit_code: Verdict::Failed.exit_code(),
        steps,
        iteration: add_latencies(parts.iter().map(|p| &p.iteration))?,
        iteration_corrected: add_optional(parts.iter().map(|p| p.iteration_corrected.as_ref()))?,
        errors,
        generator: Generator {
            lag_p99_ms: parts
                .iter()
                .map(|p| p.generator.lag_p99_ms)
                .fold(0.0, f64::max),
            lag_max_ms: parts
                .iter()
                .map(|p| p.generator.lag_max_ms)
                .fold(0.0, f64::max),
            threshold_ms: first.generator.threshold_ms,
            saturated: parts.iter().any(|p| p.generator.saturated),
        },
        timeseries: merge_series(parts),
        canary: super::canary::merge(parts)?,
        transcripts_per_kind: per_kind,
        transcripts,
    }
    .conclude())
}

pub(super) fn merge_step<'a>(
    steps: impl Iterator<Item = &'a StepSummary> + Clone,
) -> Result<StepSummary, String> {
    let first = steps.clone().next().ok_or("no step")?;
    let gaps = match first.gaps {
        Some(_) => Some(add_latencies(
            steps.clone().filter_map(|s| s.gaps.as_ref()),
        )?),
        None => None,
    };
    // Every row of any input, in the order first seen: expected rows are in all of them
    // (`check`), noise rows only where noise came.
    let mut rows: Vec<&EventSummary> = Vec::new();
    for e in steps.clone().flat_map(|s| &s.events) {
        if !rows.iter().any(|r| r.name == e.name) {
            rows.push(e);
        }
    }
    let events = rows
        .into_iter()
        .map(|e| {
            let same = steps.clone().filter_map(|s| s.event(&e.name));
            Ok(EventSummary {
                name: e.name.clone(),
                count: total(same.clone().map(|x| x.count)),
                rate_per_s: 0.0,
                latency: add_latencies(same.clone().map(|x| &x.latency))?,
                latency_corrected: add_optional(
                    same.clone().map(|x| x.latency_corrected.as_ref()),
                )?,
                required: same.clone().all(|x| x.required),
                role: e.role.clone(),
                flows: total(same.clone().map(|x| x.flows)),
                per_flow: add_counts(same.clone().map(|x| x.per_flow.as_ref()), 1.0)?,
                bytes: total(same.clone().map(|x| x.bytes)),
                text_chars: total(same.clone().map(|x| x.text_chars)),
                budget_ms: e.budget_ms,
                over_budget: total(same.clone().map(|x| x.over_budget)),
                group_by: e.group_by.clone(),
                groups: merge_groups(same.clone())?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let mut errors = merge_errors(steps.clone().flat_map(|s| s.errors.iter()));
    sort_errors(&mut errors);
    let ok = total(steps.clone().map(|s| s.ok));
    let failed = total(steps.clone().map(|s| s.failed));
    Ok(StepSummary {
        name: first.name.clone(),
        kind: first.kind,
        phase: first.phase,
        count: ok.saturating_add(failed),
        ok,
        failed,
        rate_per_s: 0.0,
        latency: add_latencies(steps.clone().map(|s| &s.latency))?,
        latency_corrected: add_optional(steps.clone().map(|s| s.latency_corrected.as_ref()))?,
        errors,
        gaps,
        events,
        stream: merge_stream(steps.clone().filter_map(|s| s.stream.as_ref()))?,
        settled: first
            .settled
            .as_ref()
            .map(|f| crate::metrics::summary::Settled {
                count: total(
                    steps
                        .clone()
                        .filter_map(|s| s.settled.as_ref())
                        .map(|s| s.count),
                ),
                settle_ms: f.settle_ms,
            }),
    })
}

/// Adds the `Counts` blocks of the inputs that have one (values recorded `scale` times larger).
fn add_counts<'a>(
    blocks: impl Iterator<Item = Option<&'a Counts>> + Clone,
    scale: f64,
) -> Result<Option<Counts>, String> {
    if blocks.clone().all(|b| b.is_none()) {
        return Ok(None);
    }
    let mut total: Histogram<u64> = new_histogram();
    for b in blocks.flatten() {
        let h = decode_histogram(&b.histogram)?;
        total
            .add(&h)
            .map_err(|e| format!("histograms do not add: {e:?}"))?;
    }
    Ok(Some(Counts::from_histogram(&total, scale)))
}

/// Rows by value, in the order first seen.
fn merge_groups<'a>(
    events: impl Iterator<Item = &'a EventSummary> + Clone,
) -> Result<Vec<EventGroup>, String> {
    let mut values: Vec<&str> = Vec::new();
    for g in events.clone().flat_map(|e| &e.groups) {
        if !values.contains(&g.value.as_str()) {
            values.push(&g.value);
        }
    }
    values
        .into_iter()
        .map(|v| {
            let same = events
                .clone()
                .flat_map(|e| &e.groups)
                .filter(|g| g.value == v);
            Ok(EventGroup {
                value: v.to_string(),
                latency: add_latencies(same.clone().map(|g| &g.latency))?,
                bytes: total(same.map(|g| g.bytes)),
            })
        })
        .collect()
}

/// Adds the stream blocks of one step: histograms added, rows matched by name.
fn merge_stream<'a>(
    streams: impl Iterator<Item = &'a StreamSummary> + Clone,
) -> Result<Option<StreamSummary>, String> {
    let Some(first) = streams.clone().next() else {
        return Ok(None);
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut tools: Vec<String> = Vec::new();
    for s in streams.clone() {
        for p in &s.pairs {
            let key = (p.from.clone(), p.to.clone());
            if !pairs.contains(&key) {
                pairs.push(key);
            }
        }
        for t in &s.tools {
            if !tools.contains(&t.name) {
                tools.push(t.name.clone());
            }
        }
    }
    let text_parts = streams.clone().filter_map(|s| s.text.as_ref());
    let lag_parts = streams.clone().filter_map(|s| s.server_lag.as_ref());
    Ok(Some(StreamSummary {
        first_event: add_latencies(streams.clone().map(|s| &s.first_event))?,
        pairs: pairs
            .into_iter()
            .map(|(from, to)| {
                let same = streams
                    .clone()
                    .flat_map(|s| &s.pairs)
                    .filter(|p| p.from == from && p.to == to);
                Ok(GapPair {
                    gaps: add_latencies(same.map(|p| &p.gaps))?,
                    from,
                    to,
                })
            })
            .collect::<Result<_, String>>()?,
        events_per_flow: add_counts(streams.clone().map(|s| Some(&s.events_per_flow)), 1.0)?
            .unwrap_or_else(|| first.events_per_flow.clone()),
        bytes_per_flow: add_counts(streams.clone().map(|s| Some(&s.bytes_per_flow)), 1.0)?
            .unwrap_or_else(|| first.bytes_per_flow.clone()),
        text: match text_parts.clone().next() {
            None => None,
            Some(t) => Some(TextRates {
                chars: total(text_parts.clone().map(|t| t.chars)),
                chunks: total(text_parts.clone().map(|t| t.chunks)),
                chars_per_s: add_counts(text_parts.clone().map(|t| Some(&t.chars_per_s)), 1.0)?
                    .unwrap_or_else(|| t.chars_per_s.clone()),
                chunks_per_s: add_counts(
                    text_parts.clone().map(|t| Some(&t.chunks_per_s)),
                    1000.0,
                )?
                .unwrap_or_else(|| t.chunks_per_s.clone()),
            }),
        },
        tools: tools
            .into_iter()
            .map(|name| {
                let same = streams
                    .clone()
                    .flat_map(|s| &s.tools)
                    .filter(|t| t.name == name);
                Ok(ToolSummary {
                    latency: add_latencies(same.clone().map(|t| &t.latency))?,
                    server: add_optional(same.clone().map(|t| t.server.as_ref()))?,
                    overhead: add_optional(same.clone().map(|t| t.overhead.as_ref()))?,
                    server_longer: total(same.map(|t| t.server_longer)),
                    name,
                })
            })
            .collect::<Result<_, String>>()?,
        tools_unfinished: total(streams.clone().map(|s| s.tools_unfinished)),
        server_lag: match lag_parts.clone().next() {
            None => None,
            Some(_) => Some(ServerLag {
                clock_dependent: true,
                behind: add_latencies(lag_parts.clone().map(|l| &l.behind))?,
                ahead: total(lag_parts.clone().map(|l| l.ahead)),
                ahead_max_ms: lag_parts
                    .clone()
                    .map(|l| l.ahead_max_ms)
                    .fold(0.0, f64::max),
            }),
        },
    }))
}

/// Adds the histograms of several latency blocks and derives the block again.
pub fn add_latencies<'a>(blocks: impl Iterator<Item = &'a Latency>) -> Result<Latency, String> {
    let mut total: Histogram<u64> = new_histogram();
    for b in blocks {
        let h = b.histogram()?;
        total
            .add(&h)
            .map_err(|e| format!("histograms do not add: {e:?}"))?;
    }
    Ok(Latency::from_histogram(&total))
}

/// Adds optional blocks: `None` when no input has one.
fn add_optional<'a>(
    blocks: impl Iterator<Item = Option<&'a Latency>> + Clone,
) -> Result<Option<Latency>, String> {
    if blocks.clone().all(|b| b.is_none()) {
        return Ok(None);
    }
    add_latencies(blocks.flatten()).map(Some)
}

/// Intervals line up by position: counts add; percentiles cannot be merged without their
/// histograms (`--hdr-log` has them), so a merged interval shows the highest generator's.
fn merge_series(parts: &[Summary]) -> Vec<IntervalStats> {
    let mut out: Vec<IntervalStats> = Vec::new();
    for p in parts {
        for (i, iv) in p.timeseries.iter().enumerate() {
            match out.get_mut(i) {
                None => out.push(iv.clone()),
                Some(m) => {
                    m.t_s = m.t_s.max(iv.t_s);
                    m.flows_passed = m.flows_passed.saturating_add(iv.flows_passed);
                    m.flows_failed = m.flows_failed.saturating_add(iv.flows_failed);
                    m.dropped = m.dropped.saturating_add(iv.dropped);
                    for (ms, s) in m.steps.iter_mut().zip(&iv.steps) {
                        ms.ok = ms.ok.saturating_add(s.ok);
                        ms.errors = ms.errors.saturating_add(s.errors);
                        ms.p50_ms = ms.p50_ms.max(s.p50_ms);
                        ms.p95_ms = ms.p95_ms.max(s.p95_ms);
                        ms.p99_ms = ms.p99_ms.max(s.p99_ms);
                    }
                }
            }
        }
    }
    out
}

pub(super) fn merge_errors<'a>(all: impl Iterator<Item = &'a ErrorCount>) -> Vec<ErrorCount> {
    let mut out: Vec<ErrorCount> = Vec::new();
    for e in all {
        match out.iter_mut().find(|x| {
            x.step == e.step && x.kind == e.kind && x.phase == e.phase && x.detail == e.detail
        }) {
            Some(x) => x.absorb(e),
            None => out.push(e.clone()),
        }
    }
    out
}

/// Interrupted flows by place, added up over the parts.
fn merge_interrupted(parts: &[Summary]) -> Vec<InterruptedAt> {
    add_interrupted(parts.iter().flat_map(|p| p.interrupted.iter()))
}

/// Interrupted places added up, most frequent first.
pub(super) fn add_interrupted<'a>(
    all: impl Iterator<Item = &'a InterruptedAt>,
) -> Vec<InterruptedAt> {
    let mut out: Vec<InterruptedAt> = Vec::new();
    for i in all {
        match out
            .iter_mut()
            .find(|x| x.step == i.step && x.after_event == i.after_event)
        {
            Some(x) => {
                x.count = x.count.saturating_add(i.count);
                x.longest_wait_ms = x.longest_wait_ms.max(i.longest_wait_ms);
            }
            None => out.push(i.clone()),
        }
    }
    sort_interrupted(&mut out);
    out
}

/// A sum that stops at the top instead of overflowing (inputs are files anyone can edit).
pub(super) fn total(values: impl Iterator<Item = u64>) -> u64 {
    values.fold(0, u64::saturating_add)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::recorder::{record, Recorder};
    use crate::metrics::summary::RunInfo;
    use crate::scenario::{self, Overrides};
    use crate::shard::Shard;
    use rand::{Rng, SeedableRng};

    fn plan() -> crate::plan::Plan {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/golden-path.toml");
        scenario::load(&path, &Overrides::default(), &|_| None).expect("golden path compiles")
    }

    /// Fills a recorder with `n` random samples per histogram, as a shard would.
    fn recorder(plan: &crate::plan::Plan, seed: u64, n: usize) -> Recorder {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
        let mut rec = Recorder::new(plan);
        for _ in 0..n {
            for step in 0..rec.steps.len() {
                // Log-uniform over 10 µs .. 10 s, so every bucket magnitude is exercised.
                let us = 10f64.powf(rng.gen_range(1.0..7.0)) as u64;
                record(&mut rec.steps[step].latency, us);
                rec.steps[step].ok += 1;
            }
            for h in rec.expected_events(plan) {
                record(h, rng.gen_range(100..5_000_000));
            }
            rec.flows_started += 1;
            rec.flows_passed += 1;
            record(&mut rec.iteration, rng.gen_range(1_000..60_000_000));
        }
        rec
    }

    /// Each generator kept its first 5; merged, the 5 earliest flows over all of them remain,
    /// as one recorder fed every failure would have kept.
    #[test]
    fn merged_transcripts_are_the_earliest_n_of_each_kind() {
        let plan = plan();
        let info = || RunInfo {
            mode: crate::metrics::summary::Mode::Run,
            stopped_by: StoppedBy::End,
            tool_errors: Vec::new(),
            shard: Shard::default(),
            started_at: String::new(),
            elapsed_s: 1.0,
            timeseries: Vec::new(),
        };
        let kind = crate::metrics::errors::ErrorKind::HttpStatus(503);
        let parts: Vec<Summary> = (0..3)
            .map(|i| {
                let mut rec = recorder(&plan, i, 10);
                for k in 0..5 {
                    let start = f64::from(k) + f64::from(i as u32) * 0.5;
                    rec.transcripts
                        .keep(kind, crate::metrics::transcript::sample(start, "HTTP 503"));
                }
                Summary::build(&plan, &rec, info())
            })
            .collect();
        let merged = merge(&parts).unwrap();
        assert_eq!(merged.transcripts_per_kind, 5);
        let starts: Vec<f64> = merged.transcripts.iter().map(|t| t.flow_start_s).collect();
        assert_eq!(starts, [0.0, 0.5, 1.0, 1.0, 1.5]);
    }

    #[test]
    fn merged_p99_equals_the_p99_of_one_histogram_fed_all_samples() {
        let plan = plan();
        let parts: Vec<Recorder> = (0..3)
            .map(|i| recorder(&plan, 7 + i, 1000 + 337 * i as usize))
            .collect();
        let summaries: Vec<Summary> = parts
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let info = RunInfo {
                    mode: crate::metrics::summary::Mode::Run,
                    stopped_by: StoppedBy::End,
                    tool_errors: Vec::new(),
                    shard: Shard {
                        index: i as u32,
                        count: 3,
                    },
                    started_at: format!("2026-11-25T10:00:0{i}.000Z"),
                    elapsed_s: 10.0 + i as f64,
                    timeseries: Vec::new(),
                };
                Summary::build(&plan, r, info)
            })
            .collect();
        let merged = merge(&summaries).unwrap();
        let mut all = Recorder::new(&plan);
        for r in &parts {
            all += r;
        }
        let whole = Summary::build(
            &plan,
            &all,
            RunInfo {
                mode: crate::metrics::summary::Mode::Run,
                stopped_by: StoppedBy::End,
                tool_errors: Vec::new(),
                shard: Shard::default(),
                started_at: String::new(),
                elapsed_s: 12.0,
                timeseries: Vec::new(),
            },
        );
        assert_eq!(merged.flows, whole.flows);
        assert_eq!(merged.flows.passed, 1000 + 1337 + 1674);
        assert_eq!(merged.generators, 3);
        assert_eq!(merged.started_at, "2026-11-25T10:00:00.000Z");
        for (m, w) in merged.steps.iter().zip(&whole.steps) {
            assert_eq!(m.latency.p99_ms, w.latency.p99_ms, "step {}", m.name);
            assert_eq!(m.latency, w.latency, "step {}", m.name);
            assert_eq!(
                m.latency.histogram().unwrap(),
                w.latency.histogram().unwrap()
            );
            for (me, we) in m.events.iter().zip(&w.events) {
                assert_eq!(
                    me.latency.p99_ms, we.latency.p99_ms,
                    "{}.{}",
                    m.name, me.name
                );
                assert_eq!(me.count, we.count);
            }
        }
        assert_eq!(merged.iteration, whole.iteration);
        // And against a plain histogram fed every sample directly.
        let mut direct = new_histogram();
        for r in &parts {
            for v in r.iteration.iter_recorded() {
                direct
                    .record_n(v.value_iterated_to(), v.count_at_value())
                    .unwrap();
            }
        }
        assert_eq!(
            merged.iteration.p99_ms,
            direct.value_at_quantile(0.99) as f64 / 1000.0
        );
        assert_eq!(merged.verdict, Verdict::Passed);
    }

    #[test]
    fn merge_refuses_different_scenarios_and_versions() {
        let plan = plan();
        let rec = recorder(&plan, 1, 10);
        let info = || RunInfo {
            mode: crate::metrics::summary::Mode::Run,
            stopped_by: StoppedBy::End,
            tool_errors: Vec::new(),
            shard: Shard::default(),
            started_at: String::new(),
            elapsed_s: 1.0,
            timeseries: Vec::new(),
        };
        let a = Summary::build(&plan, &rec, info());
        let mut b = a.clone();
        b.scenario = "other".into();
        assert!(merge(&[a.clone(), b])
            .unwrap_err()
            .contains("scenario 'other'"));
        let mut c = a.clone();
        c.version = 9;
        assert!(merge(&[a, c]).unwrap_err().contains("version 9"));
        assert!(merge(&[]).is_err());
    }
}
