//! The main error messages pinned by snapshots (tests/snapshots/): `validate` on every bad
//! fixture, bad flag and env values, the preflight's unreachable line, merge refusals. Each case
//! shows the command, its exit code and what it printed; what varies (ports, temporary paths)
//! is redacted by `pinned::settings`.

use std::path::Path;

use load_tester::exit::Exit;
use load_tester::metrics::summary::Summary;

use crate::pinned::settings;
use crate::samples;
use crate::util::*;

/// One case: `$ load-tester ARGS`, then the exit code, stdout and stderr. The credentials the
/// cases put in URLs (`...:secret@`) must never be printed.
fn case(args: &[&str], exit: Exit, stdout: &str, stderr: &str) -> String {
    assert!(
        !stdout.contains("secret@") && !stderr.contains("secret@"),
        "a credential was printed: {args:?}\n{stdout}\n{stderr}"
    );
    let mut out = format!("$ load-tester {}\nexit {}\n", args.join(" "), exit.code());
    for (name, text) in [("stdout", stdout), ("stderr", stderr)] {
        if !text.is_empty() {
            out.push_str(&format!("--- {name}\n{}", text));
            if !text.ends_with('\n') {
                out.push('\n');
            }
        }
    }
    out
}

async fn cli_case(args: &[&str]) -> String {
    let o = run_cli(args, &[]).await;
    case(args, o.exit, &o.stdout, &o.stderr)
}

#[tokio::test]
async fn validate_on_the_bad_fixtures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("tests/fixtures/bad")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    names.sort();
    let mut all = String::new();
    for name in &names {
        // Relative to the package root, where cargo runs the tests: as a user would type it.
        let path = format!("tests/fixtures/bad/{name}");
        all.push_str(&cli_case(&["validate", &path]).await);
        all.push('\n');
    }
    settings().bind(|| insta::assert_snapshot!("validate_bad_fixtures", all));
}

#[tokio::test]
async fn bad_flag_values() {
    let golden = "scenarios/golden-path.toml";
    let mut all = String::new();
    for args in [
        &["run", golden, "--duration", "soon"][..],
        &["run", golden, "--users", "-3"],
        &["run", golden, "--shard", "4/3"],
        &["run", golden, "--arrivals", "sometimes"],
        &["run", golden, "--target", "ftp://example.test"],
        &["run", golden, "--target", "http://localhost:99999"],
        &[
            "run",
            golden,
            "--target",
            "https://user:secret@example.test",
        ],
        &["run", "scenarios/no-such-file.toml"],
    ] {
        all.push_str(&cli_case(args).await);
        all.push('\n');
    }
    settings().bind(|| insta::assert_snapshot!("bad_flag_values", all));
}

/// Env values are read by the command-line parser from the process environment, so these run
/// the real binary with only the variable under test set.
#[test]
fn bad_env_values() {
    let mut all = String::new();
    for (var, value) in [
        ("MAX_USERS", "lots"),
        ("RUN_TIME", "soon"),
        ("TARGET_URL", "http://localhost:99999"),
        ("AUTH_URL", "https://admin:secret@auth.example.test"),
    ] {
        let args = ["run", "scenarios/golden-path.toml"];
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_load-tester"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env_clear()
            .env(var, value)
            .output()
            .expect("run the binary");
        let exit = Exit::from_code(out.status.code().unwrap_or(-1));
        all.push_str(&format!("{var}={value}\n"));
        all.push_str(&case(
            &args,
            exit,
            &String::from_utf8_lossy(&out.stdout),
            &String::from_utf8_lossy(&out.stderr),
        ));
        all.push('\n');
    }
    settings().bind(|| insta::assert_snapshot!("bad_env_values", all));
}

/// Nothing listens on port 1: one line names the address, where it came from and how to change
/// it; exit 3, and no load is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_target() {
    let args = [
        "run",
        "scenarios/golden-path.toml",
        "--target",
        "http://127.0.0.1:1",
    ];
    let out = cli_case(&args).await;
    settings().bind(|| insta::assert_snapshot!("unreachable_target", out));
}

#[tokio::test]
async fn merge_refusals() {
    let dir = tempdir();
    let write = |name: &str, s: &Summary| {
        let path = dir.path().join(name);
        std::fs::write(&path, serde_json::to_vec_pretty(s).expect("serialize")).expect("write");
        path.to_str().expect("UTF-8 path").to_owned()
    };
    let base = samples::passed();
    let a = write("a.json", &base);
    let other_scenario = write(
        "other-scenario.json",
        &Summary {
            scenario: "another".into(),
            ..base.clone()
        },
    );
    let old = write(
        "old.json",
        &Summary {
            version: 1,
            ..base.clone()
        },
    );
    let mut fewer_steps = base.clone();
    fewer_steps.steps.pop();
    let fewer_steps = write("fewer-steps.json", &fewer_steps);
    let not_results = dir.path().join("notes.json");
    std::fs::write(&not_results, "{\"hello\": 1}").expect("write");
    let not_results = not_results.to_str().expect("UTF-8 path").to_owned();
    let again = write(
        "again.json",
        &Summary {
            started_at: "2026-01-01T00:00:00.000Z".into(),
            ..base.clone()
        },
    );
    let shard = |i: u32| Summary {
        shard: Some(format!("{i}/3")),
        ..base.clone()
    };
    let (s1, s3) = (write("s1.json", &shard(1)), write("s3.json", &shard(3)));
    let s24 = write(
        "s2-of-4.json",
        &Summary {
            shard: Some("2/4".into()),
            ..base.clone()
        },
    );
    let mut tampered = shard(2);
    tampered.steps[1].latency.count += 1;
    let tampered = write("tampered.json", &tampered);
    let mut all = String::new();
    for args in [
        vec!["merge", &a, &a],
        vec!["merge", &a, &again],
        vec!["merge", &s1, &s3],
        vec!["merge", &s1, &s24],
        vec!["merge", &s1, &tampered],
        vec!["merge", &a, &other_scenario],
        vec!["merge", &a, &old],
        vec!["merge", &a, &fewer_steps],
        vec!["merge", &a, &not_results],
        vec!["merge", &a, "/nonexistent/results.json"],
    ] {
        all.push_str(&cli_case(&args).await);
        all.push('\n');
    }
    let dir_path = dir.path().to_str().expect("UTF-8 path").to_owned();
    let mut s = settings();
    s.add_filter(&regex_escape(&dir_path), "[tmp]");
    s.bind(|| insta::assert_snapshot!("merge_refusals", all));
}

/// `text` as a regular expression that matches only itself.
fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
