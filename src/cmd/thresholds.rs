//! The thresholds a command judges: the scenario's and the `--threshold` flags', checked
//! against the plan before anything runs (`for_plan`, one call for run and probe), and judged
//! on the final results (`thresholds::judge`).

use crate::exit::Exit;
use crate::io::Io;
use crate::plan::Plan;
use crate::thresholds::{self, Threshold};

/// The plan's thresholds and the flags' (each expression once); a bad flag value is a usage
/// error (exit 2) printed with what is wrong, before any traffic.
pub(crate) fn for_plan(plan: &Plan, flags: &[String], io: &Io) -> Result<Vec<Threshold>, Exit> {
    match thresholds::from_flags(flags, flag_source(io), plan) {
        Ok(extra) => Ok(thresholds::combine(&plan.thresholds, extra)),
        Err(e) => {
            let text: String = e
                .lines()
                .map(|l| format!("error: {l} (nothing was run)\n"))
                .collect();
            io.eprint(&text);
            Err(Exit::Usage)
        }
    }
}

/// Where `--threshold` values came from: the flag, or its environment variable.
pub(crate) fn flag_source(io: &Io) -> &'static str {
    if crate::scenario::flag_given(&io.args, "--threshold") {
        "--threshold"
    } else {
        "LOAD_TESTER_THRESHOLD"
    }
}
