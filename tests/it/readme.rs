//! Every ```toml block of README.md works as shown: a whole scenario runs against the mock and
//! passes; the header and step fragments, assembled in README order, validate and then run
//! against the mock and pass (with the `[thresholds]` blocks judged on that run). A block of a shape
//! this test does not know fails it: no silent skip.

use std::path::Path;

use crate::util::*;
use load_tester::exit::Exit;

/// A ```toml block and the README line it starts on.
pub struct Block {
    pub line: usize,
    pub text: String,
    /// Fenced as ```` ```toml identities ````: it needs a data file and a signing key, so
    /// `identities::the_readme_identity_examples_run` runs it, not this file.
    pub identities: bool,
}

/// What a block is, read from its top-level keys.
#[derive(Debug, PartialEq)]
enum Shape {
    /// `name` and `[[steps]]`: a scenario of its own.
    Whole,
    /// `name`, `[target]`, `[load]`, `[vars]` without steps: the header the fragments go under.
    Header,
    /// Only `[[setup]]` / `[[steps]]` entries.
    Fragment,
    /// Only `[thresholds]`: judged on the run of the fragments.
    Thresholds,
}

const HEADER_KEYS: [&str; 5] = ["name", "description", "target", "load", "vars"];
const STEP_KEYS: [&str; 2] = ["setup", "steps"];

pub fn readme_blocks() -> Vec<Block> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(path).expect("README.md readable");
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in readme.lines().enumerate() {
        match open.as_mut() {
            None if line.trim_start().starts_with("```toml") => {
                let info = line.trim().trim_start_matches("```toml").trim();
                assert!(
                    info.is_empty() || info == "identities",
                    "README.md:{}: a ```toml block marked `{info}`; teach tests/it/readme.rs about it",
                    i + 1
                );
                open = Some(Block {
                    line: i + 1,
                    text: String::new(),
                    identities: info == "identities",
                })
            }
            None => {}
            Some(_) if line.trim_start().starts_with("```") => out.extend(open.take()),
            Some(b) => {
                b.text.push_str(line);
                b.text.push('\n');
            }
        }
    }
    assert!(open.is_none(), "README.md: a ```toml block is not closed");
    out
}

fn shape(b: &Block) -> Shape {
    let doc: toml::Table = toml::from_str(&b.text)
        .unwrap_or_else(|e| panic!("README.md:{}: the block is not TOML: {e}", b.line));
    let keys: Vec<&str> = doc.keys().map(String::as_str).collect();
    let steps = keys.iter().any(|k| STEP_KEYS.contains(k));
    let only = |allowed: &[&str]| keys.iter().all(|k| allowed.contains(k));
    match (doc.contains_key("name"), steps) {
        (true, true) => Shape::Whole,
        (true, false) if only(&HEADER_KEYS) => Shape::Header,
        (false, true) if only(&STEP_KEYS) => Shape::Fragment,
        (false, false) if only(&["thresholds"]) => Shape::Thresholds,
        _ => panic!(
            "README.md:{}: a ```toml block this test cannot handle (top-level keys {keys:?}); \
             teach tests/it/readme.rs about it",
            b.line
        ),
    }
}

/// The step names a fragment declares, in order.
fn step_names(text: &str) -> Vec<String> {
    let doc: toml::Table = toml::from_str(text).expect("checked by shape()");
    STEP_KEYS
        .iter()
        .filter_map(|k| doc.get(*k).and_then(|v| v.as_array()))
        .flatten()
        .filter_map(|s| s.get("name").and_then(|n| n.as_str()).map(str::to_owned))
        .collect()
}

async fn run_on_mock(path: &str) -> Output {
    let args = [
        "run",
        path,
        "--mock",
        "--users",
        "1",
        "--iterations",
        "1",
        "--quiet",
    ];
    run_cli(&args, &[]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_toml_block_of_the_readme_works() {
    let blocks = readme_blocks();
    let dir = tempdir();
    let (mut headers, mut fragments, mut wholes) = (Vec::new(), Vec::new(), 0);
    let mut thresholds = Vec::new();
    let identities = blocks.iter().filter(|b| b.identities).count();
    for b in blocks.iter().filter(|b| !b.identities) {
        match shape(b) {
            Shape::Header => headers.push(b),
            Shape::Fragment => fragments.push(b),
            Shape::Thresholds => thresholds.push(b),
            Shape::Whole => {
                wholes += 1;
                let file = scenario(dir.path(), &format!("whole-{}.toml", b.line), &b.text);
                let o = run_on_mock(file.to_str().expect("utf-8 path")).await;
                assert_eq!(
                    o.exit,
                    Exit::Passed,
                    "README.md:{} run against the mock:\n{}{}",
                    b.line,
                    o.stderr,
                    o.stdout
                );
            }
        }
    }
    assert_eq!(
        headers.len(),
        1,
        "one header block for the fragments to go under; teach this test about more"
    );
    assert!(
        fragments.len() >= 4,
        "README step fragments found: {}",
        fragments.len()
    );

    // The fragments, in README order, under the header: one scenario.
    let mut text = headers[0].text.clone();
    let mut names = Vec::new();
    for f in &fragments {
        text.push_str(&format!("\n# README.md:{}\n", f.line));
        text.push_str(&f.text);
        names.extend(step_names(&f.text));
    }
    for t in &thresholds {
        text.push_str(&format!("\n# README.md:{}\n", t.line));
        text.push_str(&t.text);
    }
    let file = scenario(dir.path(), "fragments.toml", &text);
    let file = file.to_str().expect("utf-8 path");
    let o = run_cli(&["validate", file], &[]).await;
    assert_eq!(o.exit, Exit::Passed, "{}\n{text}", o.stderr);
    let o = run_on_mock(file).await;
    assert_eq!(o.exit, Exit::Passed, "{}{}\n{text}", o.stderr, o.stdout);
    for name in ["login", "connect", "chat", "close"] {
        assert!(names.iter().any(|n| n == name), "README shows step {name}");
    }
    for name in &names {
        assert!(
            o.stdout.contains(name.as_str()),
            "the summary shows step {name}:\n{}",
            o.stdout
        );
    }
    assert!(
        o.stdout.contains("flows: 1 passed, 0 failed"),
        "{}",
        o.stdout
    );
    if !thresholds.is_empty() {
        assert!(
            o.stdout.contains("thresholds (they are the verdict):"),
            "{}",
            o.stdout
        );
        assert!(!o.stdout.contains("BREACHED"), "{}", o.stdout);
    }
    assert_eq!(
        blocks.len(),
        headers.len() + fragments.len() + wholes + thresholds.len() + identities
    );
}

/// The README's failure-kind table has a row for every error kind the tool has, with the phases
/// it names being real phases: the table cannot fall behind the types.
#[test]
fn the_failure_kind_table_lists_every_kind() {
    use load_tester::metrics::errors::ErrorCode;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(path).expect("README.md readable");
    let table = readme
        .split("### Failure kinds")
        .nth(1)
        .expect("a Failure kinds section");
    let rows: Vec<(String, String)> = table
        .lines()
        .skip_while(|l| !l.starts_with("| kind |"))
        .skip(2)
        .take_while(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells[1].trim_matches('`').to_string(), cells[2].to_string())
        })
        .collect();
    let kinds: Vec<&str> = rows.iter().map(|(k, _)| k.as_str()).collect();
    let all: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(kinds, all, "the README table, in ErrorCode::ALL order");
    let phases = [
        "dns", "connect", "tls", "request", "response", "upgrade", "send", "frame", "close",
        "events", "template", "internal", "any",
    ];
    for (kind, cell) in &rows {
        for p in cell.split(',').map(str::trim) {
            assert!(phases.contains(&p), "{kind}: phase {p:?} is not one");
        }
    }
}

/// The README's exit-code table has a row for every exit code and every verdict (with the code
/// that verdict exits with), and `--help` names every code: neither can fall behind `Exit`.
#[test]
fn the_exit_code_table_lists_every_code_and_verdict() {
    use load_tester::metrics::summary::Verdict;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(path).expect("README.md readable");
    let table = readme
        .split("## Exit codes")
        .nth(1)
        .expect("an Exit codes section");
    let rows: Vec<(i32, String)> = table
        .lines()
        .skip_while(|l| !l.starts_with("| code |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let code = cells[1].parse().unwrap_or_else(|_| panic!("a code: {l}"));
            (code, cells[2].trim_matches('`').to_string())
        })
        .collect();
    let codes: Vec<i32> = Exit::ALL.iter().map(|e| e.code()).collect();
    for c in &codes {
        assert!(
            rows.iter().any(|(code, _)| code == c),
            "no row for exit {c}"
        );
    }
    for (code, verdict) in &rows {
        assert!(
            codes.contains(code),
            "row for exit {code}, which the tool never gives"
        );
        if !verdict.is_empty() {
            let v: Verdict = serde_json::from_value(serde_json::json!(verdict))
                .unwrap_or_else(|_| panic!("{verdict:?} is not a verdict"));
            assert_eq!(
                v.exit_code(),
                *code,
                "verdict {verdict} exits {}",
                v.exit_code()
            );
        }
    }
    for v in Verdict::ALL {
        let name = serde_json::to_value(v).unwrap();
        let name = name.as_str().unwrap();
        assert!(
            rows.iter().any(|(c, r)| r == name && *c == v.exit_code()),
            "no row for verdict {name} (exit {})",
            v.exit_code()
        );
    }
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_load-tester"))
        .arg("--help")
        .output()
        .expect("load-tester --help runs");
    let text = String::from_utf8_lossy(&help.stdout);
    let para = text
        .split("Exit codes:")
        .nth(1)
        .expect("--help has an Exit codes paragraph");
    let para: String = para
        .split("\n\n")
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for c in &codes {
        assert!(
            para.contains(&format!("{c} ")),
            "--help's exit codes miss {c}: {para}"
        );
    }
}
