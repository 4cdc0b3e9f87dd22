//! `validate`: check scenario files and print every error with its place.

use super::load_plan;
use crate::cli::ValidateArgs;
use crate::exit::Exit;
use crate::io::Io;
use crate::scenario::Overrides;

pub(super) fn validate(a: ValidateArgs, io: &Io) -> Exit {
    let mut failed = false;
    for path in &a.scenarios {
        match load_plan(path, &Overrides::default(), io) {
            Ok(plan) => io.print(&format!(
                "{}: ok ({} steps: {} setup, {} per iteration)\n",
                path.display(),
                plan.steps.len(),
                plan.setup_len,
                plan.steps.len() - plan.setup_len
            )),
            Err(_) => failed = true,
        }
    }
    if failed {
        Exit::Usage
    } else {
        Exit::Passed
    }
}
