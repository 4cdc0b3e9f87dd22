//! `run`: many virtual users against the target; live sinks while it runs, summary and results at the end.

mod describe;

use std::path::Path;

use crate::report::files::{Rendered, ResultsDir, Say};
use std::sync::Arc;
use std::time::Duration;

use super::outputs::{is_dash, stdout_claimed};
use super::{check_outputs, json_on_stdout, prepare, target_overrides};
use crate::cli::RunArgs;
use crate::exit::Exit;
use crate::io::Io;
use crate::metrics::summary::{Mode, RunInfo, StoppedBy, Summary};
use crate::report::hdr_log::{HdrLog, HdrSink};
use crate::report::prometheus::Server;
use crate::report::series::{IntervalStats, Series};
use crate::report::{progress, Sink, Sinks};
use crate::runner::{self, RunOptions};
use crate::thresholds::abort::Abort;

pub(super) async fn run(a: RunArgs, io: &Io) -> Exit {
    // Every output checked before the mock starts or a request is sent; the results directory's
    // file names depend on the shard, checked again once it is known.
    let dir_probe = a.results_dir.as_ref().map(|d| d.join("results.json"));
    let outputs: Vec<&Path> = [
        a.out.as_deref(),
        a.hdr_log.as_deref(),
        dir_probe.as_deref(),
        a.junit.as_deref(),
        a.html.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    if let Err(e) = super::report::html_not_stdout(a.html.as_deref(), io) {
        return e;
    }
    if let Err(e) = check_outputs(&outputs, io) {
        return e;
    }
    if let Err(e) = stdout_claimed(
        &[
            ("--out -", is_dash(a.out.as_deref())),
            ("--junit -", is_dash(a.junit.as_deref())),
        ],
        io,
    ) {
        return e;
    }
    let baseline = match super::compare::read_baseline(a.baseline.as_deref(), io) {
        Ok(b) => b,
        Err(e) => return e,
    };
    if a.processes > 1 && a.hdr_log.is_some() {
        io.eprint(
            "error: --hdr-log is not supported with --processes (each process would write its \
             own log) (nothing was run)\n",
        );
        return Exit::Usage;
    }
    if a.hdr_log.as_deref() == Some(Path::new("-")) {
        io.eprint(
            "error: --hdr-log needs a file: stdout carries the summary (or the JSON with --out -) \
             (nothing was run)\n",
        );
        return Exit::Usage;
    }
    // Bound before the mock starts or a request is sent: a bad address is a usage error.
    let metrics = match super::metrics::start(a.metrics_listen.as_deref(), a.quiet, io) {
        Ok(m) => m,
        Err(e) => return e,
    };
    let mut overrides = target_overrides(&a.target.urls, io);
    overrides.users = a.users;
    overrides.spawn_rate = a.spawn_rate;
    overrides.duration = a.duration;
    overrides.iterations = a.iterations;
    overrides.graceful_stop = a.graceful_stop;
    overrides.arrival_rate = a.arrival_rate;
    overrides.max_lateness = a.max_lateness;
    overrides.backoff = Some(a.backoff);
    overrides.backoff_max = Some(a.backoff_max);
    overrides.arrivals = a.arrivals.map(|x| match x {
        crate::cli::ArrivalsArg::Even => crate::plan::Arrivals::Even,
        crate::cli::ArrivalsArg::Poisson => crate::plan::Arrivals::Poisson { seed: a.seed },
    });
    if !a.stages.is_empty() {
        overrides.stages = Some(a.stages.clone());
    }
    let (mock, mut plan) = match prepare(&a.scenario, &a.target, &a.mock, overrides, io).await {
        Ok(x) => x,
        Err(e) => return e,
    };
    if let Err(e) = super::compare::baseline_fits(baseline.as_ref(), &a, &plan.name, io) {
        return e;
    }
    if let Some(p) = Arc::get_mut(&mut plan) {
        if let Some(addrs) = a.local_addrs.clone() {
            p.local_addrs = addrs.0;
        }
        p.self_test_panic = a.self_test_panic.clone();
        p.token_refresh = a.token_refresh == crate::cli::OnOff::On;
        p.transcripts = a.transcripts;
    }
    let thresholds = match super::thresholds::for_plan(&plan, &a.thresholds, io) {
        Ok(t) => t,
        Err(e) => return e,
    };
    let env = io.env.clone();
    let shard_wait = a.wait_for_target.unwrap_or(Duration::from_secs(60));
    let shard = match crate::shard::resolve(a.shard, &move |k| env(k), shard_wait).await {
        Ok(s) => s,
        Err(e) => {
            io.eprint(&format!("error: {e}\n"));
            return Exit::Usage;
        }
    };
    if shard.users(plan.load.users) == 0 {
        io.eprint(&format!(
            "error: shard {shard} has no users: {} users cannot be split over {} generators\n",
            plan.load.users, shard.count
        ));
        return Exit::Usage;
    }
    // The canary is a user too: with unique [data] rows it needs one of its own.
    if let (Some(_), Some(f)) = (a.canary_every, &plan.feeder) {
        if let Some(e) = f.no_unique_row(crate::runner::canary::user_number(&plan, shard)) {
            io.eprint(&format!("error: --canary-every: {e}\n"));
            return Exit::Usage;
        }
    }
    if let Some(dir) = &a.results_dir {
        let (json, txt) = ResultsDir::files(dir, &shard.suffix());
        if let Err(e) = check_outputs(&[&json, &txt], io) {
            return e;
        }
    }
    if let Some(limit) = a.wait_for_target {
        let mut urls = vec![format!("{}/health", plan.target.base_url)];
        if plan.target.auth_url != plan.target.base_url {
            urls.push(format!("{}/health", plan.target.auth_url));
        }
        if !a.quiet {
            io.eprint(&format!(
                "waiting for {} (up to {})\n",
                urls.join(" and "),
                crate::duration::human(limit)
            ));
        }
        if let Err(e) = crate::wait::until_healthy(&urls, limit, &io.interrupt).await {
            io.eprint(&format!("error: target not up: {e}\n"));
            return Exit::Error;
        }
    }
    if mock.is_none() {
        let unreachable = super::preflight::check(&plan).await;
        if !unreachable.is_empty() {
            for u in &unreachable {
                io.eprint(&format!("error: {}\n", super::preflight::line(&plan, u)));
            }
            return Exit::Error;
        }
    }
    if !a.quiet {
        io.eprint(&format!(
            "running {}{}: {} against {}{}\n",
            plan.name,
            if shard.is_whole() {
                String::new()
            } else {
                format!(" (shard {shard})")
            },
            describe::load(&plan.load, shard.users(plan.load.users)),
            plan.target.base_url,
            if mock.is_some() {
                " (built-in mock)"
            } else {
                ""
            }
        ));
    }
    let series = Arc::new(std::sync::Mutex::new(Vec::new()));
    if a.processes > 1 {
        let mock_url = mock.as_ref().map(|_| plan.target.base_url.clone());
        let args = crate::fanout::run_args(&a, mock_url.as_deref());
        let children = crate::fanout::Children {
            parent: shard,
            n: a.processes,
            workers: a.workers,
            quiet: a.quiet,
            plan: plan.clone(),
            canary: a.canary_every,
        };
        let live = live_sinks(&a, &plan, metrics.as_ref(), &series, None, io);
        let fanned = crate::fanout::run(args, children, Box::new(live), io).await;
        if let Some(m) = mock {
            m.shutdown().await;
        }
        let mut fanned = match fanned {
            Ok(f) => f,
            Err(e) => return e,
        };
        // The parent's series comes from the merged histograms (exact percentiles, active
        // users); the children's own series, merged, stand in if a record was lost.
        let points = take_points(&series);
        if fanned.complete && !points.is_empty() {
            fanned.summary.timeseries = points;
        }
        // Judged as `merge` judges shards: a child stopped by an abort_on_fail threshold makes
        // that threshold breached in the merged verdict.
        let parts: Vec<&Summary> = fanned.parts.iter().collect();
        let summary = crate::thresholds::merged::judge_merged(fanned.summary, &thresholds, &parts);
        let live_done = fanned.live.finish(&summary);
        let exit = finish(
            &a,
            &summary,
            io.interrupt.is_cancelled(),
            shard,
            baseline.as_ref(),
            io,
        );
        return conclude(exit, live_done, metrics.as_ref(), &a, io).await;
    }
    let started_at = crate::scenario::template::now_iso8601();
    let mut opts = RunOptions {
        shard,
        interrupt: io.interrupt.clone(),
        abort: io.abort.clone(),
        ..RunOptions::default()
    };
    if let Some(w) = a.workers {
        opts.workers = w.max(1);
    }
    opts.canary = a.canary_every;
    if let Err(e) = crate::limits::fit(&plan, shard, a.target.mock) {
        io.eprint(&format!("error: {e}\n"));
        return Exit::Usage;
    }
    let hdr = match &a.hdr_log {
        None => None,
        Some(path) => match HdrLog::create(path, &plan, std::time::SystemTime::now()) {
            Ok(h) => Some(h),
            Err(e) => {
                io.eprint(&format!("error: cannot write {}: {e}\n", path.display()));
                return Exit::Error;
            }
        },
    };
    opts.canary_live = a
        .canary_every
        .and(metrics.as_ref())
        .map(|_| Arc::new(crate::runner::canary::Live::default()));
    let mut live = live_sinks(
        &a,
        &plan,
        metrics.as_ref(),
        &series,
        opts.canary_live.as_ref(),
        io,
    );
    let halt = opts.halt.clone();
    let abort = Abort::new(plan.clone(), &thresholds, halt.clone());
    let fired = abort.as_ref().map(Abort::fired);
    if let Some(abort) = abort {
        live.push(abort);
    }
    if let Some(log) = hdr {
        live.push(HdrSink::new(log, io.err.clone()));
    }
    let outcome = runner::run(plan.clone(), opts, Box::new(live)).await;
    let mut live = outcome.sink;
    let timeseries = take_points(&series);
    if let Some(m) = mock {
        m.shutdown().await;
    }
    let summary = Summary::build(
        &plan,
        &outcome.recorder,
        RunInfo {
            mode: Mode::Run,
            stopped_by: if halt.is_cancelled() {
                StoppedBy::Threshold
            } else if outcome.interrupted {
                StoppedBy::Signal
            } else {
                StoppedBy::End
            },
            tool_errors: outcome.tool_errors,
            shard,
            started_at,
            elapsed_s: outcome.elapsed.as_secs_f64(),
            timeseries,
        },
    );
    let summary = with_canary(summary, &plan, outcome.canary.as_ref());
    let aborted = fired
        .and_then(|f| f.lock().ok().map(|f| f.clone()))
        .unwrap_or_default();
    let summary = crate::thresholds::judge(summary, &thresholds, &aborted);
    // The live sinks' final hook first (the progress bar is cleared before the summary).
    let live_done = live.finish(&summary);
    let exit = finish(
        &a,
        &summary,
        outcome.interrupted,
        shard,
        baseline.as_ref(),
        io,
    );
    conclude(exit, live_done, metrics.as_ref(), &a, io).await
}

/// The summary with the canary's results (`--canary-every`), its tool errors among the run's.
fn with_canary(
    mut summary: Summary,
    plan: &crate::plan::Plan,
    record: Option<&crate::runner::canary::CanaryRecord>,
) -> Summary {
    let Some(record) = record else {
        return summary;
    };
    let (canary, tool_errors) =
        crate::metrics::canary::Canary::build(plan, record, summary.elapsed_s);
    summary.canary = Some(canary);
    summary.tool_errors.extend(tool_errors);
    summary.conclude()
}

/// The live sinks of a run (or of a `--processes` parent): the time series, the progress (a
/// child sends interval records instead), and the metrics page when one is served.
fn live_sinks(
    a: &RunArgs,
    plan: &Arc<crate::plan::Plan>,
    metrics: Option<&Server>,
    series: &Arc<std::sync::Mutex<Vec<IntervalStats>>>,
    canary: Option<&Arc<crate::runner::canary::Live>>,
    io: &Io,
) -> Sinks {
    let mode = if a.quiet || a.interval_records {
        progress::Mode::Off
    } else if io.tty {
        progress::Progress::bar()
    } else {
        progress::Mode::Lines {
            out: io.err.clone(),
            every: a.progress_interval,
        }
    };
    let mut live = Sinks::default();
    live.push(Series::new(plan.clone(), series.clone()));
    live.push(progress::Progress::new(plan.clone(), mode));
    if let Some(m) = metrics {
        live.push(m.sink(plan.clone()).with_canary(canary.cloned()));
    }
    if a.interval_records {
        live.push(crate::fanout::records::Emit::new(io.err.clone()));
    }
    live
}

fn take_points(series: &std::sync::Mutex<Vec<IntervalStats>>) -> Vec<IntervalStats> {
    series
        .lock()
        .map(|mut s| std::mem::take(&mut *s))
        .unwrap_or_default()
}

/// The exit code once the live sinks have finished (their failure is an error), after the
/// metrics linger.
async fn conclude(
    exit: Exit,
    live_done: Result<(), String>,
    metrics: Option<&Server>,
    a: &RunArgs,
    io: &Io,
) -> Exit {
    let exit = match live_done {
        Ok(()) => exit,
        Err(e) => {
            io.eprint(&format!("error: {e}\n"));
            Exit::Error
        }
    };
    super::metrics::linger(metrics, a.metrics_linger, a.quiet, io).await;
    exit
}

/// Prints the summary and writes the results files; the exit code follows the verdict.
fn finish(
    a: &RunArgs,
    summary: &Summary,
    interrupted: bool,
    shard: crate::shard::Shard,
    baseline: Option<&Summary>,
    io: &Io,
) -> Exit {
    if interrupted {
        io.eprint("interrupted: results cover what ran until the stop\n");
    }
    let comparison = super::compare::for_run(a, baseline, summary);
    let machine = json_on_stdout(a.out.as_deref()) || is_dash(a.junit.as_deref());
    // Every final output is a sink, written in this order; one failing does not stop the others.
    let mut outputs = Sinks::default();
    if let Some(path) = a.out.as_deref() {
        outputs.push(Rendered::json(path, io.out.clone()));
    }
    if let Some(path) = a.html.as_deref() {
        let mut html = crate::report::html::HtmlFile::new(path);
        html.comparison = comparison.as_ref().map(crate::compare::html::view);
        outputs.push(html);
    }
    if let Some(dir) = &a.results_dir {
        outputs.push(ResultsDir::new(dir, &shard.suffix(), io.out.clone()));
    }
    if let Some(mut junit) = super::outputs::junit(a.junit.as_deref(), "run", io) {
        for suite in comparison.iter().flat_map(crate::compare::junit::suites) {
            junit.push(suite);
        }
        outputs.push(junit);
    }
    outputs.push(Say {
        out: if machine {
            io.err.clone()
        } else {
            io.out.clone()
        },
    });
    let exit = match outputs.finish(summary) {
        Ok(()) => summary.verdict.exit(),
        Err(e) => {
            let text: String = e.lines().map(|l| format!("error: {l}\n")).collect();
            io.eprint(&text);
            Exit::Error
        }
    };
    super::compare::after_run(comparison.as_ref(), exit, machine, io)
}
