//! The command line: validate, exit codes, help, unreachable targets.

use crate::util::*;
use load_tester::exit::Exit;

#[tokio::test]
async fn validate_accepts_the_shipped_scenarios() {
    for name in ["golden-path.toml", "smoke.toml", "http-health.toml"] {
        let o = run_cli(&["validate", &shipped(name)], &[]).await;
        assert_eq!(o.exit, Exit::Passed, "{name}: {}", o.stderr);
        assert!(o.stdout.contains(": ok ("), "{}", o.stdout);
    }
}

#[tokio::test]
async fn validate_reports_every_error_with_its_place_and_exits_2() {
    let dir = tempdir();
    let path = scenario(
        dir.path(),
        "broken.toml",
        "name = \"x\"\n[[steps]]\nname = \"a\"\nthink = \"soon\"\n[[steps]]\nname = \"b\"\nhttp.method = \"FETCH\"\nhttp.url = \"{{base_url}}/\"\n",
    );
    let o = run_cli(&["validate", path.to_str().unwrap()], &[]).await;
    assert_eq!(o.exit, Exit::Usage);
    let errors: Vec<&str> = o
        .stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 2, "{}", o.stderr);
    assert!(
        errors[0].contains("broken.toml:4:") && errors[0].contains("step 'a'"),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].contains("broken.toml:7:")
            && errors[1].contains("step 'b'")
            && errors[1].contains("FETCH"),
        "{}",
        errors[1]
    );
    assert!(o.stderr.contains("2 errors in"), "{}", o.stderr);
}

#[tokio::test]
async fn run_with_a_broken_scenario_exits_2_before_any_load() {
    let dir = tempdir();
    let path = scenario(dir.path(), "b.toml", "name = \"x\"\nbogus = 1\n");
    let o = run_cli(&["run", path.to_str().unwrap(), "--mock"], &[]).await;
    assert_eq!(o.exit, Exit::Usage);
    assert!(o.stderr.contains("b.toml:2:1"), "{}", o.stderr);
}

#[tokio::test]
async fn missing_scenario_file_is_a_usage_error() {
    let o = run_cli(&["validate", "/nonexistent/s.toml"], &[]).await;
    assert_eq!(o.exit, Exit::Usage);
    assert!(o.stderr.contains("cannot read scenario"), "{}", o.stderr);
}

#[tokio::test]
async fn bad_flag_values_are_usage_errors() {
    let o = run_cli(&["run", "x.toml", "--duration", "soon"], &[]).await;
    assert_eq!(o.exit, Exit::Usage);
    assert!(o.stderr.contains("bad duration \"soon\""), "{}", o.stderr);
    let o = run_cli(&["run", "x.toml", "--users", "-3"], &[]).await;
    assert_eq!(o.exit, Exit::Usage);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_target_exits_3() {
    // A port that was just free: nothing listens there.
    let port = free_port();
    let target = format!("http://127.0.0.1:{port}");
    let dir = tempdir();
    let out = dir.path().join("r.json");
    let o = run_cli(
        &[
            "run",
            &shipped("golden-path.toml"),
            "--target",
            &target,
            "--users",
            "2",
            "--iterations",
            "1",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert_eq!(o.exit, Exit::Error, "{}", o.stdout);
    // One line: the address, the reason, which URL of the scenario it is and how to change it;
    // no load was sent.
    let lines: Vec<&str> = o
        .stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(lines.len(), 1, "{}", o.stderr);
    assert!(
        lines[0].starts_with(&format!("error: unreachable: {target}: Connection refused")),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].ends_with(&format!(
            "[connection_refused]; base_url {target} from --target (auth_url and ws_url follow \
             it); override with --target or TARGET_URL"
        )),
        "{}",
        lines[0]
    );
    assert!(!out.exists(), "nothing was measured, so no results");
}

#[tokio::test]
async fn help_teaches_the_flags_and_their_env_vars() {
    use clap::CommandFactory;
    let mut cmd = load_tester::cli::Cli::command();
    let run = cmd.find_subcommand_mut("run").unwrap();
    let help = run.render_long_help().to_string();
    for needle in [
        "TARGET_URL",
        "MAX_USERS",
        "SPAWN_RATE",
        "RUN_TIME",
        "AUTH_URL",
        "--mock",
        "--out",
        "15m",
    ] {
        assert!(
            help.contains(needle),
            "run --help mentions {needle}:\n{help}"
        );
    }
}

#[test]
fn the_command_line_definition_is_consistent() {
    use clap::CommandFactory;
    load_tester::cli::Cli::command().debug_assert();
    for sub in ["run", "probe", "mock", "validate", "merge"] {
        let mut cmd = load_tester::cli::Cli::command();
        let help = cmd
            .find_subcommand_mut(sub)
            .unwrap()
            .render_long_help()
            .to_string();
        assert!(help.len() > 200, "{sub} --help teaches something");
    }
}

/// `--processes`: the users split over child processes of the real binary, results merged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_split_the_users_and_merge_their_results() {
    let dir = tempdir();
    let (o, out) = run_fast_golden(
        dir.path(),
        &[
            "--users",
            "5",
            "--iterations",
            "3",
            "--processes",
            "2",
            "--progress-interval",
            "1s",
        ],
    )
    .await;
    assert_eq!(o.exit, Exit::Passed, "{}\n{}", o.stdout, o.stderr);
    assert!(o.stderr.contains("running as 2 processes"), "{}", o.stderr);
    let r = read_results(&out);
    assert_eq!(r.generators, 2);
    assert_eq!((r.flows.passed, r.flows.failed), (15, 0));
    assert_eq!(r.step("login").unwrap().ok, 5, "every user logged in once");
    assert_eq!(r.load.users, 5);
    crate::schema::assert_valid(&read_json(&out));
}

#[tokio::test]
async fn processes_refuse_an_hdr_log() {
    let dir = tempdir();
    let path = scenario(dir.path(), "s.toml", &fast_golden(""));
    let log = dir.path().join("x.hlog");
    let o = run_cli(
        &[
            "run",
            path.to_str().unwrap(),
            "--mock",
            "--processes",
            "2",
            "--hdr-log",
            log.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert_eq!(o.exit, Exit::Usage);
    assert!(
        o.stderr
            .contains("--hdr-log is not supported with --processes"),
        "{}",
        o.stderr
    );
}

/// `run --mock --listen ADDR` serves the in-process mock where it is told to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_mock_honours_listen() {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let dir = tempdir();
    let (o, out) = run_fast_golden(dir.path(), &["--listen", &addr, "--quiet"]).await;
    assert_passed(&o);
    let r = read_results(&out);
    assert_eq!(r.target.base_url, format!("http://{addr}"));
}
