//! `probe --repeat N --every D`: passes on a fixed period from each pass's start, one line per
//! pass (and a JSON line with `--json`), stopped early by a signal; the results over all passes.

use std::sync::Arc;
use std::time::Instant;

use crate::cli::ProbeArgs;
use crate::io::Io;
use crate::metrics::recorder::Recorder;
use crate::metrics::summary::{Mode, RunInfo, StoppedBy, Summary};
use crate::plan::Plan;
use crate::probe::pass::PassRecord;
use crate::probe::Trace;
use crate::report::{Sink, Tick};
use crate::runner;

/// Runs the passes; returns the results over all of them (`mode: probe`) and each pass's
/// record. `human_on_stderr`: a machine-readable output has stdout.
pub(super) async fn run(
    a: &ProbeArgs,
    plan: &Arc<Plan>,
    io: &Io,
    human_on_stderr: bool,
    live: &mut dyn Sink,
) -> (Summary, Vec<PassRecord>) {
    // Without --repeat (`--json` alone) one pass; 0 repeats until a signal.
    let of = match a.repeat {
        None => Some(1),
        Some(0) => None,
        Some(n) => Some(n),
    };
    let started_at = crate::scenario::template::now_iso8601();
    let start = Instant::now();
    let mut total = Recorder::new(plan);
    let mut passes = Vec::new();
    for pass in 1.. {
        let pass_start = Instant::now();
        let pass_started_at = crate::scenario::template::now_iso8601();
        let trace = std::rc::Rc::new(std::cell::RefCell::new(Trace::default()));
        let (rec, elapsed) =
            runner::run_one(plan.clone(), trace.clone(), io.interrupt.clone()).await;
        let cut = io.interrupt.is_cancelled();
        let results = Summary::build(
            plan,
            &rec,
            info(cut, pass_started_at, elapsed.as_secs_f64()),
        );
        total += &rec;
        let now = start.elapsed();
        live.interval(&Tick {
            index: pass - 1,
            start: pass_start.duration_since(start),
            end: now,
            interval: &rec,
            total: &total,
        });
        let record = PassRecord::new(
            pass,
            of,
            plan,
            &trace.borrow(),
            &rec.unknown_events,
            &results,
        );
        let mut text = format!("{}\n", record.line());
        text.push_str(&crate::probe::render_end(&results));
        super::super::say(io, human_on_stderr, &text);
        if a.json {
            io.print(&json_line(&record));
        }
        passes.push(record);
        if cut || of.is_some_and(|n| pass >= n) {
            break;
        }
        // The next pass starts one period after this one started, at once if that is past.
        let next = tokio::time::Instant::from_std(pass_start + a.every);
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = io.interrupt.cancelled() => break,
        }
    }
    let all = Summary::build(
        plan,
        &total,
        info(
            io.interrupt.is_cancelled(),
            started_at,
            start.elapsed().as_secs_f64(),
        ),
    );
    (all, passes)
}

fn info(signal: bool, started_at: String, elapsed_s: f64) -> RunInfo {
    RunInfo {
        mode: Mode::Probe,
        stopped_by: if signal {
            StoppedBy::Signal
        } else {
            StoppedBy::End
        },
        tool_errors: Vec::new(),
        shard: crate::shard::Shard::default(),
        started_at,
        elapsed_s,
        timeseries: Vec::new(),
    }
}

/// One JSON object and a newline (serializing these types cannot fail: no maps, finite keys).
pub(super) fn json_line(value: &impl serde::Serialize) -> String {
    let mut line = serde_json::to_string(value)
        .unwrap_or_else(|e| format!("{{\"type\":\"error\",\"detail\":\"cannot serialize: {e}\"}}"));
    line.push('\n');
    line
}
