//! Thresholds end to end: the flag and the scenario's `[thresholds]` make the verdict (exit 4 on
//! a breach, with the observed value and the margin in the summary), bad ones are refused before
//! any traffic, `merge` judges the stored ones again (`abort_on_fail`: tests/it/abort.rs).

use std::path::Path;

use load_tester::exit::Exit;
use load_tester::metrics::summary::{Summary, ThresholdUnit, Verdict};

use crate::util::*;

/// `run scenarios/golden-path.toml --mock --delay 20ms -d 2s -u 2 --threshold EXPR`.
async fn golden_with(threshold: &str, out: &Path) -> Output {
    let golden = shipped("golden-path.toml");
    let args = [
        "run",
        &golden,
        "--mock",
        "--delay",
        "20ms",
        "-d",
        "2s",
        "-u",
        "2",
        "-q",
        "--threshold",
        threshold,
        "--out",
        out.to_str().unwrap(),
    ];
    run_cli(&args, &[]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breached_flag_threshold_exits_4_with_observed_value_and_margin() {
    let dir = tempdir();
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    let (tight, loose) = tokio::join!(
        golden_with("chat.agent_started.p95 < 5ms", &a),
        golden_with("chat.agent_started.p95 < 200ms", &b)
    );
    assert_eq!(
        tight.exit,
        Exit::Breached,
        "{}{}",
        tight.stdout,
        tight.stderr
    );
    assert_eq!(loose.exit, Exit::Passed, "{}{}", loose.stdout, loose.stderr);

    let s = read_results(&a);
    assert_eq!((s.verdict, s.exit_code), (Verdict::Breached, 4));
    let [t] = &s.thresholds[..] else {
        panic!("one threshold: {:?}", s.thresholds)
    };
    assert_eq!(t.expr, "chat.agent_started.p95 < 5ms");
    assert_eq!(
        (t.source.as_str(), t.metric.as_str()),
        ("--threshold", "chat.agent_started.p95")
    );
    assert_eq!(
        (t.op.as_str(), t.limit, t.unit),
        ("<", 5.0, ThresholdUnit::Ms)
    );
    let observed = t.observed.expect("agent_started was measured");
    // The mock sends agent_started 20 ms after the message.
    assert!(observed >= 20.0, "{observed}");
    assert!(!t.passed && !t.aborted);
    assert!((t.margin.unwrap() - (5.0 - observed)).abs() < 1e-9);
    // The same value the table shows for the event.
    let table = s.step("chat").unwrap().event("agent_started").unwrap();
    assert_eq!(observed, table.latency.p95_ms);
    let row = format!(
        "BREACHED  chat.agent_started.p95 < 5ms   observed {observed:.2} ms   BREACHED by {:.2} ms",
        observed - 5.0
    );
    assert!(tight.stdout.contains(&row), "{row}\n{}", tight.stdout);
    assert!(tight.stdout.contains("(--threshold)"), "{}", tight.stdout);
    assert!(
        tight
            .stdout
            .contains("verdict: THRESHOLDS BREACHED (exit 4)"),
        "{}",
        tight.stdout
    );

    let s = read_results(&b);
    assert!(s.thresholds[0].passed && s.thresholds[0].margin.unwrap() > 150.0);
    assert!(loose
        .stdout
        .contains("  ok        chat.agent_started.p95 < 200ms   observed "));
    assert!(loose.stdout.contains("verdict: PASSED (exit 0)"));
}

const SCENARIO_THRESHOLDS: &str = r#"
[thresholds]
"chat.agent_started.p95" = "< 5ms"
"iteration.p99" = ["< 5s", "> 1ms"]
"flows.failed_rate" = { check = "< 1%" }
"chat.tool_executing.p99.9" = "< 1s"
"connect.count" = ">= 3"
"login.error_rate" = "<= 0%"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_thresholds_judge_the_run_with_their_place() {
    let dir = tempdir();
    let text = format!("{}{SCENARIO_THRESHOLDS}", fast_golden(""));
    let path = scenario(dir.path(), "s.toml", &text);
    let line = |key: &str| {
        1 + text
            .lines()
            .position(|l| l.starts_with(key))
            .expect("the key is in the scenario")
    };
    let p = path.to_str().unwrap();
    // No tool pairs: tool_executing is never measured, which breaches its threshold.
    let (o, out) = run_mock(
        dir.path(),
        p,
        &["-q", "--delay", "20ms", "--tools", "0", "-i", "3"],
    )
    .await;
    assert_eq!(o.exit, Exit::Breached, "{}{}", o.stdout, o.stderr);
    let s = read_results(&out);
    let by_expr = |e: &str| {
        s.thresholds
            .iter()
            .find(|t| t.expr == e)
            .unwrap_or_else(|| panic!("{e}: {:?}", s.thresholds))
    };
    assert_eq!(s.thresholds.len(), 7, "{:?}", s.thresholds);
    let started = by_expr("chat.agent_started.p95 < 5ms");
    assert!(!started.passed);
    assert_eq!(
        started.source,
        format!("{p}:{}", line("\"chat.agent_started"))
    );
    for ok in [
        "iteration.p99 < 5s",
        "iteration.p99 > 1ms",
        "flows.failed_rate < 1%",
        "connect.count >= 3",
        "login.error_rate <= 0%",
    ] {
        assert!(by_expr(ok).passed, "{ok}: {:?}", by_expr(ok));
    }
    assert_eq!(by_expr("flows.failed_rate < 1%").observed, Some(0.0));
    assert_eq!(by_expr("connect.count >= 3").observed, Some(3.0));
    let none = by_expr("chat.tool_executing.p99.9 < 1s");
    assert_eq!(
        (none.observed, none.margin, none.passed),
        (None, None, false)
    );
    assert!(
        o.stdout
            .contains("BREACHED  chat.tool_executing.p99.9 < 1s   nothing measured"),
        "{}",
        o.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_flag_thresholds_are_refused_before_any_traffic() {
    let golden = shipped("golden-path.toml");
    for (expr, says) in [
        (
            "chat.agent_startd.p95 < 2s",
            "--threshold 'chat.agent_startd.p95 < 2s': step `chat` has no event `agent_startd` \
             (did you mean `agent_started`?)",
        ),
        ("chat.p95 < 2", "`2` has no unit: `chat.p95` is a duration"),
        ("flows.failed_rate < 1", "`1` needs `%`"),
        ("chat.p95 = 2s", "unknown comparison `=`"),
        (
            "chatt.p95 < 2s",
            "unknown step `chatt` (did you mean `chat`?)",
        ),
    ] {
        let args = [
            "run",
            &golden,
            "--mock",
            "-q",
            "-u",
            "1",
            "-i",
            "1",
            "--threshold",
            expr,
        ];
        let o = run_cli(&args, &[]).await;
        assert_eq!(o.exit, Exit::Usage, "{expr}: {}", o.stderr);
        assert!(o.stderr.contains(says), "{expr}: {}", o.stderr);
        assert!(o.stderr.contains("(nothing was run)"), "{}", o.stderr);
        assert!(o.stdout.is_empty(), "{}", o.stdout);
    }
}

/// `LOAD_TESTER_THRESHOLD` holds several, separated by `;` (the real binary: clap reads the
/// process environment).
#[test]
fn thresholds_from_the_environment_split_on_semicolons() {
    // A clean environment but for the variable (raw::run_binary): nothing from the shell leaks in.
    let ran = crate::raw::run_binary(
        &[
            "run",
            &shipped("golden-path.toml"),
            "--mock",
            "-q",
            "-i",
            "1",
        ],
        &[(
            "LOAD_TESTER_THRESHOLD",
            "chat.agent_started.p95 < 5s; flows.passed >= 1",
        )],
    );
    let stdout = ran.stdout;
    assert_eq!(ran.code, Some(0), "{stdout}");
    for row in [
        "ok        chat.agent_started.p95 < 5s",
        "ok        flows.passed >= 1",
    ] {
        assert!(stdout.contains(row), "{row}\n{stdout}");
    }
    assert_eq!(
        stdout.matches("(LOAD_TESTER_THRESHOLD)").count(),
        2,
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_judges_the_stored_thresholds_and_its_own_again() {
    let dir = tempdir();
    let text = format!(
        "{}\n[thresholds]\n\"chat.agent_started.p95\" = \"< 2s\"\n",
        fast_golden("")
    );
    let path = scenario(dir.path(), "s.toml", &text);
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    let mock = start_mock(load_tester::mock::MockConfig {
        delay: std::time::Duration::from_millis(20),
        ..Default::default()
    })
    .await;
    let url = mock.base_url();
    for (shard, out) in [("1/2", &a), ("2/2", &b)] {
        let args = [
            "-q",
            "--users",
            "2",
            "--shard",
            shard,
            "--out",
            out.to_str().unwrap(),
        ];
        let o = run_cli(&against("run", path.to_str().unwrap(), &url, &args), &[]).await;
        assert_eq!(o.exit, Exit::Passed, "{shard}: {}{}", o.stdout, o.stderr);
    }
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let merge = |extra: &'static [&'static str]| {
        let mut args = vec!["merge", a, b];
        args.extend(extra);
        async move { run_cli(&args, &[]).await }
    };
    let o = merge(&[]).await;
    assert_eq!(o.exit, Exit::Passed, "{}{}", o.stdout, o.stderr);
    assert_eq!(o.stdout.matches("chat.agent_started.p95 < 2s").count(), 1);
    assert!(
        o.stdout.contains(&format!("({}:", path.display())),
        "{}",
        o.stdout
    );

    // Its own thresholds, beside the stored one; the same expression is judged once.
    let o = merge(&[
        "--threshold",
        "chat.agent_started.p95 < 2s",
        "--threshold",
        "flows.passed >= 2",
    ])
    .await;
    assert_eq!(o.exit, Exit::Passed, "{}", o.stdout);
    assert_eq!(o.stdout.matches("chat.agent_started.p95 < 2s").count(), 1);
    assert!(
        o.stdout.contains("ok        flows.passed >= 2"),
        "{}",
        o.stdout
    );
    let o = merge(&["--threshold", "flows.passed > 2"]).await;
    assert_eq!(o.exit, Exit::Breached, "{}", o.stdout);
    let row = o
        .stdout
        .lines()
        .find(|l| l.contains("flows.passed > 2"))
        .expect("its row");
    assert!(
        row.contains("observed 2 ") && row.contains("BREACHED by 0 "),
        "{row}"
    );
    let o = merge(&["--threshold", "chat.agent_started.p95 < 5ms"]).await;
    assert_eq!(o.exit, Exit::Breached, "{}", o.stdout);

    // A stored expression is judged again on the merged results, not trusted.
    let mut s: Summary = read_results(Path::new(b));
    s.thresholds[0].expr = "chat.agent_started.p95 < 5ms".into();
    std::fs::write(b, serde_json::to_string(&s).unwrap()).unwrap();
    let o = merge(&[]).await;
    assert_eq!(o.exit, Exit::Breached, "{}{}", o.stdout, o.stderr);
    assert!(
        o.stdout.contains("BREACHED  chat.agent_started.p95 < 5ms"),
        "{}",
        o.stdout
    );

    let o = merge(&["--threshold", "chatt.p95 < 1s"]).await;
    assert_eq!(o.exit, Exit::Usage, "{}", o.stdout);
    assert!(
        o.stderr
            .contains("unknown step `chatt` (did you mean `chat`?)"),
        "{}",
        o.stderr
    );
}
