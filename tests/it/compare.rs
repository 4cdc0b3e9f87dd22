//! `compare` and `run --baseline` on results of short mock runs: a slower run is a regression
//! (exit 5) naming the rows, a file against itself is not, JSON and JUnit carry every row, and a
//! bad file or another scenario's is refused with exit 2 naming it.

use std::path::{Path, PathBuf};

use crate::util::*;
use load_tester::exit::Exit;

/// `run scenarios/golden-path.toml --mock --delay DELAY -u 20 -d 2s --out DIR/NAME` (+ `extra`).
async fn golden(dir: &Path, name: &str, delay: &str, extra: &[&str]) -> (Output, PathBuf) {
    let out = dir.join(name);
    let path = shipped("golden-path.toml");
    let mut args = vec![
        "run",
        &path,
        "--mock",
        "--delay",
        delay,
        "-u",
        "20",
        "-d",
        "2s",
        "--quiet",
        "--out",
        out.to_str().expect("a UTF-8 temporary path"),
    ];
    args.extend_from_slice(extra);
    (run_cli(&args, &[]).await, out)
}

fn s(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temporary path")
}

/// The table's rows of one block (`chat.agent_started`), up to the next block.
fn block<'a>(table: &'a str, name: &str) -> Vec<&'a str> {
    table
        .lines()
        .skip_while(|l| *l != name)
        .skip(1)
        .take_while(|l| l.starts_with(' ') || l.starts_with('!'))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slower_run_is_a_regression_and_a_run_against_itself_is_not() {
    let dir = tempdir();
    let d = dir.path();
    let ((ra, a), (rb, b)) = tokio::join!(
        golden(d, "a.json", "20ms", &[]),
        golden(d, "b.json", "40ms", &[])
    );
    assert_passed(&ra);
    assert_passed(&rb);

    let o = run_cli(&["compare", s(&a), s(&b)], &[]).await;
    assert_eq!(o.exit, Exit::Regressed, "{}{}", o.stdout, o.stderr);
    let rows = block(&o.stdout, "chat.agent_started");
    assert_eq!(rows.len(), 4, "{}", o.stdout);
    // The median doubles beyond any noise; the tails of ~90 samples on a busy machine may
    // overlap (then `same`, never `better`).
    let p50 = rows.iter().find(|r| r[1..].trim_start().starts_with("p50"));
    let p50 = p50.unwrap_or_else(|| panic!("no p50 row:\n{}", o.stdout));
    assert!(p50.starts_with('!') && p50.contains("WORSE"), "{p50}");
    assert!(!rows.iter().any(|r| r.contains("better")), "{}", o.stdout);
    let last = o.stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("compare: ") && last.ends_with("→ REGRESSION (exit 5)"),
        "{last}"
    );

    let o = run_cli(&["compare", s(&a), s(&a)], &[]).await;
    assert_eq!(o.exit, Exit::Passed, "{}{}", o.stdout, o.stderr);
    let last = o.stdout.lines().last().unwrap_or_default();
    assert!(last.starts_with("compare: 0 worse, 0 better,"), "{last}");
    assert!(last.ends_with("→ no regression"), "{last}");
    assert!(!o.stdout.contains("WORSE"), "{}", o.stdout);

    // JSON on stdout (the table on stderr), JUnit to a file.
    let junit = d.join("out/compare.xml");
    let o = run_cli(
        &["compare", s(&a), s(&b), "--json", "-", "--junit", s(&junit)],
        &[],
    )
    .await;
    assert_eq!(o.exit, Exit::Regressed, "{}", o.stderr);
    assert!(o.stderr.contains("chat.agent_started\n"), "{}", o.stderr);
    let json: serde_json::Value = serde_json::from_str(&o.stdout).expect("stdout is JSON");
    assert_eq!(json["regression"], true);
    // The model describes itself: the output matches the schema derived from its types.
    let schema = schemars::generate::SchemaSettings::draft07()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<load_tester::compare::Comparison>()
        .to_value();
    let schema = jsonschema::JSONSchema::compile(&schema).expect("the schema compiles");
    if let Err(errors) = schema.validate(&json) {
        let errors: Vec<String> = errors.map(|e| e.to_string()).collect();
        panic!("the JSON does not match its schema: {errors:?}");
    };
    let rows = json["rows"].as_array().expect("rows");
    let row = |name: &str, metric: &str| {
        rows.iter()
            .find(|r| {
                format!(
                    "{}.{}",
                    r["step"].as_str().unwrap_or(""),
                    r["event"].as_str().unwrap_or("")
                ) == name
                    && r["metric"] == metric
            })
            .unwrap_or_else(|| panic!("no row {name} {metric}"))
    };
    let p50 = row("chat.agent_started", "p50");
    assert_eq!(p50["verdict"], "worse");
    assert_eq!(p50["unit"], "ms");
    let (base, cur) = (p50["baseline"].as_f64(), p50["current"].as_f64());
    let (base, cur) = (
        base.expect("a baseline value"),
        cur.expect("a current value"),
    );
    assert!(base > 20.0 && cur > 40.0 && cur > 1.5 * base, "{p50}");
    let high = p50["baseline_interval"]["high"]
        .as_f64()
        .expect("an interval");
    assert!(
        p50["current_interval"]["low"].as_f64() > Some(high),
        "{p50}"
    );
    let worse = rows.iter().filter(|r| r["verdict"] == "worse").count();
    assert_eq!(json["tally"]["worse"].as_u64(), Some(worse as u64));

    let xml = std::fs::read_to_string(&junit).expect("junit written");
    assert_eq!(xml.matches("<testcase ").count(), rows.len(), "{xml}");
    assert_eq!(xml.matches("<failure ").count(), worse, "{xml}");
    assert!(
        xml.contains(r#"<testcase name="chat.agent_started.p50" classname="compare.chat""#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<failure message="chat.agent_started.p50: worse: "#),
        "{xml}"
    );

    // compare --html: the current run's report with the comparison section.
    let html = d.join("compare.html");
    let o = run_cli(&["compare", s(&a), s(&b), "--html", s(&html)], &[]).await;
    assert_eq!(o.exit, Exit::Regressed, "{}", o.stderr);
    let page = std::fs::read_to_string(&html).expect("compare --html written");
    assert!(
        page.contains(r#"id="chart-comparison""#),
        "no comparison chart"
    );
    assert!(
        page.contains("chat.agent_started"),
        "the rows are in the page"
    );

    // run --baseline: the faster baseline makes this slower run a regression; its HTML report
    // has the comparison and its JUnit file a test case per compared metric beside the run's.
    let (html, junit) = (d.join("run.html"), d.join("run.xml"));
    let (o, _) = golden(
        d,
        "c.json",
        "40ms",
        &[
            "--baseline",
            s(&a),
            "--html",
            s(&html),
            "--junit",
            s(&junit),
        ],
    )
    .await;
    assert_eq!(o.exit, Exit::Regressed, "{}{}", o.stdout, o.stderr);
    let page = std::fs::read_to_string(&html).expect("run --html written");
    assert!(
        page.contains(r#"id="chart-comparison""#),
        "no comparison chart"
    );
    let xml = std::fs::read_to_string(&junit).expect("run --junit written");
    assert!(xml.contains(r#"classname="compare.chat""#), "{xml}");
    assert!(xml.contains(r#"<testsuite name="steps""#), "{xml}");
    assert!(
        xml.contains(r#"<failure message="chat.agent_started.p50: worse: "#),
        "{xml}"
    );
    assert!(
        o.stdout.contains("PASSED"),
        "the summary first:\n{}",
        o.stdout
    );
    assert!(o.stdout.contains("→ REGRESSION (exit 5)"), "{}", o.stdout);
    assert!(block(&o.stdout, "chat.agent_started")
        .iter()
        .any(|r| r.contains("WORSE")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_files_and_other_scenarios_are_refused_naming_them() {
    let dir = tempdir();
    let d = dir.path();
    let (o, r) = run_fast_golden(d, &["--users", "1", "--iterations", "1"]).await;
    assert_passed(&o);
    let good = d.join("good.json");
    std::fs::rename(&r, &good).expect("rename");
    let text = std::fs::read_to_string(&good).expect("results");

    let missing = d.join("nope.json");
    let o = run_cli(&["compare", s(&missing), s(&good)], &[]).await;
    assert_eq!(o.exit, Exit::Usage);
    assert!(
        o.stderr
            .contains(&format!("error: {}: cannot read it", missing.display())),
        "{}",
        o.stderr
    );

    let cut = d.join("cut.json");
    std::fs::write(&cut, &text[..text.len() / 2]).expect("write");
    let o = run_cli(&["compare", s(&good), s(&cut)], &[]).await;
    assert_eq!(o.exit, Exit::Usage);
    assert!(
        o.stderr.contains(&format!(
            "error: {}: not a load-tester results file",
            cut.display()
        )),
        "{}",
        o.stderr
    );

    let mut v: serde_json::Value = serde_json::from_str(&text).expect("json");
    v["steps"][1]["latency"]["histogram"] = "%%%".into();
    let odd = d.join("odd.json");
    std::fs::write(&odd, v.to_string()).expect("write");
    let o = run_cli(&["compare", s(&odd), s(&good)], &[]).await;
    assert_eq!(o.exit, Exit::Usage);
    assert!(
        o.stderr
            .contains(&format!("{}: steps[1].latency.histogram", odd.display())),
        "{}",
        o.stderr
    );

    // Another scenario: refused, unless --force (then a warning).
    let mut v: serde_json::Value = serde_json::from_str(&text).expect("json");
    v["scenario"] = "other".into();
    let other = d.join("other.json");
    std::fs::write(&other, v.to_string()).expect("write");
    let o = run_cli(&["compare", s(&good), s(&other)], &[]).await;
    assert_eq!(o.exit, Exit::Usage);
    assert!(
        o.stderr
            .contains("scenario: 'other' differs from 'fast-golden'"),
        "{}",
        o.stderr
    );
    let o = run_cli(&["compare", s(&good), s(&other), "--force"], &[]).await;
    assert_eq!(o.exit, Exit::Passed, "{}", o.stderr);
    assert!(
        o.stdout
            .contains("warning: scenario: baseline 'fast-golden', current 'other'"),
        "{}",
        o.stdout
    );

    // An output that cannot be written: exit 2 before anything is read.
    let o = run_cli(
        &[
            "compare",
            s(&good),
            s(&good),
            "--json",
            s(&good.join("x.json")),
        ],
        &[],
    )
    .await;
    assert_eq!(o.exit, Exit::Usage);
    assert!(o.stderr.contains("cannot write"), "{}", o.stderr);

    // run --baseline: a bad baseline or another scenario's stops the run before any traffic.
    let (o, out) = run_fast_golden(d, &["--baseline", s(&cut)]).await;
    assert_eq!(o.exit, Exit::Usage);
    assert!(
        o.stderr
            .contains(&format!("--baseline {}: not a load-tester", cut.display())),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("(nothing was run)"), "{}", o.stderr);
    assert!(!out.exists(), "no results: nothing ran");
    let (o, out) = run_fast_golden(d, &["--baseline", s(&other)]).await;
    assert_eq!(o.exit, Exit::Usage, "{}", o.stderr);
    assert!(o.stderr.contains("nothing was run"), "{}", o.stderr);
    assert!(!out.exists(), "no results: nothing ran");
}
