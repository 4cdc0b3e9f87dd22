//! Graceful stop with a real signal: the binary as a child process, SIGTERM mid-run.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::util::*;

fn flows_line(stdout: &str) -> (u64, u64, u64) {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("flows: "))
        .expect("summary has a flows line");
    let num = |word: &str| -> u64 {
        let before = line.split(word).next().unwrap();
        before
            .split_whitespace()
            .last()
            .unwrap()
            .trim_start_matches("flows:")
            .parse()
            .unwrap()
    };
    (num(" passed"), num(" failed"), num(" interrupted"))
}

#[test]
fn sigterm_stops_within_the_grace_period_and_keeps_every_result() {
    let dir = tempdir();
    let out = dir.path().join("r.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_load-tester"))
        .args([
            "run",
            &shipped("golden-path.toml"),
            "--mock",
            "--users",
            "20",
            "--spawn-rate",
            "100",
        ])
        .args([
            "--duration",
            "60s",
            "--graceful-stop",
            "2s",
            "--progress-interval",
            "1s",
        ])
        .args(["--delay", "50ms", "--out", out.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start load-tester");
    // Wait (bounded) for the first progress line: the run is under way with flows done.
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.starts_with("progress ") && !line.contains(" flows=0 ") {
                let _ = tx.send(line);
            }
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("a progress line within 30 s");
    assert!(first.contains("elapsed="), "{first}");
    let signalled = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().expect("load-tester exits");
    let took = signalled.elapsed();
    assert!(
        took <= Duration::from_secs(3),
        "exited {took:?} after SIGTERM (grace 2 s + 1 s)"
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "interrupted flows are not failures"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let (passed, failed, interrupted) = flows_line(&stdout);
    let r = read_results(&out);
    assert_eq!(
        (r.flows.passed, r.flows.failed, r.flows.interrupted),
        (passed, failed, interrupted)
    );
    assert!(passed > 0);
    assert_eq!(r.flows.started, passed + failed + interrupted);
    assert_eq!(
        r.stopped_by,
        load_tester::metrics::summary::StoppedBy::Signal,
        "the results say a signal stopped the run"
    );
    assert!(stdout.contains("stopped by a signal"), "{stdout}");
    let cut: u64 = r.interrupted.iter().map(|i| i.count).sum();
    assert_eq!(cut, interrupted, "every interrupted flow says where it was");
    assert!(r.elapsed_s < 30.0, "the run ended early: {}", r.elapsed_s);
}

/// `mock --processes 2`: two processes serve one address (SO_REUSEPORT) with one JWT secret, so
/// a run's logins and sockets pass whichever process accepts them; SIGTERM ends them all.
#[test]
fn mock_processes_share_an_address_and_a_secret() {
    let port = free_port();
    let mut mock = Command::new(env!("CARGO_BIN_EXE_load-tester"))
        .args([
            "mock",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--processes",
            "2",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the mock");
    let stderr = mock.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let ready = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the mock says it listens within 30 s");
    assert!(ready.contains("2 processes"), "{ready}");
    let dir = tempdir();
    let out = dir.path().join("r.json");
    let url = format!("http://127.0.0.1:{port}");
    let run = Command::new(env!("CARGO_BIN_EXE_load-tester"))
        .args([
            "run",
            &shipped("golden-path.toml"),
            "--target",
            &url,
            "--auth-url",
            &url,
        ])
        .args(["--users", "8", "--iterations", "2", "-q", "--out"])
        .arg(&out)
        .output()
        .expect("run against the mock");
    let _ = Command::new("kill")
        .args(["-TERM", &mock.id().to_string()])
        .status();
    let status = mock.wait().expect("the mock exits");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stdout)
    );
    let r = read_results(&out);
    assert_eq!((r.flows.passed, r.flows.failed), (16, 0));
    assert_eq!(
        status.code(),
        Some(0),
        "both mock processes stopped cleanly"
    );
}
