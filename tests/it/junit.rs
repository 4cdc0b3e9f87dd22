//! `--junit`: the file passes the JUnit schema (tests/fixtures/junit.xsd, checked by `xmllint`)
//! and a common consumer (Python's `junitparser`) reads the right cases, failures and messages.
//! Both tools are required: a machine without them fails here, naming what to install.

use std::path::Path;
use std::process::Command;

use load_tester::exit::Exit;
use serde_json::Value;

use crate::util::*;

/// Checks `file` against the schema with `xmllint`; panics with its messages when invalid.
pub fn assert_schema_valid(file: &Path) {
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/junit.xsd");
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .arg(file)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "xmllint is needed to check JUnit XML ({e}): install it with \
                 `apt-get install libxml2-utils` (.ci/run does)"
            )
        });
    assert!(
        out.status.success(),
        "{} does not match the JUnit schema:\n{}\n{}",
        file.display(),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(file).unwrap_or_default()
    );
}

/// What `junitparser` reads: `{"tests", "failures", "skipped", "cases": [{"suite", "name",
/// "classname", "results": [{"kind", "message", "type"}]}]}`, counted from the cases it parsed.
pub fn consumer(file: &Path) -> Value {
    const SCRIPT: &str = r#"
import json, sys
from junitparser import JUnitXml, Failure, Skipped
xml = JUnitXml.fromfile(sys.argv[1])
cases = []
for suite in xml:
    for case in suite:
        results = [{"kind": type(r).__name__.lower(), "message": r.message, "type": r.type}
                   for r in case.result]
        cases.append({"suite": suite.name, "name": case.name, "classname": case.classname,
                      "results": results})
def count(kind):
    return sum(1 for c in cases if any(r["kind"] == kind for r in c["results"]))
print(json.dumps({"tests": len(cases), "failures": count("failure"),
                  "skipped": count("skipped"), "cases": cases}))
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .arg(file)
        .output()
        .unwrap_or_else(|e| {
            panic!("python3 is needed to read JUnit XML with junitparser ({e}): install python3")
        });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("No module named 'junitparser'"),
        "the JUnit consumer is missing: install it with `pip install junitparser` (.ci/run does)"
    );
    assert!(out.status.success(), "junitparser failed:\n{stderr}");
    serde_json::from_slice(&out.stdout).expect("the consumer prints JSON")
}

/// The messages of the failures the consumer saw, as `(case name, message)`.
pub fn failures(parsed: &Value) -> Vec<(String, String)> {
    parsed["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .flat_map(|c| {
            c["results"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|r| r["kind"] == "failure")
                .map(move |r| {
                    (
                        c["name"].as_str().unwrap_or_default().to_string(),
                        r["message"].as_str().unwrap_or_default().to_string(),
                    )
                })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_run_and_a_passing_one_read_by_a_consumer() {
    let dir = tempdir();
    let failing = dir.path().join("failing.xml");
    let (o, _) = run_fast_golden(
        dir.path(),
        &[
            "--users",
            "2",
            "--iterations",
            "3",
            "--fault",
            "agent-error",
            "--fault-rate",
            "0.5",
            "--junit",
            failing.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(o.exit, Exit::Failed, "{}", o.stderr);
    assert_schema_valid(&failing);
    let parsed = consumer(&failing);
    // Steps login, connect, chat, close; the five golden events; no threshold; the verdict.
    assert_eq!(parsed["tests"], 4 + 5 + 1, "{parsed}");
    assert_eq!(parsed["failures"], 4, "{parsed}");
    let f = failures(&parsed);
    let names: Vec<&str> = f.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "chat",
            "chat.agent_thinking",
            "chat.agent_completed",
            "verdict"
        ]
    );
    assert!(
        f[0].1
            .starts_with("chat: 3 of 6 failed (error event: agent_error [error_event, events]"),
        "{}",
        f[0].1
    );
    assert!(
        f[2].1
            .starts_with("chat.agent_completed: not received in 3 of 6 executions (error event"),
        "{}",
        f[2].1
    );
    assert_eq!(f[3].1, "FAILED (exit 1): 3 of 6 flows failed, 3 passed");

    let passing = dir.path().join("passing.xml");
    let (o, _) = run_fast_golden(dir.path(), &["--junit", passing.to_str().unwrap()]).await;
    assert_passed(&o);
    assert_schema_valid(&passing);
    let parsed = consumer(&passing);
    assert_eq!(
        (parsed["tests"].as_u64(), parsed["failures"].as_u64()),
        (Some(10), Some(0))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_and_causes_stay_well_formed_through_merge() {
    let dir = tempdir();
    let (o, results) =
        run_fast_golden(dir.path(), &["--fault", "agent-error", "--fault-rate", "1"]).await;
    assert_eq!(o.exit, Exit::Failed, "{}", o.stderr);
    // The chat step renamed, its error's cause replaced, by hand (as anyone can edit a file).
    let hostile = "chat \"q\" 'a' <b> & \u{1}\u{7}\u{1b}[31m \u{0} ]]> --";
    let mut v = read_json(&results);
    for s in v["steps"].as_array_mut().unwrap() {
        if s["name"] == "chat" {
            s["name"] = hostile.into();
            for e in s["errors"].as_array_mut().unwrap() {
                e["step"] = hostile.into();
                e["causes"][0]["cause"] = format!("cause {hostile}").into();
            }
        }
    }
    for e in v["errors"].as_array_mut().unwrap() {
        e["step"] = hostile.into();
        e["causes"][0]["cause"] = format!("cause {hostile}").into();
    }
    let edited = dir.path().join("edited.json");
    std::fs::write(&edited, v.to_string()).unwrap();
    let xml = dir.path().join("merged.xml");
    let o = run_cli(
        &[
            "merge",
            edited.to_str().unwrap(),
            "--junit",
            xml.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert_eq!(o.exit, Exit::Failed, "{}", o.stderr);
    assert_schema_valid(&xml);
    let parsed = consumer(&xml);
    let f = failures(&parsed);
    let shown = "chat \"q\" 'a' <b> & ???[31m ? ]]> --";
    assert_eq!(f[0].0, shown, "{parsed}");
    assert!(
        f[0].1.starts_with(&format!("{shown}: 1 of 1 failed")),
        "{}",
        f[0].1
    );
    assert!(f[0].1.contains(&format!("cause {shown}")), "{}", f[0].1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junit_on_stdout_only_when_nothing_else_is() {
    let dir = tempdir();
    let path = scenario(dir.path(), "s.toml", &fast_golden(""));
    let scen = path.to_str().unwrap();
    // Alone on stdout: the XML there, the summary on stderr.
    let o = run_cli(&["run", scen, "--mock", "--junit", "-"], &[]).await;
    assert_passed(&o);
    assert!(o.stdout.starts_with("<?xml"), "{}", o.stdout);
    assert!(
        o.stdout.trim_end().ends_with("</testsuites>"),
        "{}",
        o.stdout
    );
    assert!(o.stderr.contains("PASSED"), "{}", o.stderr);
    // With another output on stdout: refused before anything runs.
    for args in [
        vec!["run", scen, "--mock", "--junit", "-", "--out", "-"],
        vec!["probe", scen, "--mock", "--junit", "-", "--json"],
    ] {
        let o = run_cli(&args, &[]).await;
        assert_eq!(o.exit, Exit::Usage, "{args:?}");
        assert!(o.stdout.is_empty(), "{}", o.stdout);
        assert!(o.stderr.contains("all want stdout"), "{}", o.stderr);
    }
    // An unwritable path: exit 2 before anything runs, as --out.
    let o = run_cli(
        &["run", scen, "--mock", "--junit", "/proc/forbidden/j.xml"],
        &[],
    )
    .await;
    assert_eq!(o.exit, Exit::Usage, "{}", o.stderr);
    assert!(o.stderr.contains("(nothing was run)"), "{}", o.stderr);
    // From the environment.
    let file = dir.path().join("env.xml");
    let r = crate::raw::run_binary(
        &["probe", scen, "--mock"],
        &[("LOAD_TESTER_JUNIT", file.to_str().unwrap())],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_schema_valid(&file);
}
