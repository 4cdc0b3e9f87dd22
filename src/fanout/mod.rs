//! `--processes N`: one run (or one mock) as N processes of this binary on this machine.
//!
//! A process may hold only as many sockets as its open-file limit allows (often 20,000 or
//! fewer, and containers cannot raise it), so a hundred thousand users need several processes,
//! as Locust's `--processes` does. Each child is a shard of this generator's users (user numbers
//! stay global and never collide), runs in its own process group (a terminal's Ctrl-C reaches
//! only this parent, which forwards it once, then a second time to skip the grace), writes its
//! results to a private file, and the parent merges them losslessly (HDR add) into one summary.
//! While they run, the children send machine-readable interval records on stderr (`records`),
//! which the parent merges and feeds to its own live sinks: progress, time series and metrics
//! work as in one process. This file spawns and waits; `args` builds a child's command line,
//! `records` the interval records, `parts` the results merge, `mock` the mock's fan-out.

mod args;
mod mock;
mod parts;
pub mod records;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

pub use args::{mock_args, run_args};
pub use mock::mock;
pub use parts::sub_shard;

use args::flag_env_names;
use parts::{merge_parts, read_part};
use records::Merger;

use crate::exit::Exit;
use crate::io::Io;
use crate::metrics::summary::Summary;
use crate::plan::Plan;
use crate::report::Sink;
use crate::shard::Shard;

/// What the children of a run are: the parent's share, split `n` ways, and the plan they run.
pub struct Children {
    pub parent: Shard,
    pub n: u32,
    /// Worker threads per child [default: the CPUs shared among them].
    pub workers: Option<usize>,
    pub quiet: bool,
    pub plan: Arc<Plan>,
    /// `--canary-every`: given to the first child only, so the generator runs one canary.
    pub canary: Option<std::time::Duration>,
}

/// What a fanned-out run produced.
pub struct Fanned {
    /// The children's results, merged.
    pub summary: Summary,
    /// The live sinks given to `run`, back for their final hook.
    pub live: Box<dyn Sink>,
    /// Every interval record was read: the live figures (the time series) are whole.
    pub complete: bool,
    /// Each child's own results (their thresholds say which `abort_on_fail` stopped a child).
    pub parts: Vec<Summary>,
}

struct Proc {
    pid: Option<u32>,
    out: PathBuf,
}

/// Whether a child's stderr line is shown as it is (records are merged instead, and the
/// children's start banner is the parent's to print).
fn passthrough(line: &str) -> bool {
    !line.starts_with("running ")
        && line != crate::transport::tls::INSECURE_WARNING
        && !line.is_empty()
}

/// Sends `signal` to a child's pid (the caller sends only to children not yet reaped).
fn signal(pid: Option<u32>, signal: i32) {
    if let Some(pid) = pid {
        // SAFETY: kill(2) on a pid we spawned; no memory is shared.
        unsafe {
            libc::kill(pid as libc::pid_t, signal);
        }
    }
}

/// Runs `n` children of this generator's share, feeds their interval records to `live`, and
/// merges their results.
pub async fn run(
    args: Vec<OsString>,
    children: Children,
    live: Box<dyn Sink>,
    io: &Io,
) -> Result<Fanned, Exit> {
    let Children {
        parent,
        n,
        workers,
        quiet,
        plan,
        canary,
    } = children;
    let fail = |what: String| {
        io.eprint(&format!("error: --processes: {what}\n"));
        Exit::Error
    };
    let exe = &io.program;
    let dir = tempfile::Builder::new()
        .prefix("load-tester-processes-")
        .tempdir()
        .map_err(|e| fail(format!("cannot make a directory for partial results: {e}")))?;
    let cpus = std::thread::available_parallelism().map_or(1, |c| c.get());
    let workers = workers.unwrap_or_else(|| (cpus / n as usize).max(1));
    let hidden = flag_env_names("run");
    // A child's stderr lines, then `None` when it has ended.
    let (lines_tx, mut lines_rx) =
        tokio::sync::mpsc::unbounded_channel::<(usize, Option<String>)>();
    // Each child is awaited by its own task, which reports its exit code here.
    let (exits_tx, mut exits_rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Option<i32>)>();
    let mut procs: Vec<Proc> = Vec::new();
    for j in 0..n {
        let shard = sub_shard(parent, j, n);
        let out = dir.path().join(format!("part-{}.json", j + 1));
        let mut cmd = Command::new(exe);
        cmd.args(&args)
            .arg("--shard")
            .arg(shard.to_string())
            .arg("--workers")
            .arg(workers.to_string())
            .arg("--out")
            .arg(&out)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        if quiet {
            cmd.arg("--quiet");
        }
        if let Some(every) = canary.filter(|_| j == 0) {
            cmd.arg("--canary-every").arg(args::dur(every));
        }
        for name in &hidden {
            cmd.env_remove(name);
        }
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                procs.iter().for_each(|p| signal(p.pid, libc::SIGKILL));
                return Err(fail(format!("cannot start process {}: {e}", j + 1)));
            }
        };
        let index = j as usize;
        if let Some(err) = child.stderr.take() {
            let tx = lines_tx.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(err).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if tx.send((index, Some(line))).is_err() {
                        break;
                    }
                }
                let _ = tx.send((index, None));
            });
        }
        let pid = child.id();
        let tx = exits_tx.clone();
        tokio::spawn(async move {
            let code = child.wait().await.ok().and_then(|s| s.code());
            let _ = tx.send((index, code));
        });
        procs.push(Proc { pid, out });
    }
    drop(lines_tx);
    drop(exits_tx);
    if !quiet {
        io.eprint(&format!(
            "running as {n} processes ({workers} worker thread{} each), shards {}..{}\n",
            if workers == 1 { "" } else { "s" },
            sub_shard(parent, 0, n),
            sub_shard(parent, n - 1, n)
        ));
    }
    let mut merger = Merger::new(plan, procs.len(), live);
    let mut take = |j: usize, line: Option<String>| match line {
        None => merger.ended(j),
        Some(line) if line.starts_with(records::PREFIX) => {
            if let Some(warning) = merger.line(j, &line) {
                io.eprint(&format!("{warning}\n"));
            }
        }
        Some(line) if passthrough(&line) => io.eprint(&format!("[process {}] {line}\n", j + 1)),
        Some(_) => {}
    };
    let (mut interrupted, mut aborted, mut lines_open) = (false, false, true);
    let mut codes: Vec<Option<Option<i32>>> = vec![None; procs.len()];
    let stop_running = |codes: &[Option<Option<i32>>]| {
        for (p, code) in procs.iter().zip(codes) {
            if code.is_none() {
                signal(p.pid, libc::SIGTERM);
            }
        }
    };
    while codes.iter().any(Option::is_none) {
        tokio::select! {
            line = lines_rx.recv(), if lines_open => match line {
                None => lines_open = false,
                Some((j, line)) => take(j, line),
            },
            Some((j, code)) = exits_rx.recv() => codes[j] = Some(code),
            _ = io.interrupt.cancelled(), if !interrupted => {
                interrupted = true;
                stop_running(&codes);
            }
            _ = io.abort.cancelled(), if !aborted => {
                aborted = true;
                stop_running(&codes);
            }
        }
    }
    // What the children wrote last (their last records, their errors): their stderr ends as
    // they exit.
    while let Some((j, line)) = lines_rx.recv().await {
        take(j, line);
    }
    let complete = merger.complete();
    let live = merger.finish();
    if codes
        .iter()
        .flatten()
        .any(|c| *c == Some(Exit::Usage.code()))
    {
        return Err(Exit::Usage);
    }
    let mut parts = Vec::new();
    for (j, (p, code)) in procs.iter().zip(&codes).enumerate() {
        match read_part(&p.out) {
            Ok(s) => parts.push(s),
            Err(e) => {
                let how = match code {
                    Some(Some(c)) => format!("exit code {c}"),
                    _ => "killed by a signal".to_string(),
                };
                return Err(fail(format!(
                    "process {} ended ({how}) without results: {e}",
                    j + 1
                )));
            }
        }
    }
    let mut merged = merge_parts(&parts, parent, n).map_err(fail)?;
    merged.shard = (!parent.is_whole()).then(|| parent.to_string());
    Ok(Fanned {
        summary: merged,
        live,
        complete,
        parts,
    })
}
