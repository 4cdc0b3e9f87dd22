//! Outputs: the only code that writes results. A `Sink` sees every interval of a run and the
//! final results; a `Render` turns a `Summary` into one format (text, JSON, ...).

pub mod files;
pub mod hdr_log;
pub mod html;
pub mod json;
pub mod junit;
pub mod output;
pub mod progress;
pub mod prometheus;
pub mod schema;
pub mod series;
pub mod text;

use std::io::{self, Write};
use std::time::Duration;

use crate::metrics::recorder::Recorder;
use crate::metrics::summary::Summary;

/// One format of the results: renders a `Summary` into any `Write`.
pub trait Render {
    fn write(&self, summary: &Summary, w: &mut dyn Write) -> io::Result<()>;
}

/// One completed interval of a run, as every sink sees it.
pub struct Tick<'a> {
    /// Counts intervals from 0.
    pub index: u64,
    /// From the run's start to the interval's start, and to its end.
    pub start: Duration,
    pub end: Duration,
    /// What happened in this interval alone.
    pub interval: &'a Recorder,
    /// Everything from the start to this interval's end (cumulative).
    pub total: &'a Recorder,
}

/// Every output of a command (progress, time series, HDR log, metrics, threshold checks, the
/// files written at the end) is a sink: it sees each interval while a run goes on and the final
/// results once. Interval hooks run on the collector, once per interval, never on the hot path.
pub trait Sink: Send {
    /// An interval has completed (in order, once each).
    fn interval(&mut self, _tick: &Tick<'_>) {}
    /// The final results. An error is a message naming the output (`cannot write FILE: ...`).
    fn finish(&mut self, _summary: &Summary) -> Result<(), String> {
        Ok(())
    }
}

/// Several sinks as one, called in order.
#[derive(Default)]
pub struct Sinks(pub Vec<Box<dyn Sink>>);

impl Sinks {
    pub fn push(&mut self, sink: impl Sink + 'static) {
        self.0.push(Box::new(sink));
    }
}

impl Sink for Sinks {
    fn interval(&mut self, tick: &Tick<'_>) {
        for s in &mut self.0 {
            s.interval(tick);
        }
    }
    /// Every sink finishes, even after one fails; the errors are joined.
    fn finish(&mut self, summary: &Summary) -> Result<(), String> {
        let errors: Vec<String> = self
            .0
            .iter_mut()
            .filter_map(|s| s.finish(summary).err())
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("\n"))
        }
    }
}
