//! `probe`: one user, one pass; every step's verdict and time printed, and the exit code. With
//! `--repeat`, passes on a period (see `repeat`), with a summary over them.

mod repeat;

use std::path::Path;

use super::outputs::{self, is_dash, stdout_claimed};
use super::{check_outputs, prepare, say, target_overrides, write_out};
use crate::cli::ProbeArgs;
use crate::exit::Exit;
use crate::io::Io;
use crate::metrics::summary::{Mode, RunInfo, StoppedBy, Summary};
use crate::plan::Plan;
use crate::probe::passes::PassesSummary;
use crate::report::Sinks;
use crate::runner;

pub(super) async fn probe(a: ProbeArgs, io: &Io) -> Exit {
    let paths: Vec<&Path> = [a.out.as_deref(), a.junit.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    if let Err(e) = check_outputs(&paths, io) {
        return e;
    }
    let claims = [
        ("--out -", is_dash(a.out.as_deref())),
        ("--junit -", is_dash(a.junit.as_deref())),
        ("--json", a.json),
    ];
    let stdout_taken = match stdout_claimed(&claims, io) {
        Ok(taken) => taken,
        Err(e) => return e,
    };
    if a.repeat.is_some() && a.every.is_zero() {
        io.eprint("error: --every must be longer than 0s (nothing was run)\n");
        return Exit::Usage;
    }
    let metrics = match super::metrics::start(a.metrics_listen.as_deref(), false, io) {
        Ok(m) => m,
        Err(e) => return e,
    };
    let mut overrides = target_overrides(&a.target.urls, io);
    overrides.users = Some(1);
    overrides.iterations = Some(1);
    let (mock, plan) = match prepare(&a.scenario, &a.target, &a.mock, overrides, io).await {
        Ok(x) => x,
        Err(e) => return e,
    };
    let thresholds = match super::thresholds::for_plan(&plan, &a.thresholds, io) {
        Ok(t) => t,
        Err(e) => return e,
    };
    say(
        io,
        stdout_taken,
        &format!("probe {} against {}\n", plan.name, plan.target.base_url),
    );
    let repeated = a.repeat.is_some() || a.json || metrics.is_some();
    // Live outputs see each pass as an interval (the metrics page is updated after each).
    let mut live = Sinks::default();
    if let Some(m) = &metrics {
        live.push(m.sink(plan.clone()));
    }
    let (summary, passes) = if repeated {
        repeat::run(&a, &plan, io, stdout_taken, &mut live).await
    } else {
        (once(&plan, io, stdout_taken).await, Vec::new())
    };
    if let Some(m) = mock {
        m.shutdown().await;
    }
    let summary = if thresholds.is_empty() {
        summary
    } else {
        let judged = crate::thresholds::judge(summary, &thresholds, &[]);
        let mut text = Vec::new();
        let _ = crate::report::text::thresholds::section(&mut text, &judged);
        say(io, stdout_taken, &String::from_utf8_lossy(&text));
        judged
    };
    // The final outputs, each a sink; the live ones first.
    let mut sinks = live;
    if let Some(mut junit) = outputs::junit(a.junit.as_deref(), "probe", io) {
        for p in &passes {
            junit.push(p.suite(&summary.scenario));
        }
        sinks.push(junit);
    }
    let written =
        write_out(a.out.as_deref(), &summary, io).and(outputs::finish(&mut sinks, &summary, io));
    if repeated {
        let end = PassesSummary::new(&passes, &summary);
        say(io, stdout_taken, &end.render(&passes));
        if a.json {
            io.print(&repeat::json_line(&end));
        }
    } else {
        say(
            io,
            stdout_taken,
            &format!(
                "{} in {:.0} ms (exit {})\n",
                summary.verdict.label(),
                summary.elapsed_s * 1000.0,
                summary.exit_code
            ),
        );
    }
    super::metrics::linger(metrics.as_ref(), a.metrics_linger, false, io).await;
    if let Err(e) = written {
        return e;
    }
    summary.verdict.exit()
}

/// One pass, its trace printed step by step.
async fn once(plan: &std::sync::Arc<Plan>, io: &Io, stdout_taken: bool) -> Summary {
    let started_at = crate::scenario::template::now_iso8601();
    let trace = std::rc::Rc::new(std::cell::RefCell::new(crate::probe::Trace::default()));
    // A probe is one flow: the first signal stops it at once (no grace period to wait out).
    let (rec, elapsed) = runner::run_one(plan.clone(), trace.clone(), io.interrupt.clone()).await;
    let stopped_by = if io.interrupt.is_cancelled() {
        StoppedBy::Signal
    } else {
        StoppedBy::End
    };
    say(
        io,
        stdout_taken,
        &crate::probe::render(plan, &trace.borrow(), &rec.unknown_events),
    );
    let summary = Summary::build(
        plan,
        &rec,
        RunInfo {
            mode: Mode::Probe,
            stopped_by,
            tool_errors: Vec::new(),
            shard: crate::shard::Shard::default(),
            started_at,
            elapsed_s: elapsed.as_secs_f64(),
            timeseries: Vec::new(),
        },
    );
    say(io, stdout_taken, &crate::probe::render_end(&summary));
    summary
}
