//! Several generators: shards split users without collisions, merge adds up, readiness waits.

use crate::util::*;
use load_tester::exit::Exit;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_shards_merge_to_the_whole_run() {
    let dir = tempdir();
    let golden = shipped("golden-path.toml");
    let results = dir.path().join("results");
    let rdir = results.to_str().unwrap();
    // One target for the three generators (merge refuses results against different targets).
    let mock = start_mock(Default::default()).await;
    let url = mock.base_url();
    for shard in ["1/3", "2/3", "3/3"] {
        let args = [
            "--users",
            "10",
            "--iterations",
            "2",
            "--quiet",
            "--shard",
            shard,
            "--results-dir",
            rdir,
        ];
        let o = run_cli(&against("run", &golden, &url, &args), &[]).await;
        assert_eq!(o.exit, Exit::Passed, "{shard}: {}", o.stderr);
    }
    let files: Vec<String> = (1..=3)
        .map(|i| {
            results
                .join(format!("results-shard-{i}-of-3.json"))
                .to_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let shards: Vec<_> = files
        .iter()
        .map(|f| read_results(std::path::Path::new(f)))
        .collect();
    let users: Vec<u32> = shards.iter().map(|s| s.load.users).collect();
    assert_eq!(users, [4, 3, 3], "users 0..10 dealt u % 3");
    assert_eq!(shards[1].shard.as_deref(), Some("2/3"));
    assert!(results.join("summary-shard-2-of-3.txt").exists());
    let merged_path = dir.path().join("merged.json");
    let mut args = vec!["merge"];
    args.extend(files.iter().map(String::as_str));
    args.extend(["--out", merged_path.to_str().unwrap()]);
    let o = run_cli(&args, &[]).await;
    assert_eq!(o.exit, Exit::Passed, "{}", o.stderr);
    let merged = read_results(&merged_path);
    let sum: u64 = shards.iter().map(|s| s.flows.passed).sum();
    assert_eq!(merged.flows.passed, sum);
    assert_eq!(merged.flows.passed, 20, "10 users × 2 iterations");
    assert_eq!((merged.load.users, merged.generators), (10, 3));
    assert_eq!(
        merged.step("login").unwrap().ok,
        10,
        "each user logged in once, in one shard"
    );
    assert!(o.stdout.contains("merged 3 result files"), "{}", o.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_exit_code_follows_the_merged_verdict() {
    let dir = tempdir();
    let path = scenario(dir.path(), "s.toml", &fast_golden(""));
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    // One target; its fault hits every second flow exactly (flow 0 passes, flow 1 fails), and the
    // shards run one after the other, one user each.
    let mock = start_mock(load_tester::mock::MockConfig {
        fault: Some("agent-error".parse().unwrap()),
        fault_rate: 0.5,
        ..Default::default()
    })
    .await;
    let url = mock.base_url();
    let shard = |shard: &'static str, out: std::path::PathBuf| {
        let (path, url) = (path.clone(), url.clone());
        async move {
            let (p, o) = (path.to_str().unwrap(), out.to_str().unwrap());
            let args = ["-q", "--users", "2", "--shard", shard, "--out", o];
            run_cli(&against("run", p, &url, &args), &[]).await
        }
    };
    assert_eq!(shard("1/2", a.clone()).await.exit, Exit::Passed);
    assert_eq!(shard("2/2", b.clone()).await.exit, Exit::Failed);
    let o = run_cli(&["merge", a.to_str().unwrap(), b.to_str().unwrap()], &[]).await;
    assert_eq!(o.exit, Exit::Failed, "{}", o.stderr);
    assert!(
        o.stdout.contains("flows: 1 passed, 1 failed"),
        "{}",
        o.stdout
    );
    let o = run_cli(&["merge", a.to_str().unwrap(), "/nonexistent.json"], &[]).await;
    assert_eq!(o.exit, Exit::Usage);
    assert!(o.stderr.contains("/nonexistent.json"), "{}", o.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_a_target_that_never_comes_up_exits_3() {
    let port = free_port();
    let target = format!("http://127.0.0.1:{port}");
    let golden = shipped("golden-path.toml");
    let args = ["--wait-for-target", "1s", "-q"];
    let o = run_cli(&against("run", &golden, &target, &args), &[]).await;
    assert_eq!(o.exit, Exit::Error);
    assert!(
        o.stderr.contains(&format!(
            "{target}/health did not answer 2xx within 1s (last: {target}: Connection refused"
        )),
        "{}",
        o.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_a_live_target_then_running() {
    let dir = tempdir();
    let o = run_cli(
        &[
            "run",
            &shipped("golden-path.toml"),
            "--mock",
            "--users",
            "2",
            "--iterations",
            "1",
            "--wait-for-target",
            "10s",
            "--results-dir",
            dir.path().to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert_eq!(o.exit, Exit::Passed, "{}", o.stderr);
    assert!(o.stderr.contains("/health (up to 10s)"), "{}", o.stderr);
    let summary = std::fs::read_to_string(dir.path().join("summary.txt")).unwrap();
    assert_eq!(summary, o.stdout, "summary.txt is what was printed");
    assert_eq!(
        read_results(&dir.path().join("results.json")).flows.passed,
        2
    );
}

#[tokio::test]
async fn a_shard_without_users_is_a_usage_error() {
    let o = run_cli(
        &[
            "run",
            &shipped("golden-path.toml"),
            "--mock",
            "--users",
            "2",
            "--shard",
            "3/3",
        ],
        &[],
    )
    .await;
    assert_eq!(o.exit, Exit::Usage);
    assert!(o.stderr.contains("shard 3/3 has no users"), "{}", o.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_refuses_what_cannot_be_merged() {
    let dir = tempdir();
    let path = scenario(dir.path(), "s.toml", &fast_golden(""));
    let mock = start_mock(Default::default()).await;
    let url = mock.base_url();
    let file = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    for (shard, out) in [("1/3", "a.json"), ("3/3", "c.json")] {
        let o = file(out);
        let args = [
            "run",
            path.to_str().unwrap(),
            "--target",
            &url,
            "--auth-url",
            &url,
            "-q",
            "--users",
            "3",
            "--shard",
            shard,
            "--out",
            &o,
        ];
        assert_eq!(run_cli(&args, &[]).await.exit, Exit::Passed);
    }
    let (a, c) = (file("a.json"), file("c.json"));
    // A missing shard: refused, then accepted and marked with --allow-partial.
    let o = run_cli(&["merge", &a, &c], &[]).await;
    assert_eq!(o.exit, Exit::Usage);
    assert!(
        o.stderr
            .contains("error: cannot merge: shard 2/3 of 3 missing"),
        "{}",
        o.stderr
    );
    let merged = file("partial.json");
    let o = run_cli(&["merge", &a, &c, "--allow-partial", "--out", &merged], &[]).await;
    assert_eq!(o.exit, Exit::Passed, "{}", o.stderr);
    assert!(
        o.stdout.contains("PARTIAL: shards 2/3 missing"),
        "{}",
        o.stdout
    );
    let v = read_json(std::path::Path::new(&merged));
    assert_eq!(v["missing_shards"], serde_json::json!(["2/3"]));
    crate::schema::assert_valid(&v);
    // The same file twice.
    let o = run_cli(&["merge", &a, &a], &[]).await;
    assert_eq!(o.exit, Exit::Usage);
    assert!(
        o.stderr.contains(&format!("{a}: identical to {a}")),
        "{}",
        o.stderr
    );
    // A count that contradicts its histogram: the file and the field are named.
    let mut tampered = read_json(std::path::Path::new(&c));
    tampered["steps"][1]["ok"] = serde_json::json!(7);
    let t = file("tampered.json");
    std::fs::write(&t, serde_json::to_vec(&tampered).unwrap()).unwrap();
    let o = run_cli(&["merge", &a, &t], &[]).await;
    assert_eq!(o.exit, Exit::Usage);
    assert!(
        o.stderr.contains(&format!(
            "{t}: steps[1].ok: 7 but steps[1].latency holds 1 samples"
        )),
        "{}",
        o.stderr
    );
}
