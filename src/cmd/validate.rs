//! `validate`: check scenario files and print every error with its place.

use super::{load_plan, target_overrides};
use crate::cli::ValidateArgs;
use crate::exit::Exit;
use crate::io::Io;
use crate::scenario;

pub(super) fn validate(a: ValidateArgs, io: &Io) -> Exit {
    let mut failed = false;
    let mut overrides = target_overrides(&a.urls, io);
    // Checking a scenario needs none of its secrets.
    overrides.allow_unset_env = true;
    for path in &a.scenarios {
        match load_plan(path, &overrides, io) {
            Ok(plan) => io.print(&scenario::validated(path, &plan)),
            Err(_) => failed = true,
        }
    }
    if failed {
        Exit::Usage
    } else {
        Exit::Passed
    }
}
