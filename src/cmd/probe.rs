//! `probe`: one user, one pass; every step's verdict and time printed, and the exit code.

use super::{prepare, target_overrides, write_out};
use crate::cli::ProbeArgs;
use crate::exit::Exit;
use crate::io::Io;
use crate::metrics::summary::{RunInfo, Summary};
use crate::runner;

pub(super) async fn probe(a: ProbeArgs, io: &Io) -> Exit {
    let mut overrides = target_overrides(&a.target);
    overrides.users = Some(1);
    overrides.iterations = Some(1);
    let (mock, plan) = match prepare(&a.scenario, &a.target, &a.mock, overrides, io).await {
        Ok(x) => x,
        Err(e) => return e,
    };
    io.print(&format!(
        "probe {} against {}\n",
        plan.name, plan.target.base_url
    ));
    let started_at = crate::scenario::template::now_iso8601();
    let (rec, trace, elapsed) = runner::run_one(plan.clone(), crate::probe::Trace::default()).await;
    if let Some(m) = mock {
        m.shutdown().await;
    }
    io.print(&crate::probe::render(&plan, &trace, &rec.unknown_events));
    let summary = Summary::build(
        &plan,
        &rec,
        RunInfo {
            mode: "probe",
            shard: crate::shard::Shard::default(),
            started_at,
            elapsed_s: elapsed.as_secs_f64(),
            timeseries: Vec::new(),
        },
    );
    let written = write_out(a.out.as_deref(), &summary, io);
    let verdict = match summary.exit_code {
        0 => "PASSED",
        3 => "UNREACHABLE",
        _ => "FAILED",
    };
    io.print(&format!(
        "{verdict} in {:.0} ms (exit {})\n",
        elapsed.as_secs_f64() * 1000.0,
        summary.exit_code
    ));
    if let Err(e) = written {
        return e;
    }
    Exit::from_code(summary.exit_code)
}
