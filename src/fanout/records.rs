//! Interval records: how a `--processes` child tells its parent what each interval measured, and
//! how the parent merges the children's intervals for its own live sinks.
//!
//! A child (`run --interval-records`) writes one line per interval on stderr:
//! `interval-record {"index":..,"end_us":..,"record":{..}}` (a `metrics::record::Record`, its
//! histograms HDR base64 as in the results). The parent decodes each into a `Recorder` and,
//! as the runner's collector does for worker threads, hands interval `i` to its sinks (progress,
//! time series, metrics) once every child still running has sent `i` or later. A record that
//! does not decode or fit the plan is dropped with one warning per child, never a panic.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::io::Out;
use crate::metrics::record::Record;
use crate::metrics::recorder::Recorder;
use crate::plan::Plan;
use crate::report::{Sink, Tick};

/// The start of a record line; anything else a child prints is a message.
pub const PREFIX: &str = "interval-record ";

/// Longest record line read (a plan's histograms take a few KiB); longer is refused.
const MAX_LINE: usize = 16 << 20;

/// One interval of a child.
#[derive(Debug, Serialize, Deserialize)]
struct IntervalRecord {
    index: u64,
    /// The interval's end, from the child's start, in microseconds.
    end_us: u64,
    record: Record,
}

/// The child's sink: one record line per interval.
pub struct Emit {
    out: Out,
}

impl Emit {
    pub fn new(out: Out) -> Emit {
        Emit { out }
    }
}

impl Sink for Emit {
    fn interval(&mut self, tick: &Tick<'_>) {
        let line = IntervalRecord {
            index: tick.index,
            end_us: u64::try_from(tick.end.as_micros()).unwrap_or(u64::MAX),
            record: tick.interval.to_record(),
        };
        if let (Ok(json), Ok(mut w)) = (serde_json::to_string(&line), self.out.lock()) {
            let _ = writeln!(w, "{PREFIX}{json}");
            let _ = w.flush();
        }
    }
}

/// Reads a record line of `plan`: its interval index and end, and what it measured.
fn decode(plan: &Plan, line: &str) -> Result<(u64, Duration, Recorder), String> {
    if line.len() > MAX_LINE {
        return Err(format!("a record of {} bytes", line.len()));
    }
    let json = line.strip_prefix(PREFIX).unwrap_or(line);
    let r: IntervalRecord = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let rec = Recorder::from_record(plan, &r.record)?;
    Ok((r.index, Duration::from_micros(r.end_us), rec))
}

/// Merges the children's intervals by index and feeds the parent's sinks in order.
pub struct Merger {
    plan: Arc<Plan>,
    sink: Box<dyn Sink>,
    length: Duration,
    total: Recorder,
    /// index → (latest end, merged recorder)
    pending: BTreeMap<u64, (Duration, Recorder)>,
    /// Per child: the next index it may send (its records come in order).
    next_of: Vec<u64>,
    /// Per child: its output has ended (it sends nothing more).
    ended: Vec<bool>,
    /// Per child: a bad record was seen (warned once; its figures are incomplete).
    bad: Vec<bool>,
}

impl Merger {
    pub fn new(plan: Arc<Plan>, children: usize, sink: Box<dyn Sink>) -> Merger {
        Merger {
            total: Recorder::new(&plan),
            plan,
            sink,
            length: Duration::from_secs(1),
            pending: BTreeMap::new(),
            next_of: vec![0; children],
            ended: vec![false; children],
            bad: vec![false; children],
        }
    }

    /// Takes child `j`'s record line; the warning to print the first time one is bad.
    pub fn line(&mut self, j: usize, line: &str) -> Option<String> {
        let expected = *self.next_of.get(j)?;
        let problem = match decode(&self.plan, line) {
            Ok((index, _, _)) if index < expected => format!("interval {index} again"),
            Ok((index, end, rec)) => {
                self.next_of[j] = index.saturating_add(1);
                match self.pending.get_mut(&index) {
                    Some(p) => {
                        p.0 = p.0.max(end);
                        p.1 += &rec;
                    }
                    None => {
                        self.pending.insert(index, (end, rec));
                    }
                }
                self.emit_ready();
                return None;
            }
            Err(e) => e,
        };
        if std::mem::replace(&mut self.bad[j], true) {
            return None;
        }
        Some(format!(
            "warning: process {} sent an unreadable interval record ({problem}); it is ignored, \
             so the live figures miss some of that process (its results are complete)",
            j + 1
        ))
    }

    /// Child `j`'s output has ended.
    pub fn ended(&mut self, j: usize) {
        if let Some(e) = self.ended.get_mut(j) {
            *e = true;
        }
        self.emit_ready();
    }

    /// Every record was read and fit the plan.
    pub fn complete(&self) -> bool {
        !self.bad.contains(&true)
    }

    /// Emits what is left, in order, and gives the sinks back for their final hook.
    pub fn finish(mut self) -> Box<dyn Sink> {
        for (index, (end, rec)) in std::mem::take(&mut self.pending) {
            self.emit(index, end, &rec);
        }
        self.sink
    }

    /// Emits each interval that every child still running has sent (or gone past).
    fn emit_ready(&mut self) {
        while let Some((&index, _)) = self.pending.first_key_value() {
            let ready = self
                .next_of
                .iter()
                .zip(&self.ended)
                .all(|(next, ended)| *ended || *next > index);
            if !ready {
                break;
            }
            if let Some((end, rec)) = self.pending.remove(&index) {
                self.emit(index, end, &rec);
            }
        }
    }

    fn emit(&mut self, index: u64, end: Duration, rec: &Recorder) {
        self.total += rec;
        let start = u32::try_from(index)
            .ok()
            .and_then(|i| self.length.checked_mul(i))
            .unwrap_or(end)
            .min(end);
        self.sink.interval(&Tick {
            index,
            start,
            end,
            interval: rec,
            total: &self.total,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn plan() -> Arc<Plan> {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/golden-path.toml");
        let p = crate::scenario::load(&path, &crate::scenario::Overrides::default(), &|_| None);
        Arc::new(p.expect("golden path compiles"))
    }

    /// A sink that keeps (index, flows passed in the interval, passed in total).
    struct Seen(Arc<Mutex<Vec<(u64, u64, u64)>>>);
    impl Sink for Seen {
        fn interval(&mut self, t: &Tick<'_>) {
            let row = (t.index, t.interval.flows_passed, t.total.flows_passed);
            self.0.lock().unwrap().push(row);
        }
    }

    /// The line child `Emit` writes for an interval with `passed` flows.
    fn line(plan: &Plan, index: u64, passed: u64) -> String {
        let mut rec = Recorder::new(plan);
        rec.flows_started = passed;
        rec.flows_passed = passed;
        rec.step_ok(0, Duration::from_millis(3), None);
        let buf = crate::io::Buffer::default();
        let mut emit = Emit::new(Arc::new(Mutex::new(buf.clone())));
        emit.interval(&Tick {
            index,
            start: Duration::from_secs(index),
            end: Duration::from_secs(index + 1),
            interval: &rec,
            total: &rec,
        });
        let text = buf.text();
        assert!(text.starts_with(PREFIX) && text.ends_with('\n'), "{text}");
        text.trim_end().to_string()
    }

    #[test]
    fn intervals_merge_by_index_once_every_running_child_sent_them() {
        let plan = plan();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut m = Merger::new(plan.clone(), 2, Box::new(Seen(seen.clone())));
        assert_eq!(m.line(0, &line(&plan, 0, 3)), None);
        assert_eq!(m.line(0, &line(&plan, 1, 4)), None);
        assert!(
            seen.lock().unwrap().is_empty(),
            "child 2 has sent nothing yet"
        );
        assert_eq!(m.line(1, &line(&plan, 0, 10)), None);
        assert_eq!(*seen.lock().unwrap(), [(0, 13, 13)]);
        m.ended(1);
        assert_eq!(*seen.lock().unwrap(), [(0, 13, 13), (1, 4, 17)]);
        let sink = m.finish();
        drop(sink);
        assert_eq!(seen.lock().unwrap().len(), 2);
    }

    #[test]
    fn bad_records_are_ignored_with_one_warning_per_child() {
        let plan = plan();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut m = Merger::new(plan.clone(), 2, Box::new(Seen(seen.clone())));
        let good = line(&plan, 0, 2);
        let hostile = [
            format!("{PREFIX}not json"),
            format!("{PREFIX}{{\"index\":1}}"),
            good.replace("\"steps\":[", "\"steps\":[{\"latency\":\"x\"},"),
            format!("{PREFIX}{}", "[".repeat(100_000)),
            good.replace("\"index\":0", "\"index\":18446744073709551615"),
        ];
        let warned: Vec<_> = hostile.iter().map(|l| m.line(0, l)).collect();
        assert!(warned[0]
            .as_deref()
            .unwrap()
            .contains("process 1 sent an unreadable"));
        assert!(warned[1..4].iter().all(Option::is_none), "{warned:?}");
        assert!(!m.complete());
        // The huge index was read (it fits the plan); an interval again is refused.
        assert_eq!(m.line(0, &good), None, "warned once already");
        assert_eq!(m.line(1, &line(&plan, 0, 5)), None);
        let again = m.line(1, &good).unwrap();
        assert!(
            again.contains("process 2") && again.contains("interval 0 again"),
            "{again}"
        );
        m.ended(0);
        m.ended(1);
        drop(m.finish());
        let rows = seen.lock().unwrap().clone();
        assert_eq!(rows.first(), Some(&(0, 5, 5)));
        assert_eq!(rows.last().map(|r| r.0), Some(u64::MAX));
    }
}
