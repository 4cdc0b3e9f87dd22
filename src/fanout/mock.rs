//! `mock --processes N`: N mock processes on one address (SO_REUSEPORT) and one JWT secret.

use std::ffi::OsString;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use super::signal;
use crate::exit::Exit;
use crate::io::Io;
use crate::mock::MockCounts;

/// kernel spreads connections over them) and one JWT secret (so a token minted by one verifies
/// at another). Returns when they have all ended, after forwarding the stop signal.
pub async fn mock(args: Vec<OsString>, n: u32, secret: &str, io: &Io) -> Exit {
    let exe = &io.program;
    let mut children = Vec::new();
    let mut ready = Vec::new();
    let mut readers = Vec::new();
    for j in 0..n {
        let mut cmd = Command::new(exe);
        cmd.arg("mock")
            .args(&args)
            .arg("--reuse-port")
            .env("JWT_SECRET_KEY", secret)
            .env_remove("LOAD_TESTER_MOCK_PROCESSES")
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        match cmd.spawn() {
            Ok(mut c) => {
                let err = c.stderr.take();
                children.push(c);
                let (tx, rx) = tokio::sync::oneshot::channel();
                ready.push(rx);
                let index = j + 1;
                let out = io.err.clone();
                readers.push(tokio::spawn(async move {
                    let err = err?;
                    let mut tx = Some(tx);
                    let mut counts = None;
                    let mut lines = BufReader::new(err).lines();
                    while let Ok(Some(line)) = lines.next_line().await {
                        if line.starts_with("mock target listening") {
                            if let Some(tx) = tx.take() {
                                let _ = tx.send(line);
                            }
                        } else if let Some(c) = stats_line(&line) {
                            // Its final counters: summed over the processes at the end.
                            counts = Some(c);
                        } else if let Ok(mut w) = out.lock() {
                            let _ = writeln!(w, "[mock process {index}] {line}");
                        }
                    }
                    counts
                }));
            }
            Err(e) => {
                io.eprint(&format!(
                    "error: --processes: cannot start mock process {}: {e}\n",
                    j + 1
                ));
                children.iter().for_each(|c| signal(c.id(), libc::SIGTERM));
                return Exit::Error;
            }
        }
    }
    let mut first = None;
    for rx in ready {
        match rx.await {
            Ok(line) => {
                first.get_or_insert(line);
            }
            Err(_) => {
                io.eprint("error: a mock process ended before listening\n");
                children.iter().for_each(|c| signal(c.id(), libc::SIGTERM));
                return Exit::Error;
            }
        }
    }
    if let Some(line) = first {
        io.eprint(&format!("{line} — {n} processes\n"));
    }
    io.interrupt.cancelled().await;
    children.iter().for_each(|c| signal(c.id(), libc::SIGTERM));
    let mut worst = Exit::Passed;
    for mut c in children {
        if let Ok(status) = c.wait().await {
            if status.code() != Some(0) {
                worst = Exit::Error;
            }
        }
    }
    // One line of the processes' summed counters, as a single mock prints its own.
    let mut total = MockCounts::default();
    for r in readers {
        if let Ok(Some(c)) = r.await {
            total += &c;
        }
    }
    io.eprint(&format!("{}\n", total.to_json_line()));
    worst
}

/// A child's final counters line (`{"flows":...}`), if `line` is one.
fn stats_line(line: &str) -> Option<MockCounts> {
    if !line.starts_with("{\"flows\":") {
        return None;
    }
    serde_json::from_str(line).ok()
}
