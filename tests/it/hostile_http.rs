//! Hostile HTTP servers (raw sockets, written here): an overflowing chunk size, an endless chunked
//! body, 10,000 headers, accept-then-silence. Each asserts the exact classification (kind, phase,
//! a cause naming the address), no panic, and an end within the step's deadline plus 1 s; the
//! endless body also bounds the peak memory of 50 users, and no run with a failed user exits 0.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::raw::{login_scenario, read_request, run_target, Ran, RawServer};
use crate::util::*;
use load_tester::exit::Exit;
use load_tester::metrics::summary::{ErrorCount, Summary};

/// The step deadline of these scenarios.
const TIMEOUT: Duration = Duration::from_secs(2);

/// A one-step scenario: the login, with a 2 s deadline.
fn login_only(dir: &Path) -> PathBuf {
    login_scenario(
        dir,
        "login-only",
        "a-{{vu}}@example.test",
        r#"http.timeout = "2s""#,
    )
}

/// Runs the binary as `CMD login.toml --target SERVER ARGS...`: what it did and its results,
/// after checking it failed (exit 1).
fn run_failing(cmd: &str, server: &RawServer, args: &[&str]) -> (Ran, Summary) {
    let dir = tempdir();
    let (ran, out) = run_target(cmd, &login_only(dir.path()), &server.url(), args);
    assert_eq!(ran.code, Some(1), "{}{}", ran.stdout, ran.stderr);
    (ran, read_results(&out))
}

/// Holds a connection open until the client closes it (a read that ends at its EOF).
fn hold(s: &mut TcpStream) {
    let mut buf = [0u8; 1024];
    while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
}

/// The only error of a run: (kind, phase) and its single cause.
fn only_error(r: &Summary) -> (&ErrorCount, String) {
    assert_eq!(r.errors.len(), 1, "one error kind: {:#?}", r.errors);
    let e = &r.errors[0];
    assert_eq!(e.causes.len(), 1, "one cause: {:#?}", e.causes);
    (e, e.causes[0].cause.clone())
}

/// The run's only error is `(kind, phase)` with the single cause `cause`.
fn assert_only_error(r: &Summary, kind_phase: (&str, &str), cause: &str) {
    let (e, got) = only_error(r);
    assert_eq!((e.kind.as_str(), e.phase.as_str()), kind_phase);
    assert_eq!(got, cause);
}

/// Probes `server` in-process with the login scenario; the results and how long it took.
async fn probe(server: &RawServer) -> (Exit, Summary, Duration, String) {
    let dir = tempdir();
    let path = login_only(dir.path());
    let out = dir.path().join("r.json");
    let started = Instant::now();
    let o = run_cli(
        &[
            "probe",
            path.to_str().unwrap(),
            "--target",
            &server.url(),
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    (o.exit, read_results(&out), started.elapsed(), o.stdout)
}

/// A login answer (the body the scenario extracts from).
const LOGIN_OK: &[u8] =
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 20\r\n\r\n{\"access_token\":\"t\"}";

fn overflow(s: &mut TcpStream) {
    if read_request(s).is_some() {
        overflow_answer(s);
    }
}

/// A chunked login answer whose first chunk size overflows; the connection is held open.
fn overflow_answer(s: &mut TcpStream) {
    let _ = s.write_all(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n\
          ffffffffffffffff\r\n{\"access_token\":",
    );
    hold(s);
}

#[test]
fn an_overflowing_chunk_size_fails_the_probe_as_http_protocol() {
    let server = RawServer::start(|mut s| overflow(&mut s));
    let (ran, r) = run_failing("probe", &server, &[]);
    assert!(!ran.stderr.contains("panicked"), "{}", ran.stderr);
    assert!(
        ran.took < TIMEOUT + Duration::from_secs(1),
        "took {:?}",
        ran.took
    );
    assert_eq!((r.flows.failed, r.flows.interrupted), (1, 0));
    assert_only_error(
        &r,
        ("http_protocol", "response"),
        &format!(
            "{}: chunk size ffffffffffffffff overflows (the largest is 7fffffffffffffff)",
            server.url()
        ),
    );
    assert!(ran.stdout.contains("FAIL  login"), "{}", ran.stdout);
    assert!(
        ran.stdout.contains("[http_protocol, response]"),
        "{}",
        ran.stdout
    );
}

#[test]
fn a_run_where_half_the_logins_overflow_fails_with_them_counted() {
    // Logins alternate: one answered, the next overflowing (counted by request, not by
    // connection, so the preflight's connection does not shift them).
    let count = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let c = count.clone();
    let server = RawServer::start(move |mut s| {
        if read_request(&mut s).is_none() {
            return;
        }
        let n = c.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if n.is_multiple_of(2) {
            let _ = s.write_all(LOGIN_OK);
            hold(&mut s);
        } else {
            overflow_answer(&mut s);
        }
    });
    let (ran, r) = run_failing(
        "run",
        &server,
        &[
            "--users",
            "4",
            "--spawn-rate",
            "1000",
            "--iterations",
            "1",
            "--quiet",
        ],
    );
    assert!(!ran.stderr.contains("panicked"), "{}", ran.stderr);
    assert_eq!(
        (r.flows.passed, r.flows.failed, r.flows.interrupted),
        (2, 2, 0)
    );
    let (e, cause) = only_error(&r);
    assert_eq!(
        (e.kind.as_str(), e.phase.as_str(), e.count),
        ("http_protocol", "response", 2)
    );
    assert!(cause.starts_with(&server.url()), "{cause}");
}

/// Answers the login with a chunked body that never ends (16 KiB chunks until the client leaves).
fn endless(s: &mut TcpStream) {
    if read_request(s).is_none() {
        return;
    }
    let chunk = {
        let mut c = b"4000\r\n".to_vec();
        c.resize(c.len() + 0x4000, b'x');
        c.extend_from_slice(b"\r\n");
        c
    };
    if s.write_all(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
    )
    .is_err()
    {
        return;
    }
    while s.write_all(&chunk).is_ok() {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_chunked_body_is_too_large() {
    let server = RawServer::start(|mut s| endless(&mut s));
    let (exit, r, took, stdout) = probe(&server).await;
    assert_eq!(exit, Exit::Failed, "{stdout}");
    assert!(took < TIMEOUT + Duration::from_secs(1), "took {took:?}");
    assert_only_error(
        &r,
        ("too_large", "response"),
        &format!(
            "{}: the response body is over 1 MiB (raise http.max_body in the step, e.g. \
             http.max_body = \"16MiB\")",
            server.url()
        ),
    );
}

/// 50 users log in against endless bodies, three times each: the run's peak resident memory
/// (the kernel's count for the child process, read by `wait4`) stays within 80 MiB. The bound:
/// at most 50 × (1 MiB body + 64 KiB head) = 53 MiB of buffers if every user is at its limit at
/// once (which a loaded machine makes likely), ~12 MiB for the process itself, and the
/// allocator's slack; without the limits the endless bodies would take all memory.
#[test]
fn fifty_users_against_endless_login_bodies_stay_within_80_mib() {
    let server = RawServer::start(|mut s| endless(&mut s));
    let (ran, r) = run_failing(
        "run",
        &server,
        &[
            "--users",
            "50",
            "--spawn-rate",
            "1000",
            "--iterations",
            "3",
            "--backoff",
            "10ms",
            "--quiet",
        ],
    );
    eprintln!(
        "50 users x endless login body: peak RSS {} KiB, {:?}",
        ran.peak_rss_kib, ran.took
    );
    assert_eq!(
        (r.flows.passed, r.flows.failed, r.flows.interrupted),
        (0, 150, 0)
    );
    let (e, _) = only_error(&r);
    assert_eq!((e.kind.as_str(), e.count), ("too_large", 150));
    assert!(
        ran.peak_rss_kib <= 80 * 1024,
        "peak RSS {} KiB over 80 MiB",
        ran.peak_rss_kib
    );
    assert!(ran.took < Duration::from_secs(30), "took {:?}", ran.took);
}

/// Answers with 10,000 header lines of `line` (then a body), holding the connection.
fn many_headers(s: &mut TcpStream, line: &'static [u8]) {
    if read_request(s).is_none() {
        return;
    }
    let mut resp = b"HTTP/1.1 200 OK\r\n".to_vec();
    for _ in 0..10_000 {
        resp.extend_from_slice(line);
    }
    resp.extend_from_slice(b"content-length: 2\r\n\r\n{}");
    if s.write_all(&resp).is_ok() {
        hold(s);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_headers_are_too_large_by_count_or_size() {
    let server = RawServer::start(|mut s| many_headers(&mut s, b"h:1\r\n"));
    let (exit, r, took, _) = probe(&server).await;
    assert_eq!(exit, Exit::Failed);
    assert!(took < TIMEOUT + Duration::from_secs(1), "took {took:?}");
    assert_only_error(
        &r,
        ("too_large", "response"),
        &format!(
            "{}: more than 100 header lines (raise http.max_headers in the step)",
            server.url()
        ),
    );

    let server = RawServer::start(|mut s| many_headers(&mut s, b"x-filler-header: 0123456789\r\n"));
    let (exit, r, _, _) = probe(&server).await;
    assert_eq!(exit, Exit::Failed);
    assert_only_error(
        &r,
        ("too_large", "response"),
        &format!(
            "{}: the response head is over 64 KiB (raise http.max_header_size in the step)",
            server.url()
        ),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_then_silence_times_out_waiting_for_the_status_line() {
    let server = RawServer::start(|mut s| hold(&mut s));
    let (exit, r, took, _) = probe(&server).await;
    assert_eq!(exit, Exit::Failed);
    assert!(took >= TIMEOUT, "took {took:?}");
    assert!(took < TIMEOUT + Duration::from_secs(1), "took {took:?}");
    assert_only_error(
        &r,
        ("timeout", "response"),
        &format!(
            "{}: no response within 2s (waiting for the status line)",
            server.url()
        ),
    );
}
