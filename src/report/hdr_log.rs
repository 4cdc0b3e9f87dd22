//! `--hdr-log FILE`: the standard HdrHistogram interval log, one tagged histogram per step and per
//! event each interval, flushed every interval (a `kill -9` loses one interval at most).
//!
//! One log per run: an existing file is truncated, so the file always holds one header and one
//! run's intervals (a valid log; appending a second run would put a second header mid-file).
//!
//! Values are microseconds; `#[MaxValueDivisor: 1000.000]` makes `Interval_Max` read in
//! milliseconds. Java's HistogramLogProcessor reads it with `-outputValueUnitRatio 1000`.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;

use crate::metrics::recorder::Recorder;
use crate::plan::{Plan, StepKind};

pub struct HdrLog {
    out: BufWriter<File>,
    serializer: V2DeflateSerializer,
    buf: Vec<u8>,
    /// (tag, which histogram): steps by index, events by metric index.
    tags: Vec<(String, Source)>,
}

#[derive(Clone, Copy)]
enum Source {
    Step(usize),
    Event(usize),
    Iteration,
}

impl HdrLog {
    /// Creates (or truncates) the file and writes the header.
    pub fn create(path: &Path, plan: &Plan, start: SystemTime) -> io::Result<HdrLog> {
        let mut out = BufWriter::new(File::create(path)?);
        let secs = start
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        writeln!(out, "#[Histogram log format version 1.3]")?;
        writeln!(
            out,
            "#[load-tester {} scenario {}: latencies in microseconds]",
            env!("CARGO_PKG_VERSION"),
            plan.name
        )?;
        writeln!(out, "#[StartTime: {secs:.3} (seconds since epoch)]")?;
        writeln!(out, "#[MaxValueDivisor: 1000.000]")?;
        writeln!(out, "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"")?;
        out.flush()?;
        let mut tags = Vec::new();
        for (i, step) in plan.steps.iter().enumerate() {
            tags.push((step.name.clone(), Source::Step(i)));
            if let StepKind::WsExchange(x) = &step.kind {
                if let Some(e) = &x.expect {
                    for (j, ev) in e.expr.alphabet().iter().enumerate() {
                        let tag = format!("{}.{}", step.name, plan.event_name(*ev));
                        tags.push((tag, Source::Event(e.metric_base + j)));
                    }
                }
            }
        }
        tags.push(("iteration".into(), Source::Iteration));
        Ok(HdrLog {
            out,
            serializer: V2DeflateSerializer::new(),
            buf: Vec::new(),
            tags,
        })
    }

    /// Appends one interval (every tag with samples) and flushes.
    pub fn interval(
        &mut self,
        start: Duration,
        length: Duration,
        rec: &Recorder,
    ) -> io::Result<()> {
        for (tag, source) in &self.tags {
            let h: Option<&Histogram<u64>> = match source {
                Source::Step(i) => rec.steps.get(*i).map(|s| &s.latency),
                Source::Event(i) => rec.events.get(*i),
                Source::Iteration => Some(&rec.iteration),
            };
            let Some(h) = h.filter(|h| !h.is_empty()) else {
                continue;
            };
            self.buf.clear();
            if self.serializer.serialize(h, &mut self.buf).is_err() {
                continue;
            }
            writeln!(
                self.out,
                "Tag={tag},{:.3},{:.3},{:.3},{}",
                start.as_secs_f64(),
                length.as_secs_f64(),
                h.max() as f64 / 1000.0,
                base64::engine::general_purpose::STANDARD.encode(&self.buf)
            )?;
        }
        self.out.flush()
    }
}

/// The HDR interval log as a sink: one line per interval; a write error is reported once and
/// ends the log (the run goes on).
pub struct HdrSink {
    log: Option<HdrLog>,
    err: crate::io::Out,
}

impl HdrSink {
    pub fn new(log: HdrLog, err: crate::io::Out) -> HdrSink {
        HdrSink {
            log: Some(log),
            err,
        }
    }
}

impl super::Sink for HdrSink {
    fn interval(&mut self, tick: &super::Tick<'_>) {
        if let Some(h) = self.log.as_mut() {
            let length = tick.end.saturating_sub(tick.start);
            if let Err(e) = h.interval(tick.start, length, tick.interval) {
                if let Ok(mut w) = self.err.lock() {
                    let _ = writeln!(w, "error: HDR log write failed, no more intervals: {e}");
                }
                self.log = None;
            }
        }
    }
}
