//! `--processes N`: one run (or one mock) as N processes of this binary on this machine.
//!
//! A process may hold only as many sockets as its open-file limit allows (often 20,000 or
//! fewer, and containers cannot raise it), so a hundred thousand users need several processes,
//! as Locust's `--processes` does. Each child is a shard of this generator's users (user numbers
//! stay global and never collide), runs in its own process group (a terminal's Ctrl-C reaches
//! only this parent, which forwards it once, then a second time to skip the grace), writes its
//! results to a private file, and the parent merges them losslessly (HDR add) into one summary.
//! Children's progress lines are read from their stderr and shown as one line for the whole run.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::cli::{ArrivalsArg, RunArgs};
use crate::exit::Exit;
use crate::io::Io;
use crate::metrics::summary::Summary;
use crate::shard::Shard;

/// Environment variables the tool reads as flags; children get explicit flags instead, so a
/// variable meant for the parent (a results file, a shard) never applies to every child.
fn flag_env_names(subcommand: &str) -> Vec<String> {
    let mut names = crate::env::flag_names(subcommand);
    // Read by the shard logic directly.
    names.extend(
        [
            crate::env::SHARD_COUNT,
            crate::env::SHARD_SERVICE,
            crate::env::JOB_COMPLETION_INDEX,
        ]
        .map(String::from),
    );
    names
}

/// A duration as the tool's parser reads it, exactly (`1.250000000s`).
fn dur(d: Duration) -> String {
    format!("{}.{:09}s", d.as_secs(), d.subsec_nanos())
}

/// The flags every child of a run gets: the scenario and the parent's overrides, with the
/// target given explicitly (`target` when the parent started the mock).
pub fn run_args(a: &RunArgs, target: Option<&str>) -> Vec<OsString> {
    let mut v: Vec<OsString> = vec!["run".into(), a.scenario.clone().into_os_string()];
    let mut flag = |name: &str, value: String| {
        v.push(name.into());
        v.push(value.into());
    };
    match target {
        Some(url) => {
            flag("--target", url.to_string());
            flag("--auth-url", url.to_string());
        }
        None => {
            if let Some(x) = &a.target.urls.base_url {
                flag("--target", x.clone());
            }
            if let Some(x) = &a.target.urls.auth_url {
                flag("--auth-url", x.clone());
            }
            if let Some(x) = &a.target.urls.ws_url {
                flag("--ws-url", x.clone());
            }
        }
    }
    if let Some(x) = &a.target.ca_cert {
        flag("--ca-cert", x.display().to_string());
    }
    if let Some(x) = a.users {
        flag("--users", x.to_string());
    }
    if let Some(x) = a.spawn_rate {
        flag("--spawn-rate", x.to_string());
    }
    if let Some(x) = a.duration {
        flag("--duration", dur(x));
    }
    if let Some(x) = a.iterations {
        flag("--iterations", x.to_string());
    }
    if let Some(x) = a.arrival_rate {
        flag("--arrival-rate", x.to_string());
    }
    if let Some(x) = a.arrivals {
        let name = match x {
            ArrivalsArg::Even => "even",
            ArrivalsArg::Poisson => "poisson",
        };
        flag("--arrivals", name.to_string());
    }
    if let Some(x) = a.max_lateness {
        flag("--max-lateness", dur(x));
    }
    flag("--seed", a.seed.to_string());
    for s in &a.stages {
        flag("--stage", format!("{}:{}", dur(s.duration), s.target));
    }
    flag("--backoff", dur(a.backoff));
    flag("--backoff-max", dur(a.backoff_max));
    if let Some(x) = a.graceful_stop {
        flag("--graceful-stop", dur(x));
    }
    if let Some(x) = &a.local_addrs {
        let list: Vec<String> = x.0.iter().map(|ip| ip.to_string()).collect();
        flag("--local-addrs", list.join(","));
    }
    flag("--progress-interval", dur(a.progress_interval));
    if a.target.insecure {
        v.push("--insecure".into());
    }
    v
}

/// Shard `j` of `n` of the parent's share: the users `u` with `u % (M·n) == i + M·j`, where the
/// parent is shard `i` of `M`; together the children run exactly the parent's users.
pub fn sub_shard(parent: Shard, j: u32, n: u32) -> Shard {
    Shard {
        index: parent.index + parent.count * j,
        count: parent.count * n,
    }
}

struct Proc {
    pid: Option<u32>,
    out: PathBuf,
}

/// Latest progress figures of each child, by child number.
#[derive(Default)]
struct Progress {
    latest: BTreeMap<usize, BTreeMap<String, String>>,
    /// Progress lines seen per child, and the last round printed.
    reports: BTreeMap<usize, u64>,
    printed: u64,
}

impl Progress {
    /// Records child `j`'s line; true when every running child has reported a new round.
    fn report(&mut self, j: usize, kv: BTreeMap<String, String>, running: &[bool]) -> bool {
        self.latest.insert(j, kv);
        *self.reports.entry(j).or_default() += 1;
        let round = (0..running.len())
            .filter(|i| running[*i])
            .map(|i| self.reports.get(&i).copied().unwrap_or(0))
            .min()
            .unwrap_or(0);
        if round > self.printed {
            self.printed = round;
            true
        } else {
            false
        }
    }

    /// One line for the whole run: sums of counts and rates, the largest elapsed time and p95.
    fn line(&self) -> String {
        let mut sums: BTreeMap<&str, f64> = BTreeMap::new();
        let mut elapsed = String::new();
        let mut slowest: Option<(f64, String)> = None;
        for kv in self.latest.values() {
            for key in ["active", "flows", "rate", "errors", "dropped"] {
                let x = kv
                    .get(key)
                    .and_then(|v| v.trim_end_matches("/s").parse::<f64>().ok())
                    .unwrap_or(0.0);
                *sums.entry(key).or_default() += x;
            }
            if let Some(e) = kv.get("elapsed") {
                if e.len() >= elapsed.len() && *e > elapsed {
                    elapsed = e.clone();
                }
            }
            if let (Some(step), Some(p)) = (kv.get("slowest"), kv.get("p95_ms")) {
                if let Ok(p) = p.parse::<f64>() {
                    if slowest.as_ref().is_none_or(|(q, _)| p > *q) {
                        slowest = Some((p, step.clone()));
                    }
                }
            }
        }
        let mut line = format!(
            "progress elapsed={elapsed} processes={} active={} flows={} rate={:.1}/s errors={} dropped={}",
            self.latest.len(),
            sums["active"],
            sums["flows"],
            sums["rate"],
            sums["errors"],
            sums["dropped"]
        );
        if let Some((p, step)) = slowest {
            line.push_str(&format!(" slowest={step} p95_ms={p:.2}"));
        }
        line
    }
}

/// Parses `progress k=v k=v ...`.
fn parse_progress(line: &str) -> Option<BTreeMap<String, String>> {
    let rest = line.strip_prefix("progress ")?;
    Some(
        rest.split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

/// Whether a child's stderr line is shown as it is (progress lines are combined instead, and the
/// children's start banner is the parent's to print).
fn passthrough(line: &str) -> bool {
    parse_progress(line).is_none()
        && !line.starts_with("running ")
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

/// Runs `n` children of this generator's share and merges their results.
pub async fn run(
    args: Vec<OsString>,
    parent: Shard,
    n: u32,
    workers: Option<usize>,
    quiet: bool,
    io: &Io,
) -> Result<Summary, Exit> {
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
    let (lines_tx, mut lines_rx) = tokio::sync::mpsc::unbounded_channel::<(usize, String)>();
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
                    if tx.send((index, line)).is_err() {
                        break;
                    }
                }
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
    let mut progress = Progress::default();
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
                Some((j, line)) => {
                    if let Some(kv) = parse_progress(&line) {
                        // One combined line per round, once every running process has reported.
                        let running: Vec<bool> = codes.iter().map(Option::is_none).collect();
                        if progress.report(j, kv, &running) && !quiet {
                            io.eprint(&format!("{}\n", progress.line()));
                        }
                    } else if passthrough(&line) {
                        io.eprint(&format!("[process {}] {line}\n", j + 1));
                    }
                }
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
    // What the children printed last (their errors): their stderr ends as they exit.
    while let Some((j, line)) = lines_rx.recv().await {
        if passthrough(&line) {
            io.eprint(&format!("[process {}] {line}\n", j + 1));
        }
    }
    if let Some(code) = codes
        .iter()
        .flatten()
        .find(|c| **c == Some(Exit::Usage.code()))
    {
        return Err(Exit::from_code(code.unwrap_or(2)));
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
    Ok(merged)
}

/// Checks the children's results as `merge` checks files, and that together they are exactly
/// the parent's share (the other generators' shards are absent by design), then adds them up.
fn merge_parts(parts: &[Summary], parent: Shard, n: u32) -> Result<Summary, String> {
    use crate::metrics::merge::check;
    let labels: Vec<String> = (1..=parts.len()).map(|j| format!("process {j}")).collect();
    let inputs: Vec<check::Input<'_>> = parts
        .iter()
        .zip(&labels)
        .map(|(summary, label)| check::Input {
            label,
            summary,
            bytes: None,
        })
        .collect();
    let coverage = check::check(&inputs).map_err(|e| e.to_string())?;
    let expected: Vec<Shard> = (0..n).map(|j| sub_shard(parent, j, n)).collect();
    let covered = |s: &Shard| !coverage.missing.contains(s);
    let all = (0..coverage.count).map(|index| Shard {
        index,
        count: coverage.count,
    });
    if parent.count.checked_mul(n) != Some(coverage.count)
        || !all.filter(covered).eq(expected.iter().copied())
    {
        return Err("the processes' results are not exactly this generator's share".into());
    }
    crate::metrics::merge::merge(parts)
}

fn read_part(path: &Path) -> Result<Summary, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    serde_json::from_str(&text).map_err(|e| e.to_string())
}

/// A mock's command line for its children: as given, without the subcommand and `--processes`.
pub fn mock_args(args: &[OsString]) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut it = args.iter().skip_while(|a| *a != "mock").skip(1);
    while let Some(a) = it.next() {
        let text = a.to_string_lossy();
        if text == "--processes" {
            it.next();
        } else if !text.starts_with("--processes=") {
            out.push(a.clone());
        }
    }
    out
}

/// `mock --processes N`: N mock processes sharing one listening address (SO_REUSEPORT: the
/// kernel spreads connections over them) and one JWT secret (so a token minted by one verifies
/// at another). Returns when they have all ended, after forwarding the stop signal.
pub async fn mock(args: Vec<OsString>, n: u32, secret: &str, io: &Io) -> Exit {
    let exe = &io.program;
    let mut children = Vec::new();
    let mut ready = Vec::new();
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
                tokio::spawn(async move {
                    let Some(err) = err else { return };
                    let mut tx = Some(tx);
                    let mut lines = BufReader::new(err).lines();
                    while let Ok(Some(line)) = lines.next_line().await {
                        if line.starts_with("mock target listening") {
                            if let Some(tx) = tx.take() {
                                let _ = tx.send(line);
                            }
                        } else if let Ok(mut w) = out.lock() {
                            let _ = writeln!(w, "[mock process {index}] {line}");
                        }
                    }
                });
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
    worst
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_shards_cover_the_parent_share_exactly_once() {
        let users = 1000u32;
        for parent in [Shard::default(), Shard { index: 1, count: 3 }] {
            let mut seen = vec![0u8; users as usize];
            for j in 0..4 {
                let s = sub_shard(parent, j, 4);
                for u in crate::runner::pacing::worker_users(0, 1, s, users) {
                    seen[u as usize] += 1;
                }
            }
            for (u, count) in seen.iter().enumerate() {
                let mine = u as u32 % parent.count == parent.index;
                assert_eq!(*count, u8::from(mine), "user {u} of parent {parent}");
            }
        }
    }

    #[test]
    fn progress_lines_combine() {
        let mut p = Progress::default();
        let running = [true, true];
        let first = parse_progress("progress elapsed=10s/30s active=100 flows=500 rate=50.0/s errors=1 dropped=0 slowest=chat p95_ms=3.20").unwrap();
        assert!(!p.report(0, first, &running), "wait for the other process");
        let second = parse_progress("progress elapsed=10s/30s active=98 flows=480 rate=48.5/s errors=2 dropped=1 slowest=connect p95_ms=4.50").unwrap();
        assert!(p.report(1, second, &running), "both reported: print");
        assert_eq!(
            p.line(),
            "progress elapsed=10s/30s processes=2 active=198 flows=980 rate=98.5/s errors=3 dropped=1 slowest=connect p95_ms=4.50"
        );
    }

    #[test]
    fn durations_round_trip_through_the_parser() {
        for d in [
            Duration::from_millis(1500),
            Duration::from_nanos(1),
            Duration::from_secs(3600),
        ] {
            assert_eq!(crate::duration::parse_duration(&dur(d)), Ok(d));
        }
    }
}
