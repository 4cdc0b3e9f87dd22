//! `probe --repeat N --every D`: a line per pass, the summary over the passes, the exit code,
//! `--json` lines, `--junit` per pass, and a signal that stops an endless repeat.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use load_tester::exit::Exit;
use serde_json::Value;

use crate::junit::{assert_schema_valid, consumer, failures};
use crate::util::*;

/// The `pass N...` lines (not the `passes N: ...` summary).
fn pass_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| {
            l.strip_prefix("pass ")
                .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_passes_against_the_mock() {
    let dir = tempdir();
    let path = scenario(dir.path(), "s.toml", &fast_golden(""));
    let out = dir.path().join("r.json");
    let o = run_cli(
        &[
            "probe",
            path.to_str().unwrap(),
            "--mock",
            "--repeat",
            "3",
            "--every",
            "200ms",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert_passed(&o);
    let passes = pass_lines(&o.stdout);
    assert_eq!(passes.len(), 3, "{}", o.stdout);
    for (i, l) in passes.iter().enumerate() {
        assert!(l.starts_with(&format!("pass {}/3 ok ", i + 1)), "{l}");
    }
    assert!(
        o.stdout
            .contains("passes 3: 3 passed, 0 failed (availability 100.0%)"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("PASSED after 3 passes"), "{}", o.stdout);
    // The results over all passes.
    let r = read_results(&out);
    assert_eq!((r.flows.started, r.flows.passed), (3, 3));
    assert_eq!(r.step("chat").map(|s| s.ok), Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_pass_is_named_and_the_exit_is_1() {
    let dir = tempdir();
    let path = scenario(dir.path(), "s.toml", &fast_golden(""));
    let xml = dir.path().join("p.xml");
    // The mock faults every second flow exactly: pass 2 of 3 fails.
    let o = run_cli(
        &[
            "probe",
            path.to_str().unwrap(),
            "--mock",
            "--fault",
            "agent-error",
            "--fault-rate",
            "0.5",
            "--repeat",
            "3",
            "--every",
            "200ms",
            "--json",
            "--junit",
            xml.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert_eq!(o.exit, Exit::Failed, "{}", o.stderr);
    // The human lines on stderr.
    let passes = pass_lines(&o.stderr);
    assert_eq!(passes.len(), 3, "{}", o.stderr);
    assert!(passes[0].starts_with("pass 1/3 ok "), "{}", passes[0]);
    assert!(
        passes[1].starts_with("pass 2/3 FAILED ")
            && passes[1].contains(" at chat: error event: agent_error [error_event, events]"),
        "{}",
        passes[1]
    );
    assert!(passes[2].starts_with("pass 3/3 ok "), "{}", passes[2]);
    assert!(o
        .stderr
        .contains("passes 3: 2 passed, 1 failed (availability 66.7%)"));
    assert!(o.stderr.contains("failed passes: 2\n"), "{}", o.stderr);
    // JSON lines on stdout: three passes and the summary.
    let lines: Vec<Value> = o
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each stdout line is JSON"))
        .collect();
    assert_eq!(lines.len(), 4, "{}", o.stdout);
    let kinds: Vec<&str> = lines.iter().map(|v| v["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["pass", "pass", "pass", "summary"]);
    let verdicts: Vec<&str> = lines[..3]
        .iter()
        .map(|v| v["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, ["passed", "failed", "passed"]);
    let chat = &lines[1]["steps"][2];
    assert_eq!(
        (chat["name"].as_str(), chat["verdict"].as_str()),
        (Some("chat"), Some("failed"))
    );
    assert_eq!(chat["error"]["kind"], "error_event");
    assert_eq!(lines[1]["steps"][3]["verdict"], "skipped");
    assert!(lines[0]["steps"][0]["time_ms"].as_f64().unwrap() > 0.0);
    let end = &lines[3];
    assert_eq!(
        (
            end["passes"].as_u64(),
            end["passed"].as_u64(),
            end["failed"].as_u64()
        ),
        (Some(3), Some(2), Some(1))
    );
    assert_eq!(end["exit_code"], 1);
    assert_eq!(end["steps"][2]["failed"], 1);
    // JUnit: a suite per pass (4 steps each), then the aggregate (4 steps, 5 events, verdict).
    assert_schema_valid(&xml);
    let parsed = consumer(&xml);
    assert_eq!(parsed["tests"], 3 * 4 + 4 + 5 + 1, "{parsed}");
    let f = failures(&parsed);
    assert_eq!(f.len(), 1 + 4, "{f:?}");
    let suites: Vec<&str> = parsed["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["results"].as_array().is_some_and(|r| !r.is_empty()))
        .map(|c| c["suite"].as_str().unwrap())
        .collect();
    assert_eq!(
        suites[..2],
        ["pass 2/3", "pass 2/3"],
        "the failure, the skipped close"
    );
    assert!(
        f[0].1.starts_with("chat: error event: agent_error"),
        "{}",
        f[0].1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_that_cannot_work_are_refused() {
    let dir = tempdir();
    let path = scenario(dir.path(), "s.toml", &fast_golden(""));
    let scen = path.to_str().unwrap();
    for (args, says) in [
        (vec!["probe", scen, "--mock", "--every", "1s"], "--repeat"),
        (
            vec!["probe", scen, "--mock", "--repeat", "2", "--every", "0s"],
            "--every must be longer than 0s",
        ),
        (
            vec!["probe", scen, "--mock", "--json", "--out", "-"],
            "--out - and --json all want stdout",
        ),
    ] {
        let o = run_cli(&args, &[]).await;
        assert_eq!(o.exit, Exit::Usage, "{args:?}");
        assert!(o.stderr.contains(says), "{args:?}: {}", o.stderr);
    }
}

/// `--repeat 0` runs until a signal: SIGTERM after the first pass line stops it with the summary,
/// the finished passes kept, exit 0 (every pass that finished passed).
#[test]
fn a_signal_stops_an_endless_repeat_with_the_summary() {
    let dir = tempdir();
    let path = scenario(dir.path(), "s.toml", &fast_golden(""));
    let out = dir.path().join("r.json");
    let child = Command::new(env!("CARGO_BIN_EXE_load-tester"))
        .args([
            "probe",
            path.to_str().unwrap(),
            "--mock",
            "--repeat",
            "0",
            "--every",
            "100ms",
            "--out",
            out.to_str().unwrap(),
        ])
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start load-tester");
    // If the test fails before its SIGTERM, the endless probe must not outlive it.
    struct KillOnDrop(std::process::Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = KillOnDrop(child);
    // Lines arrive on a thread, so waiting for one has a deadline.
    let stdout = child.0.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("a pass line within 30 s");
        let first_pass = line.starts_with("pass 1 ok ");
        seen.push(line);
        if first_pass {
            break;
        }
    }
    // SAFETY: kill(2) on our own child, not yet waited for.
    assert_eq!(unsafe { libc::kill(child.0.id() as i32, libc::SIGTERM) }, 0);
    let status = child.0.wait().expect("wait for load-tester");
    reader.join().expect("reader thread");
    seen.extend(rx.try_iter());
    let text = seen.join("\n");
    assert_eq!(status.code(), Some(0), "{text}");
    let passes = pass_lines(&text).len() as u64;
    assert!(passes >= 1, "{text}");
    assert!(
        text.contains("stopped by a signal: the summary covers the passes that ran"),
        "{text}"
    );
    assert!(text.contains(&format!("passes {passes}: ")), "{text}");
    assert!(text.contains("(availability 100.0%)"), "{text}");
    let r = read_results(&out);
    assert_eq!(
        r.stopped_by,
        load_tester::metrics::summary::StoppedBy::Signal
    );
    assert_eq!(r.flows.started, passes, "{text}");
    assert_eq!(r.flows.failed, 0);
}
