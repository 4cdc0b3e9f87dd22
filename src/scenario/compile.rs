//! Lowers a parsed scenario into a `Plan`, collecting every error with its place. (STUB)

use std::path::Path;

use super::{Diagnostic, Overrides};
use crate::plan::Plan;

pub fn compile(
    _text: &str,
    _file: &Path,
    _overrides: &Overrides,
    _env: &dyn Fn(&str) -> Option<String>,
) -> Result<Plan, Vec<Diagnostic>> {
    todo!()
}
