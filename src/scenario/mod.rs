//! Scenario files: TOML in, an immutable `Plan` out, with every error reported at once.
//!
//! `model` mirrors the file with serde (spans kept for messages), `compile` checks and lowers it,
//! `template` and `expect` are the two small languages a scenario contains.

pub mod compile;
pub mod expect;
pub mod model;
pub mod source;
pub mod template;

use std::fmt;
use std::path::Path;
use std::time::Duration;

use crate::plan::{Place, Plan};

/// Values given on the command line or by env vars; they win over the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub base_url: Option<String>,
    pub auth_url: Option<String>,
    pub ws_url: Option<String>,
    pub users: Option<u32>,
    pub spawn_rate: Option<f64>,
    pub duration: Option<Duration>,
    pub iterations: Option<u64>,
    pub graceful_stop: Option<Duration>,
    /// Open model: flows per second (switches a closed scenario to the open model).
    pub arrival_rate: Option<f64>,
    pub arrivals: Option<crate::plan::Arrivals>,
    /// Replace the scenario's stages.
    pub stages: Option<Vec<crate::plan::Stage>>,
    pub max_lateness: Option<Duration>,
    /// Closed model: first pause after a failed iteration (0 turns backoff off), and its cap.
    pub backoff: Option<Duration>,
    pub backoff_max: Option<Duration>,
}

/// One problem found in a scenario, with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub place: Place,
    /// The step's name, when the problem is inside a step.
    pub step: Option<String>,
    /// The field's dotted path, e.g. `ws.expect`.
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.place)?;
        if let Some(step) = &self.step {
            write!(f, "step '{step}': ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Reads and compiles a scenario file. `env` resolves `{{env.NAME}}` (injected for tests).
pub fn load(
    path: &Path,
    overrides: &Overrides,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Plan, Vec<Diagnostic>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![Diagnostic {
            place: Place {
                file: path.to_path_buf(),
                line: 0,
                col: 0,
            },
            step: None,
            field: None,
            message: format!("cannot read scenario: {e}"),
        }]
    })?;
    compile::compile(&text, path, overrides, env)
}
