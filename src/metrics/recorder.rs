//! `Recorder`: one per worker thread, never per user: HDR histograms and typed counters.
//!
//! A worker's users record into its recorder through a `RefCell` on one thread, so recording
//! takes no lock shared between threads and sends nothing over a channel. Memory depends on the
//! plan (steps × events) and never on the number of users. Recorders are folded with `+=` at the
//! end (HDR `add` is lossless).

use std::collections::HashMap;
use std::ops::AddAssign;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::errors::{ErrorKind, ErrorTable, EventRef, Failure};
use super::stream::{EventRecord, StreamRecord};
use crate::plan::{EventId, MetricId, Plan, StepId};

/// Histograms count microseconds with 3 significant digits and grow as needed.
pub fn new_histogram() -> Histogram<u64> {
    // A constant, valid configuration (1..=5 significant figures): this cannot fail.
    Histogram::new(3).expect("3 significant figures is a valid HDR configuration")
}

/// A histogram for figures where 1% is precise enough (counts per flow, bytes, rates, the
/// latencies of noise events): 2 significant digits, exact below 256, and an eighth of the
/// memory of `new_histogram` (2 KiB instead of 16 KiB before it grows).
pub fn new_coarse_histogram() -> Histogram<u64> {
    // A constant, valid configuration: this cannot fail.
    Histogram::new(2).expect("2 significant figures is a valid HDR configuration")
}

/// A metric's latency histogram: full precision for the expected events, coarse for the noise
/// and error types a step counts beside them.
fn metric_histogram(m: &crate::plan::EventMetric) -> Histogram<u64> {
    if m.role == crate::plan::stream::Role::Expected {
        new_histogram()
    } else {
        new_coarse_histogram()
    }
}

/// Records a value; the histogram auto-resizes. (`saturating_record` would clamp to the current,
/// not-yet-grown range instead of resizing, which silently turns every value into ~1 µs.)
pub fn record(h: &mut Histogram<u64>, us: u64) {
    // Only fails past `u64` range limits that `micros` already saturates below.
    let _ = h.record(us.min(MAX_MICROS));
}

/// One day, far past any step deadline: the top of every histogram.
const MAX_MICROS: u64 = 86_400_000_000;

/// Saturating microseconds of a duration (at least 1, HDR's lowest discernible value).
pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

/// What one step measured.
#[derive(Debug, Clone)]
pub struct StepRecord {
    /// Durations of successful executions (those that ended by their `settle` aside).
    pub latency: Histogram<u64>,
    pub ok: u64,
    /// Of `ok`: executions that ended by waiting out their `settle` (no latency recorded).
    pub settled: u64,
    /// Failures by kind and phase, each with its causes (bounded: see `ErrorStat`).
    pub errors: ErrorTable,
    /// The event stream (exchange steps with an expectation).
    pub stream: Option<StreamRecord>,
}

impl StepRecord {
    pub fn failed(&self) -> u64 {
        self.errors.values().map(|s| s.count).sum()
    }
}

/// A worker's measurements.
#[derive(Debug, Clone)]
pub struct Recorder {
    pub steps: Vec<StepRecord>,
    /// By `Plan::event_metrics` index: time from the send to each occurrence of the event.
    pub events: Vec<Histogram<u64>>,
    /// By `Plan::event_metrics` index: the event's other figures (per flow, bytes, budget).
    pub event_stats: Vec<EventRecord>,
    /// Of `flows_passed`: flows that missed a budget (`ws.budgets`); the rest were good.
    pub flows_late: u64,
    /// Whole iterations that passed.
    pub iteration: Histogram<u64>,
    pub flows_started: u64,
    pub flows_passed: u64,
    pub flows_failed: u64,
    /// Event type names not in the plan, referenced by `EventRef::Unknown(index)`.
    pub unknown_events: Vec<String>,
    /// Open model: the same latencies measured from each flow's intended start.
    pub corrected: Option<Corrected>,
    /// Open model: arrivals that found no free user and no room to wait.
    pub dropped: u64,
    /// The generator's own scheduling lag (how late its timers fire), in microseconds.
    pub lag: Histogram<u64>,
    /// What the interrupted flows were doing, by step and last event seen.
    pub interrupted: HashMap<Activity, Waited>,
    /// Users whose task ended by a panic (their remaining flows never ran).
    pub users_lost: u64,
    /// Closed model: pauses taken after a failed iteration, and their total length.
    pub backoffs: u64,
    pub backoff_total: Duration,
    /// Failure transcripts kept (the first few failing flows of each error kind).
    pub transcripts: super::transcript::Transcripts,
}

/// What a flow is doing: the step it is in and the last expected event it received there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Activity {
    pub step: StepId,
    pub after_event: Option<EventId>,
}

/// How many interrupted flows were cut at one activity, and the longest they had waited there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Waited {
    pub count: u64,
    pub longest: Duration,
}

impl Waited {
    /// `n` more flows cut there, the longest of them having waited `longest`.
    pub fn add(&mut self, n: u64, longest: Duration) {
        self.count += n;
        self.longest = self.longest.max(longest);
    }
}

/// Latencies measured from the flow's intended start (coordinated-omission corrected).
#[derive(Debug, Clone)]
pub struct Corrected {
    pub steps: Vec<Histogram<u64>>,
    pub events: Vec<Histogram<u64>>,
    pub iteration: Histogram<u64>,
}

impl Recorder {
    pub fn new(plan: &Plan) -> Self {
        let steps = plan
            .steps
            .iter()
            .map(|s| StepRecord {
                latency: new_histogram(),
                ok: 0,
                settled: 0,
                errors: HashMap::new(),
                stream: match &s.kind {
                    crate::plan::StepKind::WsExchange(x) if x.expect.is_some() => {
                        Some(StreamRecord::default())
                    }
                    _ => None,
                },
            })
            .collect();
        Recorder {
            steps,
            events: plan.event_metrics.iter().map(metric_histogram).collect(),
            event_stats: plan
                .event_metrics
                .iter()
                .map(|_| EventRecord::default())
                .collect(),
            flows_late: 0,
            iteration: new_histogram(),
            flows_started: 0,
            flows_passed: 0,
            flows_failed: 0,
            unknown_events: Vec::new(),
            corrected: plan.load.is_open().then(|| Corrected {
                steps: plan.steps.iter().map(|_| new_histogram()).collect(),
                events: plan.event_metrics.iter().map(metric_histogram).collect(),
                iteration: new_histogram(),
            }),
            dropped: 0,
            lag: new_histogram(),
            interrupted: HashMap::new(),
            users_lost: 0,
            backoffs: 0,
            backoff_total: Duration::ZERO,
            transcripts: super::transcript::Transcripts::new(plan.transcripts),
        }
    }

    /// A step succeeded after `took`; `lag` is how late its flow started (open model).
    pub fn step_ok(&mut self, step: StepId, took: Duration, lag: Option<Duration>) {
        if let Some(s) = self.steps.get_mut(step as usize) {
            s.ok += 1;
            record(&mut s.latency, micros(took));
        }
        if let (Some(c), Some(lag)) = (self.corrected.as_mut(), lag) {
            if let Some(h) = c.steps.get_mut(step as usize) {
                record(h, micros(took + lag));
            }
        }
    }

    /// A step passed by waiting out its `settle`: counted, but a wait is not a latency.
    pub fn step_settled(&mut self, step: StepId) {
        if let Some(s) = self.steps.get_mut(step as usize) {
            s.ok += 1;
            s.settled += 1;
        }
    }

    pub fn step_err(&mut self, step: StepId, f: &Failure) {
        if let Some(s) = self.steps.get_mut(step as usize) {
            s.errors
                .entry((f.kind, f.phase))
                .or_default()
                .add(f.cause.as_deref(), 1);
        }
    }

    /// An occurrence of a measured event, `since_send` after the send, of `bytes` carrying
    /// `chars` characters of text; `lag` is how late its flow started (open model).
    pub fn event(
        &mut self,
        metric: MetricId,
        since_send: Duration,
        lag: Option<Duration>,
        bytes: usize,
        chars: usize,
    ) {
        let m = metric.index();
        if let Some(h) = self.events.get_mut(m) {
            record(h, micros(since_send));
        }
        if let Some(s) = self.event_stats.get_mut(m) {
            s.occurrence(bytes, chars);
        }
        if let (Some(c), Some(lag)) = (self.corrected.as_mut(), lag) {
            if let Some(h) = c.events.get_mut(m) {
                record(h, micros(since_send + lag));
            }
        }
    }

    /// The latency histograms of the expected events (not the noise and error types a step
    /// counts beside them), for tests and fuzzing that fill a recorder by hand.
    pub fn expected_events<'a>(
        &'a mut self,
        plan: &'a Plan,
    ) -> impl Iterator<Item = &'a mut Histogram<u64>> + 'a {
        self.events
            .iter_mut()
            .zip(&plan.event_metrics)
            .filter(|(_, m)| m.role == crate::plan::stream::Role::Expected)
            .map(|(h, _)| h)
    }

    /// The stream record of an exchange step (none for other steps).
    pub fn stream(&mut self, step: StepId) -> Option<&mut StreamRecord> {
        self.steps.get_mut(step as usize)?.stream.as_mut()
    }

    pub fn flow_started(&mut self) {
        self.flows_started += 1;
    }

    /// A flow passed; `late` when it missed a budget (it passed, but was not good).
    pub fn flow_passed(&mut self, took: Duration, lag: Option<Duration>, late: bool) {
        self.flows_passed += 1;
        self.flows_late += u64::from(late);
        record(&mut self.iteration, micros(took));
        if let (Some(c), Some(lag)) = (self.corrected.as_mut(), lag) {
            record(&mut c.iteration, micros(took + lag));
        }
    }

    /// How late a timer fired: the generator's own delay.
    pub fn scheduling_lag(&mut self, late: Duration) {
        record(&mut self.lag, micros(late));
    }

    pub fn flow_failed(&mut self) {
        self.flows_failed += 1;
    }

    /// A flow was cut off by a stop while doing `at`, after waiting `waited` there.
    pub fn flow_interrupted(&mut self, at: Activity, waited: Duration) {
        self.interrupted.entry(at).or_default().add(1, waited);
    }

    /// Flows cut off by the end of the run or a signal (the places they were cut, counted).
    pub fn flows_interrupted(&self) -> u64 {
        self.interrupted.values().map(|w| w.count).sum()
    }

    /// Flows started but not yet passed, failed or interrupted: still running (0 at the end).
    pub fn flows_unaccounted(&self) -> u64 {
        self.flows_started
            .saturating_sub(self.flows_passed + self.flows_failed + self.flows_interrupted())
    }

    /// Interns an event type name the plan does not know (error path only).
    pub fn unknown_event(&mut self, name: &str) -> EventRef {
        let name = truncate(name, 64);
        let idx = match self.unknown_events.iter().position(|n| n == name) {
            Some(i) => i,
            // Bounded: a server that invents a type per frame cannot grow the table.
            None if self.unknown_events.len() >= super::errors::MAX_UNKNOWN_EVENTS => {
                return EventRef::OtherUnknown
            }
            None => {
                self.unknown_events.push(name.to_string());
                self.unknown_events.len() - 1
            }
        };
        EventRef::Unknown(idx as u32)
    }

    /// Every error kind counted, over all steps.
    pub fn total_errors(&self) -> u64 {
        self.steps.iter().map(StepRecord::failed).sum()
    }

    fn remap_unknown(&mut self, other_names: &[String], kind: ErrorKind) -> ErrorKind {
        let mut map = |e: EventRef| match e {
            EventRef::Unknown(i) => match other_names.get(i as usize) {
                Some(name) => self.unknown_event(name),
                None => e,
            },
            e => e,
        };
        match kind {
            ErrorKind::EventMissing { missing, got } => ErrorKind::EventMissing {
                missing,
                got: got.map(&mut map),
            },
            ErrorKind::UnexpectedEvent { got, after } => ErrorKind::UnexpectedEvent {
                got: map(got),
                after,
            },
            ErrorKind::ErrorEvent(e) => ErrorKind::ErrorEvent(map(e)),
            k => k,
        }
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn add_hist(into: &mut Histogram<u64>, from: &Histogram<u64>) {
    // Both auto-resize, so `add` cannot run out of range.
    let _ = into.add(from);
}

impl AddAssign<&Recorder> for Recorder {
    fn add_assign(&mut self, other: &Recorder) {
        for (i, o) in other.steps.iter().enumerate() {
            let Some(s) = self.steps.get_mut(i) else {
                continue;
            };
            s.ok += o.ok;
            s.settled += o.settled;
            add_hist(&mut s.latency, &o.latency);
            if let (Some(t), Some(ot)) = (s.stream.as_mut(), o.stream.as_ref()) {
                *t += ot;
            }
        }
        for (i, o) in other.steps.iter().enumerate() {
            for ((kind, phase), stat) in &o.errors {
                let kind = self.remap_unknown(&other.unknown_events, *kind);
                if let Some(s) = self.steps.get_mut(i) {
                    s.errors.entry((kind, *phase)).or_default().merge(stat);
                }
            }
        }
        for (h, o) in self.events.iter_mut().zip(&other.events) {
            add_hist(h, o);
        }
        for (e, o) in self.event_stats.iter_mut().zip(&other.event_stats) {
            *e += o;
        }
        self.flows_late += other.flows_late;
        add_hist(&mut self.iteration, &other.iteration);
        if let (Some(c), Some(o)) = (self.corrected.as_mut(), other.corrected.as_ref()) {
            for (h, oh) in c.steps.iter_mut().zip(&o.steps) {
                add_hist(h, oh);
            }
            for (h, oh) in c.events.iter_mut().zip(&o.events) {
                add_hist(h, oh);
            }
            add_hist(&mut c.iteration, &o.iteration);
        }
        add_hist(&mut self.lag, &other.lag);
        self.dropped += other.dropped;
        self.flows_started += other.flows_started;
        self.flows_passed += other.flows_passed;
        self.flows_failed += other.flows_failed;
        for (at, w) in &other.interrupted {
            self.interrupted
                .entry(*at)
                .or_default()
                .add(w.count, w.longest);
        }
        self.users_lost += other.users_lost;
        self.backoffs += other.backoffs;
        self.backoff_total += other.backoff_total;
        self.transcripts.add(&other.transcripts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_event_names_are_bounded() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/golden-path.toml");
        let plan = crate::scenario::load(&path, &crate::scenario::Overrides::default(), &|_| None)
            .unwrap();
        let mut rec = Recorder::new(&plan);
        let long = "x".repeat(500);
        assert_eq!(rec.unknown_event(&long), rec.unknown_event(&long));
        for i in 0..1000 {
            rec.unknown_event(&format!("invented_{i}"));
        }
        assert_eq!(
            rec.unknown_events.len(),
            super::super::errors::MAX_UNKNOWN_EVENTS
        );
        assert_eq!(rec.unknown_event("yet_another"), EventRef::OtherUnknown);
    }

    #[test]
    fn merging_into_an_empty_histogram_keeps_values() {
        let mut a = new_histogram();
        let mut b = new_histogram();
        b.record(21_524).unwrap();
        b.record(129_438).unwrap();
        add_hist(&mut a, &b);
        let mut c = new_histogram();
        record(&mut c, 129_438);
        assert!(
            c.max() >= 129_000,
            "record grows the range: max {}",
            c.max()
        );
        assert_eq!(a.len(), 2);
        assert!(a.max() >= 129_000, "max {}", a.max());
        assert!(a.min() >= 21_000, "min {}", a.min());
    }
}
