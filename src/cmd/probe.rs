//! `probe`: one user, one pass; every step's verdict and time printed, and the exit code.

use super::{check_outputs, json_on_stdout, prepare, say, target_overrides, write_out};
use crate::cli::ProbeArgs;
use crate::exit::Exit;
use crate::io::Io;
use crate::metrics::summary::{Mode, RunInfo, StoppedBy, Summary};
use crate::runner;

pub(super) async fn probe(a: ProbeArgs, io: &Io) -> Exit {
    if let Err(e) = check_outputs(&a.out.as_deref().into_iter().collect::<Vec<_>>(), io) {
        return e;
    }
    let stdout_json = json_on_stdout(a.out.as_deref());
    let mut overrides = target_overrides(&a.target.urls, io);
    overrides.users = Some(1);
    overrides.iterations = Some(1);
    let (mock, plan) = match prepare(&a.scenario, &a.target, &a.mock, overrides, io).await {
        Ok(x) => x,
        Err(e) => return e,
    };
    say(
        io,
        stdout_json,
        &format!("probe {} against {}\n", plan.name, plan.target.base_url),
    );
    let started_at = crate::scenario::template::now_iso8601();
    let trace = std::rc::Rc::new(std::cell::RefCell::new(crate::probe::Trace::default()));
    // A probe is one flow: the first signal stops it at once (no grace period to wait out).
    let (rec, elapsed) = runner::run_one(plan.clone(), trace.clone(), io.interrupt.clone()).await;
    if let Some(m) = mock {
        m.shutdown().await;
    }
    let stopped_by = if io.interrupt.is_cancelled() {
        StoppedBy::Signal
    } else {
        StoppedBy::End
    };
    say(
        io,
        stdout_json,
        &crate::probe::render(&plan, &trace.borrow(), &rec.unknown_events),
    );
    let summary = Summary::build(
        &plan,
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
    say(io, stdout_json, &crate::probe::render_end(&summary));
    let written = write_out(a.out.as_deref(), &summary, io);
    say(
        io,
        stdout_json,
        &format!(
            "{} in {:.0} ms (exit {})\n",
            summary.verdict.label(),
            elapsed.as_secs_f64() * 1000.0,
            summary.exit_code
        ),
    );
    if let Err(e) = written {
        return e;
    }
    summary.verdict.exit()
}
