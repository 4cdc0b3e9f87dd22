//! Live progress: one refreshing status line on a terminal (indicatif), or a plain, stable,
//! grep-able `progress key=value ...` line every N seconds when output is not a terminal.

use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::io::Out;
use crate::metrics::recorder::Recorder;
use crate::plan::{Plan, StepKind};

pub enum Mode {
    /// Nothing (`--quiet`).
    Off,
    /// A refreshing line on the terminal.
    Bar(ProgressBar),
    /// A line every `every` to `out`.
    Lines { out: Out, every: Duration },
}

pub struct Progress {
    plan: Arc<Plan>,
    mode: Mode,
    total: Option<Duration>,
    /// Since the last line: merged intervals.
    window: Option<Recorder>,
    window_start: Duration,
    flows: u64,
    errors: u64,
    dropped: u64,
    /// Flows started so far: those started and not yet ended are in flight (no shared counter:
    /// it comes from the workers' interval snapshots).
    started: u64,
}

impl Progress {
    pub fn new(plan: Arc<Plan>, mode: Mode) -> Progress {
        let total = plan.load.duration;
        Progress {
            plan,
            mode,
            total,
            window: None,
            window_start: Duration::ZERO,
            flows: 0,
            errors: 0,
            dropped: 0,
            started: 0,
        }
    }

    /// A terminal progress bar drawing to stderr.
    pub fn bar() -> Mode {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        Mode::Bar(bar)
    }

    pub fn interval(&mut self, end: Duration, rec: &Recorder) {
        if matches!(self.mode, Mode::Off) {
            return;
        }
        self.flows += rec.flows_passed + rec.flows_failed;
        self.started += rec.flows_started;
        self.errors += rec.total_errors();
        self.dropped += rec.dropped;
        match self.window.as_mut() {
            Some(w) => *w += rec,
            None => self.window = Some(rec.clone()),
        }
        let due = match &self.mode {
            Mode::Lines { every, .. } => end.saturating_sub(self.window_start) >= *every,
            _ => true,
        };
        if !due {
            return;
        }
        let line = self.line(end);
        match &self.mode {
            Mode::Bar(bar) => bar.set_message(line),
            Mode::Lines { out, .. } => {
                if let Ok(mut w) = out.lock() {
                    let _ = writeln!(w, "progress {line}");
                    let _ = w.flush();
                }
            }
            Mode::Off => {}
        }
        self.window = None;
        self.window_start = end;
    }

    fn line(&self, end: Duration) -> String {
        let window = end
            .saturating_sub(self.window_start)
            .as_secs_f64()
            .max(1e-9);
        let (recent, slowest) = match &self.window {
            Some(w) => (
                (w.flows_passed + w.flows_failed) as f64 / window,
                self.slowest(w),
            ),
            None => (0.0, None),
        };
        let total = self
            .total
            .map_or_else(|| "-".to_string(), |t| format!("{}s", t.as_secs()));
        let mut line = format!(
            "elapsed={}s/{total} active={} flows={} rate={recent:.1}/s errors={} dropped={}",
            end.as_secs(),
            self.started.saturating_sub(self.flows),
            self.flows,
            self.errors,
            self.dropped,
        );
        if let Some((name, p95)) = slowest {
            line.push_str(&format!(" slowest={name} p95_ms={p95:.2}"));
        }
        line
    }

    /// The step (not a think step) with the highest p95 in the window.
    fn slowest(&self, w: &Recorder) -> Option<(String, f64)> {
        self.plan
            .steps
            .iter()
            .zip(&w.steps)
            .filter(|(s, r)| !matches!(s.kind, StepKind::Think(_)) && !r.latency.is_empty())
            .map(|(s, r)| {
                (
                    s.name.clone(),
                    r.latency.value_at_quantile(0.95) as f64 / 1000.0,
                )
            })
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }

    pub fn finish(&mut self) {
        if let Mode::Bar(bar) = &self.mode {
            bar.finish_and_clear();
        }
    }
}

impl super::Sink for Progress {
    fn interval(&mut self, tick: &super::Tick<'_>) {
        Progress::interval(self, tick.end, tick.interval);
    }
    fn finish(&mut self, _summary: &crate::metrics::summary::Summary) -> Result<(), String> {
        Progress::finish(self);
        Ok(())
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
