//! Environment variables read as flags: one prefix (`LOAD_TESTER_`) for all but a few names that
//! others own, and which variable a bad value came from.
//!
//! Design choice: generic names such as `SEED`, `WORKERS`, `QUIET` or `SCENARIO` are often set in a
//! CI environment for other tools, so the tool never reads them; only the compose service's
//! names (the platform's contract), the platform's own secrets and Kubernetes' own index keep
//! their names. A test holds every flag to this rule.

use std::ffi::OsString;

use clap::CommandFactory;

/// The prefix of every variable the tool reads, except `KEPT`.
pub const PREFIX: &str = "LOAD_TESTER_";

/// Names read without the prefix: the compose service's (`TARGET_URL` ... `RESULTS_DIR`), the
/// platform's secrets that the mock verifies with, and Kubernetes' Indexed Job index.
pub const KEPT: [&str; 9] = [
    "TARGET_URL",
    "AUTH_URL",
    "MAX_USERS",
    "SPAWN_RATE",
    "RUN_TIME",
    "RESULTS_DIR",
    "JWT_SECRET_KEY",
    "E2E_OAUTH_SIMULATION_KEY",
    "JOB_COMPLETION_INDEX",
];

/// Read by the shard logic itself (not flags): how many generators, and the compose service
/// whose addresses `--shard auto` counts.
pub const SHARD_COUNT: &str = "LOAD_TESTER_SHARD_COUNT";
pub const SHARD_SERVICE: &str = "LOAD_TESTER_SHARD_SERVICE";
pub const JOB_COMPLETION_INDEX: &str = "JOB_COMPLETION_INDEX";

/// Every variable that a subcommand's flags read (`env = ...`).
pub fn flag_names(subcommand: &str) -> Vec<String> {
    let cli = crate::cli::Cli::command();
    cli.find_subcommand(subcommand)
        .map(|c| {
            c.get_arguments()
                .filter_map(|a| a.get_env())
                .map(|e| e.to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// For a bad flag value that came from the environment, a line naming the variable (clap's own
/// message names only the flag). `argv` is the command line after the program name.
pub fn hint(
    err: &clap::Error,
    argv: &[OsString],
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(
        err.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return None;
    }
    let Some(ContextValue::String(shown)) = err.get(ContextKind::InvalidArg) else {
        return None;
    };
    let long = shown.split_whitespace().next()?.strip_prefix("--")?;
    let cli = crate::cli::Cli::command();
    let sub = argv.iter().find_map(|a| cli.find_subcommand(a.to_str()?))?;
    let arg = sub.get_arguments().find(|a| a.get_long() == Some(long))?;
    let name = arg.get_env()?.to_str()?;
    let given = argv.iter().filter_map(|a| a.to_str()).any(|a| {
        a == format!("--{long}")
            || a.starts_with(&format!("--{long}="))
            || arg
                .get_short()
                .is_some_and(|c| !a.starts_with("--") && a.starts_with(&format!("-{c}")))
    });
    if given || env(name).is_none() {
        return None;
    }
    Some(format!(
        "note: the value of --{long} came from the environment variable {name}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn every_flag_variable_has_the_prefix_or_is_a_kept_name() {
        for sub in ["run", "probe", "mock", "merge", "validate", "compare"] {
            for name in flag_names(sub) {
                assert!(
                    name.starts_with(PREFIX) || KEPT.contains(&name.as_str()),
                    "{sub}: {name} needs the {PREFIX} prefix (or a reason to be in KEPT)"
                );
            }
        }
        let run = flag_names("run");
        for generic in ["SEED", "WORKERS", "QUIET", "SCENARIO", "SHARD", "PROCESSES"] {
            assert!(!run.contains(&generic.to_string()), "{generic}");
        }
        assert!(run.contains(&"LOAD_TESTER_SEED".to_string()));
    }

    #[test]
    fn a_bad_value_from_the_environment_names_the_variable() {
        let argv: Vec<OsString> = vec!["run".into(), "x.toml".into()];
        let err =
            crate::cli::Cli::try_parse_from(["load-tester", "run", "x.toml", "--seed", "abc"])
                .unwrap_err();
        let env = |k: &str| (k == "LOAD_TESTER_SEED").then(|| "abc".to_string());
        assert_eq!(
            hint(&err, &argv, &env).as_deref(),
            Some("note: the value of --seed came from the environment variable LOAD_TESTER_SEED")
        );
        // Given on the command line: the flag is to blame, not the variable.
        let given: Vec<OsString> = ["run", "x.toml", "--seed", "abc"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(hint(&err, &given, &env), None);
        let err = crate::cli::Cli::try_parse_from(["load-tester", "run", "x.toml", "-u", "x"])
            .unwrap_err();
        let env = |k: &str| (k == "MAX_USERS").then(|| "x".to_string());
        assert!(hint(&err, &argv, &env)
            .unwrap()
            .ends_with("variable MAX_USERS"));
    }
}
