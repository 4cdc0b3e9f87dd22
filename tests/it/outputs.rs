//! Nothing measured is lost at the end: outputs checked before any traffic, atomic writes that
//! parallel runs can share, `--out -` on stdout, one HDR log per run.

use std::path::{Path, PathBuf};

use crate::util::*;
use load_tester::exit::Exit;

/// A path that not even root can write: a directory would have to be made under a regular file.
fn unwritable(dir: &Path) -> PathBuf {
    let file = dir.join("plain-file");
    std::fs::write(&file, "x").unwrap();
    file.join("sub")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_output_exits_2_naming_it_before_any_request() {
    let dir = tempdir();
    let scen = scenario(dir.path(), "s.toml", &fast_golden(""));
    let mock = start_mock(Default::default()).await;
    let url = mock.base_url();
    let bad = unwritable(dir.path());
    let out = bad.join("r.json");
    let (s, o) = (scen.to_str().unwrap(), out.to_str().unwrap());
    let b = bad.to_str().unwrap();
    let cases: Vec<Vec<&str>> = vec![
        against("run", s, &url, &["-q", "--out", o]),
        against("run", s, &url, &["-q", "--results-dir", b]),
        against("run", s, &url, &["-q", "--hdr-log", o]),
        against("probe", s, &url, &["--out", o]),
    ];
    for args in cases {
        let r = run_cli(&args, &[]).await;
        assert_eq!(r.exit, Exit::Usage, "{args:?}: {}", r.stderr);
        assert!(
            r.stderr
                .contains(&format!("error: cannot write {}", bad.display()))
                && r.stderr.contains("Not a directory")
                && r.stderr.contains("nothing was run"),
            "{args:?}: {}",
            r.stderr
        );
    }
    let stats = mock.stats();
    assert_eq!(
        (
            stats.logins,
            stats.login_failures,
            stats.ws_connections,
            stats.flows
        ),
        (0, 0, 0, 0),
        "no request reached the target"
    );
    // merge: checked before the inputs are even read.
    let r = run_cli(&["merge", "/nonexistent.json", "--out", o], &[]).await;
    assert_eq!(r.exit, Exit::Usage);
    assert!(r.stderr.contains("Not a directory"), "{}", r.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_connection_is_made_when_an_output_cannot_be_written() {
    // A raw listener as the target: with --wait-for-target the run would connect at once.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let dir = tempdir();
    let out = unwritable(dir.path()).join("r.json");
    let golden = shipped("golden-path.toml");
    let args = ["--wait-for-target", "1s", "--out", out.to_str().unwrap()];
    let r = run_cli(&against("run", &golden, &url, &args), &[]).await;
    assert_eq!(r.exit, Exit::Usage, "{}", r.stderr);
    let accepted = listener.accept();
    assert!(
        matches!(&accepted, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "a connection was made: {accepted:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_output_directory_is_created_and_left_clean() {
    let dir = tempdir();
    let scen = scenario(dir.path(), "s.toml", &fast_golden(""));
    let results = dir.path().join("new/results");
    let r = run_cli(
        &[
            "run",
            scen.to_str().unwrap(),
            "--mock",
            "-q",
            "--results-dir",
            results.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert_eq!(r.exit, Exit::Passed, "{}", r.stderr);
    assert_eq!(files(&results), ["results.json", "summary.txt"]);
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_parallel_runs_share_one_results_dir() {
    let dir = tempdir();
    let scen = scenario(dir.path(), "s.toml", &fast_golden(""));
    let results = dir.path().join("results");
    let (s, d) = (scen.to_str().unwrap(), results.to_str().unwrap());
    for trial in 0..3 {
        // The same file names for all three (no shard): the worst case for temporary names.
        let args = ["run", s, "--mock", "-q", "--users", "2", "--results-dir", d];
        let (a, b, c) = tokio::join!(
            run_cli(&args, &[]),
            run_cli(&args, &[]),
            run_cli(&args, &[])
        );
        for r in [a, b, c] {
            assert_eq!(r.exit, Exit::Passed, "trial {trial}: {}", r.stderr);
        }
        assert_eq!(
            files(&results),
            ["results.json", "summary.txt"],
            "trial {trial}"
        );
        let summary = read_results(&results.join("results.json"));
        assert_eq!(summary.flows.passed, 2, "trial {trial}");
        let text = std::fs::read_to_string(results.join("summary.txt")).unwrap();
        assert!(text.contains("flows: 2 passed"), "trial {trial}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_dash_writes_pure_json_to_stdout() {
    let dir = tempdir();
    let scen = scenario(dir.path(), "s.toml", &fast_golden(""));
    let s = scen.to_str().unwrap();
    let run = run_cli(&["run", s, "--mock", "--users", "2", "--out", "-"], &[]).await;
    assert_eq!(run.exit, Exit::Passed, "{}", run.stderr);
    let summary: load_tester::metrics::summary::Summary =
        serde_json::from_str(&run.stdout).expect("stdout is the JSON results alone");
    assert_eq!(summary.flows.passed, 2);
    assert!(run.stderr.contains("flows: 2 passed"), "{}", run.stderr);

    let probe = run_cli(&["probe", s, "--mock", "--out", "-"], &[]).await;
    assert_eq!(probe.exit, Exit::Passed, "{}", probe.stderr);
    let p: serde_json::Value = serde_json::from_str(&probe.stdout).expect("probe: JSON alone");
    assert_eq!(p["mode"], "probe");
    assert!(probe.stderr.contains("PASSED"), "{}", probe.stderr);

    let mock = start_mock(Default::default()).await;
    let url = mock.base_url();
    let mut parts = Vec::new();
    for (i, shard) in ["1/2", "2/2"].iter().enumerate() {
        let out = dir.path().join(format!("{i}.json"));
        let o = out.to_str().unwrap();
        let args = ["-q", "--users", "2", "--shard", shard, "--out", o];
        assert_eq!(
            run_cli(&against("run", s, &url, &args), &[]).await.exit,
            Exit::Passed
        );
        parts.push(out);
    }
    let (a, b) = (parts[0].to_str().unwrap(), parts[1].to_str().unwrap());
    let merged = run_cli(&["merge", a, b, "--out", "-"], &[]).await;
    assert_eq!(merged.exit, Exit::Passed, "{}", merged.stderr);
    let m: load_tester::metrics::summary::Summary =
        serde_json::from_str(&merged.stdout).expect("merge: JSON alone");
    assert_eq!((m.flows.passed, m.generators), (2, 2));
    assert!(
        merged.stderr.contains("merged 2 result files"),
        "{}",
        merged.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hdr_log_is_truncated_one_log_per_run() {
    let dir = tempdir();
    let scen = scenario(dir.path(), "s.toml", &fast_golden(""));
    let log = dir.path().join("latency.hlog");
    let (s, l) = (scen.to_str().unwrap(), log.to_str().unwrap());
    for users in ["2", "3"] {
        let args = ["run", s, "--mock", "-q", "--users", users, "--hdr-log", l];
        assert_eq!(run_cli(&args, &[]).await.exit, Exit::Passed);
    }
    let bytes = std::fs::read(&log).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert_eq!(text.matches("#[Histogram log format version").count(), 1);
    assert_eq!(text.matches("#[StartTime:").count(), 1);
    let completed = hdr_log_counts(&bytes)
        .get("chat.agent_completed")
        .copied()
        .unwrap_or(0);
    assert_eq!(completed, 3, "the second run's 3 flows only");
}

/// `--hdr-log -` is refused (no file named `-` appears), before anything runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hdr_log_to_stdout_is_refused() {
    let o = run_cli(
        &[
            "run",
            &shipped("golden-path.toml"),
            "--mock",
            "--hdr-log",
            "-",
        ],
        &[],
    )
    .await;
    assert_eq!(o.exit, load_tester::exit::Exit::Usage);
    assert!(o.stderr.contains("--hdr-log needs a file"), "{}", o.stderr);
    assert!(!std::path::Path::new("-").exists());
}
