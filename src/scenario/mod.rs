//! Scenario files: TOML in, an immutable `Plan` out, with every error reported at once.
//!
//! `model` mirrors the file with serde (spans kept for messages), `compile` checks and lowers it,
//! `template` and `expect` are the two small languages a scenario contains.

pub mod compile;
pub mod data;
pub mod fuzz;
pub mod model;
mod read;
pub mod source;
pub mod url;

use std::fmt;
use std::path::Path;
use std::time::Duration;

use crate::plan::{Place, Plan, TargetUrl, UrlSource};

pub use read::MAX_SCENARIO_BYTES;

// The compiled forms live with the plan that owns them; these paths stay for the compiler.
pub use crate::plan::{expect, template};

/// Values given on the command line or by env vars; they win over the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub base_url: Option<String>,
    pub auth_url: Option<String>,
    pub ws_url: Option<String>,
    /// Where `base_url` came from (`UrlSource::flag_or_env`, or `Mock`); `None` reads as "the
    /// flag or its env var".
    pub base_url_from: Option<UrlSource>,
    pub auth_url_from: Option<UrlSource>,
    pub ws_url_from: Option<UrlSource>,
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
    /// For `validate`: an unset `{{env.NAME}}` without default is not an error; it renders
    /// empty and is listed in `Plan::unset_env`. A run leaves this off and refuses them.
    pub allow_unset_env: bool,
}

impl Overrides {
    /// The override of one target URL and where it came from.
    pub fn url(&self, which: TargetUrl) -> (Option<&str>, Option<UrlSource>) {
        let (value, from) = match which {
            TargetUrl::Base => (&self.base_url, &self.base_url_from),
            TargetUrl::Auth => (&self.auth_url, &self.auth_url_from),
            TargetUrl::Ws => (&self.ws_url, &self.ws_url_from),
        };
        (value.as_deref(), from.clone())
    }

    /// Sets the override of one target URL; `from` says where it came from.
    pub fn set_url(&mut self, which: TargetUrl, value: Option<String>, from: UrlSource) {
        let from = value.as_ref().map(|_| from);
        match which {
            TargetUrl::Base => (self.base_url, self.base_url_from) = (value, from),
            TargetUrl::Auth => (self.auth_url, self.auth_url_from) = (value, from),
            TargetUrl::Ws => (self.ws_url, self.ws_url_from) = (value, from),
        }
    }

    /// Sets the three URL overrides from the command line's values (`None`: not given), telling
    /// a flag from its env var by whether the flag is among `args` (the command line).
    pub fn set_urls_from_args(&mut self, values: [Option<String>; 3], args: &[std::ffi::OsString]) {
        for (which, value) in TargetUrl::ALL.into_iter().zip(values) {
            let given = flag_given(args, which.flag());
            let from = UrlSource::flag_or_env(which.flag(), which.env(), given);
            self.set_url(which, value, from);
        }
    }
}

/// Whether `flag` (`--target`) is on the command line, as `--target VALUE` or `--target=VALUE`
/// (arguments after `--` are not flags).
pub fn flag_given(args: &[std::ffi::OsString], flag: &str) -> bool {
    args.iter()
        .map(|a| a.to_string_lossy())
        .take_while(|a| a != "--")
        .any(|a| {
            a == flag
                || a.strip_prefix(flag)
                    .is_some_and(|rest| rest.starts_with('='))
        })
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

/// What `validate` prints for a valid scenario: one line, and one note per environment variable
/// it reads that is not set (a run would refuse it).
pub fn validated(path: &Path, plan: &Plan) -> String {
    let mut out = format!(
        "{}: ok ({} steps: {} setup, {} per iteration)\n",
        path.display(),
        plan.steps.len(),
        plan.setup_len,
        plan.steps.len() - plan.setup_len
    );
    if let Some(f) = &plan.feeder {
        let mode = match f.mode {
            crate::plan::feeder::Mode::Sequential => "sequential".to_owned(),
            crate::plan::feeder::Mode::Unique => "unique".to_owned(),
            crate::plan::feeder::Mode::Random { seed } => format!("random, seed {seed}"),
        };
        out.push_str(&format!(
            "  data: {}: {} rows of {} ({mode})\n",
            f.file.display(),
            f.table.rows(),
            f.table.columns.join(", "),
        ));
    }
    for name in &plan.unset_env {
        out.push_str(&format!(
            "  note: uses env {name} (not set; a run needs it)\n"
        ));
    }
    out
}

/// A stable digest of a scenario's source text, e.g. `fnv1a64:9f3c...`: the same bytes give the
/// same digest on every machine and tool version (FNV-1a; it detects a different file, it is not
/// a defence against a forged one).
pub fn digest(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("fnv1a64:{h:016x}")
}

/// Reads and compiles a scenario file. `env` resolves `{{env.NAME}}` (injected for tests).
///
/// Only a regular file of at most `MAX_SCENARIO_BYTES` is read: a FIFO, a device or a directory
/// is refused at once with its name.
pub fn load(
    path: &Path,
    overrides: &Overrides,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Plan, Vec<Diagnostic>> {
    let bytes = read::scenario_file(path).map_err(|message| {
        vec![Diagnostic {
            place: Place {
                file: path.to_path_buf(),
                line: 0,
                col: 0,
            },
            step: None,
            field: None,
            message,
        }]
    })?;
    compile_bytes(&bytes, path, overrides, env)
}

/// Compiles a scenario given as bytes: text that is not UTF-8 is an error at the first bad byte.
pub fn compile_bytes(
    bytes: &[u8],
    path: &Path,
    overrides: &Overrides,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Plan, Vec<Diagnostic>> {
    match std::str::from_utf8(bytes) {
        Ok(text) => compile::compile(text, path, overrides, env),
        Err(e) => {
            let valid = &bytes[..e.valid_up_to()];
            // The valid prefix is UTF-8 by definition; a lossy read cannot fail.
            let prefix = String::from_utf8_lossy(valid);
            let anchors = source::index(&prefix);
            let src = source::Source {
                text: &prefix,
                file: path,
                anchors: &anchors,
            };
            Err(vec![Diagnostic {
                place: src.place(prefix.len()),
                step: None,
                field: None,
                message: "the scenario is not UTF-8 text: save it as UTF-8".into(),
            }])
        }
    }
}
