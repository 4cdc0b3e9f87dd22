//! Environment variables: one prefix, so generic CI names cannot change a run; booleans; errors
//! that name the variable. These run the binary itself, since clap reads the process environment.

use std::time::Duration;

use crate::util::*;

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the binary with exactly `env` (nothing inherited), bounded in time.
async fn binary(args: &[&str], env: &[(&str, &str)]) -> Ran {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_load-tester"));
    cmd.args(args)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("the binary ends within 60 s")
        .expect("the binary starts");
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generic_ci_variables_do_not_change_a_run() {
    let dir = tempdir();
    let scen = scenario(dir.path(), "s.toml", &fast_golden(""));
    let garbage = [
        ("SEED", "not-a-number"),
        ("WORKERS", "-1"),
        ("QUIET", "maybe"),
        ("SCENARIO", "/nonexistent/scenario.toml"),
        ("SHARD", "9/2"),
        ("SHARD_COUNT", "zero"),
        ("PROCESSES", "many"),
        ("ITERATIONS", "lots"),
        ("HDR_LOG", "/proc/forbidden.hlog"),
        ("RESULTS_FILE", "/proc/forbidden.json"),
        ("MOCK_FAULT", "agent-error"),
        ("WS_URL", "ws://127.0.0.1:1"),
    ];
    let r = binary(
        &[
            "run",
            scen.to_str().unwrap(),
            "--mock",
            "--users",
            "2",
            "--out",
            "-",
        ],
        &garbage,
    )
    .await;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON results on stdout");
    assert_eq!(v["flows"]["passed"], 2);
    assert_eq!(v["shard"], serde_json::Value::Null);
    assert_eq!(v["load"]["iterations"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefixed_variables_set_the_flags() {
    let dir = tempdir();
    let scen = scenario(dir.path(), "s.toml", &fast_golden(""));
    let r = binary(
        &["run", "--mock", "--out", "-"],
        &[
            ("LOAD_TESTER_SCENARIO", scen.to_str().unwrap()),
            ("MAX_USERS", "3"),
            ("LOAD_TESTER_QUIET", "1"),
            ("LOAD_TESTER_SHARD", "2/3"),
        ],
    )
    .await;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON results on stdout");
    assert_eq!(
        (v["shard"].as_str(), v["flows"]["passed"].as_u64()),
        (Some("2/3"), Some(1))
    );
    assert!(
        !r.stderr.contains("running "),
        "quiet: no banner: {}",
        r.stderr
    );
}

#[tokio::test]
async fn booleans_take_1_0_true_false_yes_no_on_off() {
    for value in ["1", "0", "true", "false", "yes", "no", "on", "off", "TRUE"] {
        let r = binary(
            &["run", "/nonexistent/s.toml"],
            &[("LOAD_TESTER_QUIET", value)],
        )
        .await;
        assert_eq!(r.code, Some(2), "{value}");
        assert!(
            r.stderr.contains("cannot read scenario") && !r.stderr.contains("invalid value"),
            "{value}: {}",
            r.stderr
        );
    }
}

#[tokio::test]
async fn a_bad_value_from_the_environment_names_the_variable() {
    let r = binary(&["run", "s.toml"], &[("LOAD_TESTER_QUIET", "maybe")]).await;
    assert_eq!(r.code, Some(2));
    assert!(
        r.stderr.contains(
            "invalid value 'maybe' for the environment variable LOAD_TESTER_QUIET: use 1/0, true/false, yes/no or on/off"
        ),
        "{}",
        r.stderr
    );
    let r = binary(&["run", "s.toml"], &[("LOAD_TESTER_SEED", "abc")]).await;
    assert_eq!(r.code, Some(2));
    assert!(
        r.stderr.contains("invalid value 'abc' for '--seed <SEED>'")
            && r.stderr.contains(
                "the value of --seed came from the environment variable LOAD_TESTER_SEED"
            ),
        "{}",
        r.stderr
    );
    let r = binary(&["run", "s.toml"], &[("MAX_USERS", "-3")]).await;
    assert_eq!(r.code, Some(2));
    assert!(
        r.stderr.contains("environment variable MAX_USERS"),
        "{}",
        r.stderr
    );
}
