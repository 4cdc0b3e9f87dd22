//! `Record`: a `Recorder` as data (serde), for `--processes` children to hand each interval to
//! their parent; `Recorder::to_record` and `Recorder::from_record` convert both ways.
//!
//! Design choice: histograms travel as the results carry them (HDR V2 deflate, base64), so the
//! parent merges exactly what the child measured; everything read back is checked against the
//! plan (sizes, step, event and variable numbers, bounds), so a damaged record is an error
//! message, never a panic nor an out-of-range index later.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::errors::{ErrorKind, ErrorStat, EventRef, Phase, MAX_CAUSES, MAX_UNKNOWN_EVENTS};
use super::recorder::{Activity, Corrected, Recorder};
use super::stream::{EventRecord, StreamRecord, MAX_LABELS};
use super::summary::{decode_histogram, encode_histogram};
use crate::plan::{EventId, Plan, StepId};

/// A recorder's contents (`Recorder` field by field; histograms base64 as in the results).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub steps: Vec<StepRecord>,
    pub events: Vec<String>,
    /// By event metric: its other figures (per flow, bytes, budget, groups).
    #[serde(default)]
    pub event_stats: Vec<EventRecord>,
    pub iteration: String,
    pub flows_started: u64,
    #[serde(default)]
    pub flows_late: u64,
    pub flows_passed: u64,
    pub flows_failed: u64,
    pub unknown_events: Vec<String>,
    pub corrected: Option<CorrectedRecord>,
    pub dropped: u64,
    pub lag: String,
    pub interrupted: Vec<InterruptedRecord>,
    pub users_lost: u64,
    pub backoffs: u64,
    pub backoff_total_us: u64,
    /// Failure transcripts kept in the interval (absent in records of older children).
    #[serde(default)]
    pub transcripts: Vec<super::transcript::Transcript>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub latency: String,
    pub ok: u64,
    pub settled: u64,
    pub errors: Vec<ErrorRecord>,
    #[serde(default)]
    pub stream: Option<StreamRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorRecord {
    pub kind: ErrorKind,
    pub phase: Phase,
    pub count: u64,
    pub causes: Vec<(String, u64)>,
    pub other: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorrectedRecord {
    pub steps: Vec<String>,
    pub events: Vec<String>,
    pub iteration: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InterruptedRecord {
    pub step: StepId,
    pub after_event: Option<EventId>,
    pub count: u64,
    pub longest_us: u64,
}

fn encode_all(hs: &[Histogram<u64>]) -> Vec<String> {
    hs.iter().map(encode_histogram).collect()
}

/// Decodes into an auto-resizing histogram (as `Recorder::new` makes them).
fn decode(what: &str, text: &str) -> Result<Histogram<u64>, String> {
    // At the precision it was recorded with (full, or coarse for noise rows), free to grow.
    let mut h = decode_histogram(text).map_err(|e| format!("{what}: {e}"))?;
    h.auto(true);
    Ok(h)
}

fn decode_all(
    what: &str,
    texts: &[String],
    expected: usize,
) -> Result<Vec<Histogram<u64>>, String> {
    if texts.len() != expected {
        return Err(format!(
            "{what}: {} histograms, the plan has {expected}",
            texts.len()
        ));
    }
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| decode(&format!("{what} {i}"), t))
        .collect()
}

/// Whether every step, event and variable an error kind names exists.
fn kind_fits(kind: &ErrorKind, plan: &Plan, unknown: usize) -> bool {
    let event = |e: EventId| (e as usize) < plan.events.len();
    let any = |e: &EventRef| match e {
        EventRef::Known(id) => event(*id),
        EventRef::Unknown(i) => (*i as usize) < unknown,
        EventRef::Unreadable | EventRef::OtherUnknown => true,
    };
    match kind {
        ErrorKind::EventMissing { missing, got } => event(*missing) && got.as_ref().is_none_or(any),
        ErrorKind::UnexpectedEvent { got, after } => any(got) && after.is_none_or(event),
        ErrorKind::ErrorEvent(e) => any(e),
        ErrorKind::VariableUnset(v) => (*v as usize) < plan.vars.len(),
        _ => true,
    }
}

impl Recorder {
    /// This recorder as a record.
    pub fn to_record(&self) -> Record {
        Record {
            steps: self
                .steps
                .iter()
                .map(|s| StepRecord {
                    latency: encode_histogram(&s.latency),
                    ok: s.ok,
                    settled: s.settled,
                    errors: s
                        .errors
                        .iter()
                        .map(|((kind, phase), stat)| ErrorRecord {
                            kind: *kind,
                            phase: *phase,
                            count: stat.count,
                            causes: stat
                                .causes
                                .iter()
                                .map(|(c, n)| (c.to_string(), *n))
                                .collect(),
                            other: stat.other,
                        })
                        .collect(),
                    stream: s.stream.clone(),
                })
                .collect(),
            events: encode_all(&self.events),
            event_stats: self.event_stats.clone(),
            flows_late: self.flows_late,
            iteration: encode_histogram(&self.iteration),
            flows_started: self.flows_started,
            flows_passed: self.flows_passed,
            flows_failed: self.flows_failed,
            unknown_events: self.unknown_events.clone(),
            corrected: self.corrected.as_ref().map(|c| CorrectedRecord {
                steps: encode_all(&c.steps),
                events: encode_all(&c.events),
                iteration: encode_histogram(&c.iteration),
            }),
            dropped: self.dropped,
            lag: encode_histogram(&self.lag),
            interrupted: self
                .interrupted
                .iter()
                .map(|(at, w)| InterruptedRecord {
                    step: at.step,
                    after_event: at.after_event,
                    count: w.count,
                    longest_us: u64::try_from(w.longest.as_micros()).unwrap_or(u64::MAX),
                })
                .collect(),
            users_lost: self.users_lost,
            backoffs: self.backoffs,
            backoff_total_us: u64::try_from(self.backoff_total.as_micros()).unwrap_or(u64::MAX),
            transcripts: self.transcripts.kept.clone(),
        }
    }

    /// A recorder of `plan` from a record; an error says what does not fit the plan.
    pub fn from_record(plan: &Plan, r: &Record) -> Result<Recorder, String> {
        let mut rec = Recorder::new(plan);
        if r.steps.len() != rec.steps.len() {
            return Err(format!(
                "{} steps, the plan has {}",
                r.steps.len(),
                rec.steps.len()
            ));
        }
        if r.unknown_events.len() > MAX_UNKNOWN_EVENTS {
            return Err(format!("{} unknown event names", r.unknown_events.len()));
        }
        rec.unknown_events = r.unknown_events.clone();
        let unknown = rec.unknown_events.len();
        for (i, (s, into)) in r.steps.iter().zip(rec.steps.iter_mut()).enumerate() {
            into.latency = decode(&format!("step {i} latency"), &s.latency)?;
            into.ok = s.ok;
            into.settled = s.settled;
            into.stream = match (&s.stream, &into.stream) {
                (Some(t), Some(_)) if t.fits(plan.events.len()) => Some(t.clone()),
                (None, None) => None,
                _ => {
                    return Err(format!(
                        "step {i}: a stream record that does not fit the plan"
                    ))
                }
            };
            for e in &s.errors {
                if !kind_fits(&e.kind, plan, unknown) || e.causes.len() > MAX_CAUSES {
                    return Err(format!(
                        "step {i}: an error names what the plan does not have"
                    ));
                }
                let stat = into.errors.entry((e.kind, e.phase)).or_default();
                stat.merge(&ErrorStat {
                    count: e.count,
                    causes: e
                        .causes
                        .iter()
                        .map(|(c, n)| (c.as_str().into(), *n))
                        .collect(),
                    other: e.other,
                });
            }
        }
        rec.events = decode_all("event", &r.events, plan.event_metrics.len())?;
        if r.event_stats.len() != plan.event_metrics.len()
            || r.event_stats
                .iter()
                .any(|e| e.groups.len() > MAX_LABELS + 1)
        {
            return Err(format!(
                "{} event records, the plan has {}",
                r.event_stats.len(),
                plan.event_metrics.len()
            ));
        }
        rec.event_stats = r.event_stats.clone();
        rec.flows_late = r.flows_late.min(r.flows_passed);
        rec.iteration = decode("iteration", &r.iteration)?;
        rec.corrected = match (&r.corrected, plan.load.is_open()) {
            (Some(c), true) => Some(Corrected {
                steps: decode_all("corrected step", &c.steps, plan.steps.len())?,
                events: decode_all("corrected event", &c.events, plan.event_metrics.len())?,
                iteration: decode("corrected iteration", &c.iteration)?,
            }),
            (None, false) => None,
            _ => return Err("corrected latencies do not match the load model".into()),
        };
        rec.lag = decode("lag", &r.lag)?;
        for w in &r.interrupted {
            let fits = (w.step as usize) < plan.steps.len()
                && w.after_event
                    .is_none_or(|e| (e as usize) < plan.events.len());
            if !fits {
                return Err(format!(
                    "interrupted flows at step {} (not in the plan)",
                    w.step
                ));
            }
            let at = Activity {
                step: w.step,
                after_event: w.after_event,
            };
            rec.interrupted
                .entry(at)
                .or_default()
                .add(w.count, Duration::from_micros(w.longest_us));
        }
        rec.flows_started = r.flows_started;
        rec.flows_passed = r.flows_passed;
        rec.flows_failed = r.flows_failed;
        rec.dropped = r.dropped;
        rec.users_lost = r.users_lost;
        rec.backoffs = r.backoffs;
        rec.backoff_total = Duration::from_micros(r.backoff_total_us);
        use super::transcript::{FIRST_FRAMES, LAST_FRAMES, MAX_TRANSCRIPTS};
        if r.transcripts.len() > MAX_TRANSCRIPTS
            || r.transcripts
                .iter()
                .any(|t| t.frames.len() > FIRST_FRAMES + LAST_FRAMES)
        {
            return Err("more transcripts (or frames in one) than a recorder keeps".into());
        }
        rec.transcripts.kept = r.transcripts.clone();
        super::transcript::keep_first(&mut rec.transcripts.kept, rec.transcripts.per_kind);
        Ok(rec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::errors::Failure;
    use crate::metrics::summary::{Mode, RunInfo, StoppedBy, Summary};
    use crate::plan::MetricId;

    fn plan(open: bool) -> Plan {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/golden-path.toml");
        let overrides = crate::scenario::Overrides {
            arrival_rate: open.then_some(10.0),
            ..Default::default()
        };
        crate::scenario::load(&path, &overrides, &|_| None).expect("golden path compiles")
    }

    fn busy(plan: &Plan) -> Recorder {
        let mut rec = Recorder::new(plan);
        let lag = plan.load.is_open().then_some(Duration::from_millis(3));
        for i in 0..40u64 {
            rec.flow_started();
            rec.step_ok(0, Duration::from_micros(900 + i * 13), lag);
            rec.event(MetricId(2), Duration::from_micros(3000 + i), lag, 100, 0);
            rec.scheduling_lag(Duration::from_micros(7 + i));
            if i % 8 == 0 {
                let got = rec.unknown_event("surprise");
                rec.step_err(3, &Failure::from(ErrorKind::ErrorEvent(got)).cause("boom"));
                rec.step_err(1, &Failure::from(ErrorKind::HttpStatus(503)));
                let t = crate::metrics::transcript::sample(i as f64, "HTTP 503");
                rec.transcripts.keep(ErrorKind::HttpStatus(503), t);
                rec.flow_failed();
            } else if i % 9 == 0 {
                let at = Activity {
                    step: 3,
                    after_event: Some(1),
                };
                rec.flow_interrupted(at, Duration::from_millis(i));
            } else {
                rec.flow_passed(Duration::from_millis(20 + i), lag, i % 5 == 0);
            }
            // The stream figures travel too: per-event counts, groups, tools, pairs, text.
            if let Some(e) = rec.event_stats.get_mut(2) {
                e.execution(2);
                e.grouped(
                    if i % 2 == 0 { "a" } else { "b" },
                    Duration::from_micros(40),
                    90,
                );
                e.over_budget += u64::from(i % 7 == 0);
            }
            let stream = rec.stream(3).expect("chat is an exchange");
            stream.tool("cost_query", Duration::from_micros(700 + i), Some(0.5));
            stream.pair(0, 1, Duration::from_micros(30 + i));
            stream.text_chars += 40;
            stream.text_chunks += 1;
            stream.stamped(0.002);
        }
        rec.step_settled(3);
        rec.dropped = 4;
        rec.backoffs = 2;
        rec.backoff_total = Duration::from_millis(300);
        rec
    }

    fn summary(plan: &Plan, rec: &Recorder) -> Summary {
        let info = RunInfo {
            mode: Mode::Run,
            stopped_by: StoppedBy::End,
            tool_errors: Vec::new(),
            shard: crate::shard::Shard::default(),
            started_at: String::new(),
            elapsed_s: 1.0,
            timeseries: Vec::new(),
        };
        Summary::build(plan, rec, info)
    }

    /// A histogram as its recorded values (the serialized bytes depend on its internal range).
    fn values(text: &mut String) {
        let h = decode_histogram(text).unwrap();
        *text = format!(
            "{:?}",
            h.iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .collect::<Vec<_>>()
        );
    }

    /// The record with every histogram as its values, errors in a stable order.
    fn canon(mut r: Record) -> Record {
        for s in &mut r.steps {
            values(&mut s.latency);
            s.errors.sort_by_key(|e| (e.kind, e.phase));
        }
        r.events.iter_mut().for_each(values);
        values(&mut r.iteration);
        values(&mut r.lag);
        if let Some(c) = r.corrected.as_mut() {
            c.steps.iter_mut().for_each(values);
            c.events.iter_mut().for_each(values);
            values(&mut c.iteration);
        }
        r.interrupted.sort_by_key(|w| (w.step, w.after_event));
        r
    }

    #[test]
    fn a_recorder_survives_the_round_trip_through_json() {
        for open in [false, true] {
            let plan = plan(open);
            let rec = busy(&plan);
            let json = serde_json::to_string(&rec.to_record()).unwrap();
            let back: Record = serde_json::from_str(&json).unwrap();
            let again = Recorder::from_record(&plan, &back).unwrap();
            assert_eq!(
                canon(again.to_record()),
                canon(rec.to_record()),
                "open: {open}"
            );
            let (a, b) = (summary(&plan, &again), summary(&plan, &rec));
            assert_eq!(
                (a.flows, &a.errors, &a.interrupted),
                (b.flows, &b.errors, &b.interrupted)
            );
            assert_eq!(a.backoff, b.backoff);
            assert_eq!(a.transcripts.len(), 5);
            assert_eq!(a.transcripts, b.transcripts);
            for (x, y) in a.steps.iter().zip(&b.steps) {
                assert_eq!(
                    (x.ok, x.failed, x.latency.p99_ms),
                    (y.ok, y.failed, y.latency.p99_ms)
                );
                // Histograms may encode differently after the trip; their figures may not.
                let figures = |s: &crate::metrics::summary::StepSummary| {
                    let events: Vec<_> = s
                        .events
                        .iter()
                        .map(|e| {
                            let groups: Vec<_> = e
                                .groups
                                .iter()
                                .map(|g| (g.latency.count, g.bytes))
                                .collect();
                            (
                                e.count,
                                e.flows,
                                e.bytes,
                                e.over_budget,
                                e.latency.p99_ms,
                                groups,
                            )
                        })
                        .collect();
                    let stream = s.stream.as_ref().map(|st| {
                        let tools: Vec<_> = st
                            .tools
                            .iter()
                            .map(|t| {
                                (
                                    t.latency.count,
                                    t.latency.p99_ms,
                                    t.server.clone().map(|l| l.count),
                                )
                            })
                            .collect();
                        let pairs: Vec<_> = st.pairs.iter().map(|p| p.gaps.count).collect();
                        (
                            tools,
                            pairs,
                            st.text.as_ref().map(|t| t.chars),
                            st.server_lag.as_ref().map(|l| l.behind.count),
                        )
                    });
                    (events, stream)
                };
                assert_eq!(figures(x), figures(y));
            }
            assert!(a.flows.late > 0 && a.flows.good + a.flows.late == a.flows.passed);
            let stream = a.steps[3].stream.as_ref().expect("the chat's stream");
            assert_eq!(stream.tools[0].latency.count, 40);
            // Metric 2 is the handshake's (its third row): its groups came back.
            let grouped = a.steps[2].events.iter().find(|e| !e.groups.is_empty());
            assert_eq!(grouped.map(|e| e.groups.len()), Some(2));
        }
    }

    #[test]
    fn a_record_that_does_not_fit_the_plan_is_an_error() {
        let plan = plan(false);
        let good = busy(&plan).to_record();
        let mut r = good.clone();
        let t = &mut r.transcripts[0];
        t.frames = vec![t.frames[0].clone(); 129];
        assert!(Recorder::from_record(&plan, &r)
            .unwrap_err()
            .contains("transcripts"));
        let mut r = good.clone();
        r.steps.pop();
        assert!(Recorder::from_record(&plan, &r)
            .unwrap_err()
            .contains("steps"));
        let mut r = good.clone();
        r.events[0] = "not base64!".into();
        assert!(Recorder::from_record(&plan, &r).is_err());
        let mut r = good.clone();
        r.steps[1].errors[0].kind = ErrorKind::VariableUnset(999);
        assert!(Recorder::from_record(&plan, &r).is_err());
        let mut r = good.clone();
        r.unknown_events.clear();
        assert!(
            Recorder::from_record(&plan, &r).is_err(),
            "Unknown(0) dangles"
        );
        let mut r = good.clone();
        r.interrupted[0].step = 999;
        assert!(Recorder::from_record(&plan, &r).is_err());
        let mut r = good;
        r.corrected = Some(CorrectedRecord {
            steps: Vec::new(),
            events: Vec::new(),
            iteration: String::new(),
        });
        assert!(Recorder::from_record(&plan, &r).is_err());
    }
}
