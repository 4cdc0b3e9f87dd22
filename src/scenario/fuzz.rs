//! The scenario-compilation fuzz harness, shared by the cargo-fuzz target and the property test:
//! any bytes in, no panic out, every error with a place (in the file, or at a line of the `[data]`
//! file it names), and no secret in any message.

use std::path::Path;

use super::{compile_bytes, Overrides};

/// The value the harness's environment gives every variable it sets; no message may hold it.
pub const SECRET: &str = "s3cr3t-v4lue";

/// The harness's environment: names that look secret are set, the rest are not.
fn env(name: &str) -> Option<String> {
    let secret = ["SECRET", "PASSWORD", "KEY", "TOKEN"];
    secret
        .iter()
        .any(|s| name.contains(s))
        .then(|| SECRET.to_owned())
}

/// Compiles `bytes` as a scenario, as `run` and as `validate` do, and panics if compilation
/// panicked or broke a promise: an error without a place (line and column from 1, in the file),
/// an empty message, a message holding an environment value, or a plan without steps.
pub fn fuzz_compile(bytes: &[u8]) {
    let file = Path::new("fuzz.toml");
    // A message may quote the input; only a value from the environment must never show.
    let quotes_secret = bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes());
    for allow_unset_env in [false, true] {
        let o = Overrides {
            allow_unset_env,
            ..Overrides::default()
        };
        match compile_bytes(bytes, file, &o, &env) {
            Ok(plan) => {
                assert!(plan.setup_len < plan.steps.len(), "a plan without steps");
                assert!(allow_unset_env || plan.unset_env.is_empty());
            }
            Err(diags) => {
                assert!(!diags.is_empty(), "an error without a diagnostic");
                for d in &diags {
                    // A line of the `[data]` file the scenario names is a place too.
                    if d.field.as_deref() != Some("data.file") || d.place.file == file {
                        assert_eq!(d.place.file, file, "{d}");
                    }
                    assert!(d.place.line >= 1 && d.place.col >= 1, "no place: {d}");
                    assert!(!d.message.is_empty(), "empty message: {d}");
                    let shown = d.to_string().contains(SECRET);
                    assert!(quotes_secret || !shown, "secret shown: {d}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
