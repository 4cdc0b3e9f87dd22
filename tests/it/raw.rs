//! Servers we did not write with the tool: raw sockets that misbehave on purpose, and a way to
//! run the real binary and read its exit, output, peak memory and time.
//!
//! A `RawServer` binds 127.0.0.1:0 before it returns (no readiness race) and runs `handler` on a
//! thread per accepted connection, with a plain blocking `TcpStream`: the test writes exactly
//! the bytes it wants, in the order it wants, or stops reading. The accept loop ends when the
//! server is dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct RawServer {
    pub port: u16,
    /// Connections accepted so far.
    pub accepted: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl RawServer {
    /// Serves every connection with `handler` on its own thread.
    pub fn start<F>(handler: F) -> RawServer
    where
        F: Fn(TcpStream) + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicU64::new(0));
        let handler = Arc::new(handler);
        let (s, a) = (stop.clone(), accepted.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                // Drop connects once to wake this loop up after setting the flag.
                if s.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                a.fetch_add(1, Ordering::Relaxed);
                let h = handler.clone();
                std::thread::spawn(move || h(stream));
            }
        });
        RawServer {
            port,
            accepted,
            stop,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Reads one HTTP request head (up to the blank line) and its content-length body; `None` when
/// the peer closed first.
pub fn read_request(s: &mut impl Read) -> Option<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        got.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&got[..head_end]).into_owned();
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    while got.len() < head_end + len {
        let n = s.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        got.extend_from_slice(&buf[..n]);
    }
    Some(head)
}

/// Answers a login request with a token, as the golden path's login step expects.
pub fn login_ok(s: &mut (impl Read + Write)) -> Option<()> {
    read_request(s)?;
    let body = r#"{"access_token":"t0k3n","token_type":"Bearer"}"#;
    let resp = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(resp.as_bytes()).ok()
}

/// A scenario's login step: POST `{{auth_url}}/auth/login` as `email` (password `pw`), the token
/// extracted, then `extra` (more lines of the step, or more steps).
pub fn login_step(email: &str, extra: &str) -> String {
    format!(
        r#"[[steps]]
name = "login"
http.method = "POST"
http.url = "{{{{auth_url}}}}/auth/login"
http.json = {{ email = "{email}", password = "pw" }}
http.extract = {{ token = "/access_token" }}
{extra}"#
    )
}

/// Writes `login.toml` into `dir`: the scenario `name` with only `login_step(email, extra)`.
pub fn login_scenario(dir: &Path, name: &str, email: &str, extra: &str) -> PathBuf {
    let text = format!("\nname = \"{name}\"\n{}", login_step(email, extra));
    crate::util::scenario(dir, "login.toml", &text)
}

/// Runs the binary as `CMD SCENARIO --target TARGET ARGS... --out r.json` (no env; the results
/// beside the scenario): what it did and the path of its results.
pub fn run_target(cmd: &str, scenario: &Path, target: &str, args: &[&str]) -> (Ran, PathBuf) {
    let out = scenario.with_file_name("r.json");
    let path = scenario.to_str().expect("a UTF-8 temporary path");
    let argv: Vec<&str> = [cmd, path, "--target", target]
        .into_iter()
        .chain(args.iter().copied())
        .chain(["--out", out.to_str().expect("a UTF-8 temporary path")])
        .collect();
    (run_binary(&argv, &[]), out)
}

/// What a run of the real binary did.
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Peak resident memory of the process since its exec (`VmHWM`), in KiB.
    pub peak_rss_kib: u64,
    pub took: Duration,
}

/// Runs the load-tester binary with `args` (and only the given env vars beside PATH), waits for
/// it to end (it must end by itself: every scenario in these tests has deadlines), and reads its
/// peak RSS (see `watch_peak`).
pub fn run_binary(args: &[&str], env: &[(&str, &str)]) -> Ran {
    spawn_binary(args, env).wait()
}

/// A running load-tester: signal it, then wait for it.
pub struct Running {
    pid: libc::pid_t,
    started: Instant,
    child: std::process::Child,
    out: std::thread::JoinHandle<String>,
    err: std::thread::JoinHandle<String>,
    peak: std::thread::JoinHandle<u64>,
}

/// Follows the child's peak resident memory until it exits: `VmHWM` of /proc/PID/status, the
/// high-water mark the kernel keeps for the memory the process has had since its exec, read every
/// 5 ms (it only grows, so the last read is the peak but for growth in the final 5 ms). Not
/// `ru_maxrss` from `wait4`: at exec, Linux carries the forking parent's peak into it, and this
/// test process, with in-process mocks running beside, reaches hundreds of MiB.
fn watch_peak(pid: libc::pid_t) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let path = format!("/proc/{pid}/status");
        let mut peak = 0;
        // A zombie has no memory left and no VmHWM line: the child has exited. It is reaped only
        // after this thread ends, so the pid cannot be reused under it.
        while let Some(kib) = std::fs::read_to_string(&path).ok().and_then(|t| {
            let line = t.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        }) {
            peak = peak.max(kib);
            std::thread::sleep(Duration::from_millis(5));
        }
        peak
    })
}

/// Starts the load-tester binary as `run_binary` does, without waiting for it.
pub fn spawn_binary(args: &[&str], env: &[(&str, &str)]) -> Running {
    let started = Instant::now();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_load-tester"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start load-tester");
    let pid = child.id() as libc::pid_t;
    // Drain the pipes on threads so a chatty child never blocks on a full pipe.
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    Running {
        pid,
        started,
        child,
        out,
        err,
        peak: watch_peak(pid),
    }
}

impl Running {
    /// Sends `signal` (e.g. `libc::SIGTERM`) to the process.
    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) on our own child, which has not been waited for yet.
        let r = unsafe { libc::kill(self.pid, signal) };
        assert_eq!(r, 0, "kill {} {signal}", self.pid);
    }

    /// Waits for the process to end; `took` counts from its start.
    pub fn wait(self) -> Ran {
        use std::os::unix::process::ExitStatusExt;
        // Ends when the child has exited (before it is reaped below).
        let peak_rss_kib = self.peak.join().unwrap_or(0);
        let mut status = 0;
        // SAFETY: waits for the child we spawned (std's Child is not waited on afterwards).
        let r = unsafe { libc::waitpid(self.pid, &mut status, 0) };
        assert_eq!(r, self.pid, "waitpid on the child");
        let took = self.started.elapsed();
        let code = std::process::ExitStatus::from_raw(status).code();
        std::mem::forget(self.child);
        Ran {
            code,
            stdout: self.out.join().unwrap_or_default(),
            stderr: self.err.join().unwrap_or_default(),
            peak_rss_kib,
            took,
        }
    }
}

/// The helpers themselves: a raw server answers, and a run of the binary against it is read.
#[test]
fn a_raw_server_serves_and_the_binary_reports_its_peak_memory() {
    let server = RawServer::start(|mut s| {
        let _ = login_ok(&mut s);
    });
    let dir = crate::util::tempdir();
    let path = login_scenario(dir.path(), "login-only", "a@example.test", "");
    let ran = run_binary(
        &[
            "probe",
            path.to_str().unwrap(),
            "--target",
            &server.url(),
            "--auth-url",
            &server.url(),
        ],
        &[],
    );
    assert_eq!(ran.code, Some(0), "{}{}", ran.stdout, ran.stderr);
    assert!(ran.stdout.contains("PASS  login"), "{}", ran.stdout);
    assert!(ran.peak_rss_kib > 1000, "peak RSS {} KiB", ran.peak_rss_kib);
    assert!(ran.took < Duration::from_secs(10), "took {:?}", ran.took);
    assert_eq!(server.accepted.load(Ordering::Relaxed), 1);
}
