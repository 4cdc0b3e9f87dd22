//! WebSocket servers that misbehave on purpose, against the real binary: each does a real
//! RFC 6455 upgrade by hand (or breaks it), then misbehaves; each test asserts the exact
//! classification (kind, phase, cause), no panic, a non-zero exit, and an end within the
//! deadline plus 1 s; the floods also bound peak memory.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::raw::{read_request, run_target, spawn_binary, Ran, RawServer};
use crate::raw_ws::*;
use crate::util::*;

/// The scenario's connect step, then `rest` (more steps).
fn scenario_text(connect_extra: &str, rest: &str) -> String {
    format!(
        r#"
name = "hostile"
[[steps]]
name = "connect"
ws.connect = "{{{{ws_url}}}}/ws"
ws.timeout = "2s"
{connect_extra}
{rest}
"#
    )
}

/// An exchange that sends a short message and waits for an event that never comes: 2 s for
/// the first event, 4 s in all.
const CHAT: &str = r#"
[[steps]]
name = "chat"
ws.send = { type = "hi" }
ws.expect = "agent_completed"
ws.first_event_within = "2s"
ws.within = "4s"
"#;

/// `probe` of `text` against `server`, with its JSON results.
fn probe(server: &RawServer, text: &str) -> (Ran, Value) {
    let dir = tempdir();
    let path = scenario(dir.path(), "s.toml", text);
    let (ran, out) = run_target("probe", &path, &server.url(), &[]);
    let v = std::fs::read_to_string(&out)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    (ran, v)
}

/// `probe` of `text` against `server`, asserted to fail as `assert_failed` says; the run and
/// the cause.
fn probe_failing(
    server: &RawServer,
    text: &str,
    step_kind_phase: (&str, &str, &str),
    cause: &str,
    within: Duration,
) -> (Ran, String) {
    let (ran, v) = probe(server, text);
    let cause = assert_failed(&ran, &v, server, step_kind_phase, cause, within);
    (ran, cause)
}

/// The run failed (exit 1, no panic) within `within`, its first error being `step` failing with
/// `kind` in `phase`, with a cause that names the server and contains `cause`. Returns the cause.
fn assert_failed(
    ran: &Ran,
    v: &Value,
    server: &RawServer,
    (step, kind, phase): (&str, &str, &str),
    cause: &str,
    within: Duration,
) -> String {
    let all = format!("{}\n{}", ran.stdout, ran.stderr);
    eprintln!(
        "{step} [{kind} {phase}]: exit {:?} after {:?}, peak RSS {} MiB",
        ran.code,
        ran.took,
        ran.peak_rss_kib / 1024
    );
    assert_eq!(ran.code, Some(1), "{all}");
    assert!(!all.contains("panicked"), "{all}");
    assert!(
        ran.took <= within,
        "took {:?} (at most {within:?})",
        ran.took
    );
    let e = &v["errors"][0];
    assert_eq!(
        (e["step"].as_str(), e["kind"].as_str(), e["phase"].as_str()),
        (Some(step), Some(kind), Some(phase)),
        "{all}"
    );
    let got = e["causes"][0]["cause"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let origin = format!("ws://127.0.0.1:{}", server.port);
    assert!(got.starts_with(&origin), "{got} names {origin}");
    assert!(got.contains(cause), "{got} contains {cause}");
    // `[kind phase]` in the probe's output, `[kind, phase]` in the run's summary.
    assert!(
        ran.stdout.contains(&format!("[{kind} {phase}]"))
            || ran.stdout.contains(&format!("[{kind}, {phase}]")),
        "{}",
        ran.stdout
    );
    got
}

fn secs(n: f64) -> Duration {
    Duration::from_secs_f64(n)
}

#[test]
fn a_server_that_stops_reading_during_the_send_fails_it_with_a_send_timeout() {
    // The server upgrades, then neither reads nor sends; its small receive buffer and ours
    // (4 MiB at most) cannot hold the 8 MiB message.
    let gate = Gate::default();
    let g = gate.clone();
    let server = RawServer::start(move |mut s| {
        small_receive_buffer(&s, 64 << 10);
        if upgrade(&mut s).is_some() {
            g.wait();
        }
    });
    let big = "x".repeat(256 << 10);
    let send = "{{big}}".repeat(32);
    let text = scenario_text(
        r#"ws.max_message = "16MiB""#,
        &format!(
            r#"
[vars]
big = "{big}"
[[steps]]
name = "chat"
ws.send = "{send}"
ws.expect = "agent_completed"
ws.within = "2s"
"#
        ),
    );
    probe_failing(
        &server,
        &text,
        ("chat", "timeout", "send"),
        "the step's message (8388608 bytes) was not taken within 2s (ws.within): the server is \
         not reading",
        secs(3.0),
    );
    gate.open();
}

#[test]
fn a_server_that_stops_reading_during_the_close_fails_it_with_a_close_timeout() {
    let gate = Gate::default();
    let g = gate.clone();
    let server = RawServer::start(move |mut s| {
        if upgrade(&mut s).is_some() {
            g.wait();
        }
    });
    let text = scenario_text(
        "",
        r#"
[[steps]]
name = "close"
ws.close = true
ws.timeout = "1s"
"#,
    );
    probe_failing(
        &server,
        &text,
        ("close", "timeout", "close"),
        "the closing handshake did not end within 1s (ws.timeout): no close frame came back",
        secs(2.0),
    );
    gate.open();
}

/// Floods pings until the client goes away; when `read` is set, reads what the client sends
/// (and answers its close frame), else never reads a byte.
fn ping_flood(mut s: TcpStream, read: bool) {
    if upgrade(&mut s).is_none() {
        return;
    }
    let done = Arc::new(AtomicBool::new(false));
    let writer = Arc::new(Mutex::new(s.try_clone().expect("clone the socket")));
    if read {
        let (done, writer) = (done.clone(), writer.clone());
        let mut r = s.try_clone().expect("clone the socket");
        std::thread::spawn(move || {
            while let Some((opcode, _)) = read_client_frame(&mut r) {
                if opcode == 0x8 {
                    if let Ok(mut w) = writer.lock() {
                        let _ = w.write_all(&close_frame(1000, ""));
                    }
                    break;
                }
            }
            done.store(true, Ordering::Relaxed);
        });
    }
    let pings: Vec<u8> = (0..64).flat_map(|_| frame(0x9, &[b'p'; 125])).collect();
    while !done.load(Ordering::Relaxed) {
        let Ok(mut w) = writer.lock() else { return };
        if w.write_all(&pings).is_err() {
            return;
        }
    }
}

#[test]
fn a_ping_flood_the_server_never_reads_is_too_large_and_memory_stays_bounded() {
    let server = RawServer::start(|s| ping_flood(s, false));
    let dir = tempdir();
    let chat = CHAT
        .replace("\"2s\"", "\"10s\"")
        .replace("\"4s\"", "\"10s\"");
    let path = scenario(dir.path(), "s.toml", &scenario_text("", &chat));
    let args = ["--users", "2", "--duration", "3s", "--quiet"];
    let (ran, out) = run_target("run", &path, &server.url(), &args);
    let v = read_json(&out);
    let rss_mib = ran.peak_rss_kib / 1024;
    eprintln!(
        "ping flood never read: peak RSS {rss_mib} MiB, took {:?}",
        ran.took
    );
    assert!(rss_mib <= 64, "peak RSS {rss_mib} MiB");
    assert_failed(
        &ran,
        &v,
        &server,
        ("chat", "too_large", "send"),
        "the server is not reading: pongs to its pings fill our write buffer",
        secs(3.0 + 2.0 + 1.0),
    );
    assert_eq!(v["flows"]["passed"], 0);
}

#[test]
fn a_ping_flood_the_server_reads_does_not_delay_the_first_event_deadline() {
    let server = RawServer::start(|s| ping_flood(s, true));
    let (ran, cause) = probe_failing(
        &server,
        &scenario_text("", CHAT),
        ("chat", "first_event_timeout", "events"),
        "no event in 2",
        secs(2.0 + 1.0),
    );
    // `no event in 2.003s`: how long the step waited, measured by the tool.
    let waited: f64 = cause
        .rsplit("no event in ")
        .next()
        .and_then(|t| t.strip_suffix('s'))
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("a duration in {cause}"));
    eprintln!(
        "ping flood read: first-event deadline of 2 s fired after {waited} s; peak RSS {} MiB; \
         probe took {:?}",
        ran.peak_rss_kib / 1024,
        ran.took
    );
    assert!(
        (2.0..=2.1).contains(&waited),
        "the 2 s deadline fired after {waited} s"
    );
    assert!(
        ran.peak_rss_kib / 1024 <= 64,
        "peak RSS {} KiB",
        ran.peak_rss_kib
    );
}

#[test]
fn a_100_mb_frame_is_too_large_and_never_allocated() {
    let server = RawServer::start(|mut s| {
        if upgrade(&mut s).is_none() {
            return;
        }
        let mut head = vec![0x82, 127];
        head.extend_from_slice(&(100u64 << 20).to_be_bytes());
        if s.write_all(&head).is_err() {
            return;
        }
        // Then as much of the payload as the client takes.
        let zeros = vec![0u8; 64 << 10];
        for _ in 0..1600 {
            if s.write_all(&zeros).is_err() {
                return;
            }
        }
    });
    let (ran, _) = probe_failing(
        &server,
        &scenario_text("", CHAT),
        ("chat", "too_large", "frame"),
        "a message or frame of 104857600 bytes, over the limit of 1 MiB (ws.max_message)",
        secs(1.0),
    );
    eprintln!("100 MB frame: peak RSS {} MiB", ran.peak_rss_kib / 1024);
    assert!(
        ran.peak_rss_kib / 1024 <= 64,
        "peak RSS {} KiB",
        ran.peak_rss_kib
    );
}

/// A server that upgrades, then writes `bytes` and waits for the client to go.
fn after_upgrade(bytes: Vec<u8>) -> RawServer {
    RawServer::start(move |mut s| {
        if upgrade(&mut s).is_some() && s.write_all(&bytes).is_ok() {
            let mut sink = [0u8; 1024];
            while s.read(&mut sink).is_ok_and(|n| n > 0) {}
        }
    })
}

#[test]
fn invalid_utf8_in_a_text_frame_is_a_frame_we_rejected() {
    let server = after_upgrade(frame(0x1, b"{\"type\":\"agent_\xff\xfe\"}"));
    probe_failing(
        &server,
        &scenario_text("", CHAT),
        ("chat", "ws_protocol", "frame"),
        "frame rejected: invalid UTF-8 in a text frame",
        secs(1.0),
    );
}

#[test]
fn a_bad_close_code_is_a_frame_we_rejected_not_a_server_close() {
    for code in [1005, 999] {
        let server = after_upgrade(close_frame(code, "bye"));
        let (ran, _) = probe_failing(
            &server,
            &scenario_text("", CHAT),
            ("chat", "ws_protocol", "frame"),
            &format!("the server's close frame has code {code}, which may not be sent"),
            secs(1.0),
        );
        assert!(!ran.stdout.contains("1002"), "{}", ran.stdout);
    }
}

#[test]
fn a_real_close_stays_a_server_close_with_its_code_and_reason() {
    let server = after_upgrade(close_frame(1011, "overloaded"));
    let (ran, _) = probe_failing(
        &server,
        &scenario_text("", CHAT),
        ("chat", "ws_closed", "frame"),
        "the server closed the WebSocket with code 1011 (overloaded) before any expected event",
        secs(1.0),
    );
    assert!(ran.stdout.contains("WebSocket closed with code 1011"));
}

/// A server that answers the upgrade request with `response` (`{accept}` is replaced by the
/// right accept key).
fn upgrade_answer(response: String) -> RawServer {
    RawServer::start(move |mut s| {
        if let Some(key) = read_upgrade(&mut s) {
            let text = response.replace("{accept}", &accept_key(&key));
            let _ = s.write_all(text.as_bytes());
            let mut sink = [0u8; 1024];
            while s.read(&mut sink).is_ok_and(|n| n > 0) {}
        }
    })
}

#[test]
fn a_wrong_accept_key_is_a_bad_handshake() {
    let server = upgrade_answer(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
            .into(),
    );
    probe_failing(
        &server,
        &scenario_text("", CHAT),
        ("connect", "ws_handshake", "upgrade"),
        "wrong Sec-WebSocket-Accept",
        secs(1.0),
    );
}

#[test]
fn a_200_instead_of_101_is_a_refused_upgrade_with_the_start_of_the_body() {
    let body = "<html>welcome to the landing page</html>";
    let server = upgrade_answer(format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    ));
    probe_failing(
        &server,
        &scenario_text("", CHAT),
        ("connect", "ws_rejected", "upgrade"),
        "HTTP 200 instead of 101 Switching Protocols: <html>welcome to the landing page</html>",
        secs(1.0),
    );
}

#[test]
fn too_many_headers_in_the_upgrade_response_are_too_large() {
    let headers: String = (0..200).map(|i| format!("x-h{i}: {i}\r\n")).collect();
    let server = upgrade_answer(format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {{accept}}\r\n{headers}\r\n"
    ));
    probe_failing(
        &server,
        &scenario_text("", CHAT),
        ("connect", "too_large", "upgrade"),
        "invalid upgrade response: too many headers",
        secs(1.0),
    );
}

#[test]
fn tcp_accept_then_silence_is_an_upgrade_timeout() {
    let gate = Gate::default();
    let g = gate.clone();
    let server = RawServer::start(move |mut s| {
        if read_request(&mut s).is_some() {
            g.wait();
        }
    });
    probe_failing(
        &server,
        &scenario_text("", CHAT),
        ("connect", "timeout", "upgrade"),
        "no complete upgrade response came within 2s",
        secs(3.0),
    );
    gate.open();
}

#[test]
fn sigterm_ends_a_waiting_probe_within_a_second_as_interrupted() {
    let gate = Gate::default();
    let g = gate.clone();
    let (seen_tx, seen) = mpsc::channel();
    let seen_tx = Mutex::new(seen_tx);
    let server = RawServer::start(move |mut s| {
        if upgrade(&mut s).is_some() {
            // The chat's message has arrived: the probe now waits for events.
            if read_client_frame(&mut s).is_some() {
                let _ = seen_tx.lock().map(|t| t.send(()));
            }
            g.wait();
        }
    });
    let dir = tempdir();
    let chat = CHAT
        .replace("\"2s\"", "\"60s\"")
        .replace("\"4s\"", "\"60s\"");
    let text = scenario_text("", &chat);
    let path = scenario(dir.path(), "s.toml", &text);
    let running = spawn_binary(
        &["probe", path.to_str().unwrap(), "--target", &server.url()],
        &[],
    );
    seen.recv_timeout(Duration::from_secs(10))
        .expect("the probe sent its message");
    let signalled = std::time::Instant::now();
    running.signal(libc::SIGTERM);
    let ran = running.wait();
    let after = signalled.elapsed();
    eprintln!("SIGTERM to exit: {after:?}");
    assert!(
        after <= Duration::from_secs(1),
        "ended {after:?} after SIGTERM"
    );
    assert!(ran.stdout.contains("INTERRUPTED"), "{}", ran.stdout);
    assert!(ran.stdout.contains("STOP  chat"), "{}", ran.stdout);
    assert_ne!(ran.code, Some(0), "{}", ran.stdout);
    gate.open();
}

/// Upgrades, waits for the client's message, then sends these events as text frames.
fn events_after_the_message(events: Vec<&'static str>) -> RawServer {
    RawServer::start(move |mut s| {
        if upgrade(&mut s).is_none() || read_client_frame(&mut s).is_none() {
            return;
        }
        let bytes: Vec<u8> = events
            .iter()
            .flat_map(|e| frame(0x1, format!("{{\"type\":\"{e}\"}}").as_bytes()))
            .collect();
        if s.write_all(&bytes).is_ok() {
            let mut sink = [0u8; 1024];
            while s.read(&mut sink).is_ok_and(|n| n > 0) {}
        }
    })
}

#[test]
fn an_endless_event_stream_is_diagnosed_from_a_bounded_list() {
    let exchange = r#"
[[steps]]
name = "chat"
ws.send = { type = "hi" }
ws.expect = "a b+ c"
ws.within = "5s"
"#;
    // Diverging after the 1,000 events kept: the DFA's own view, at once.
    let mut events = vec!["a"];
    events.extend(std::iter::repeat_n("b", 1200));
    events.extend(["a", "c"]);
    let server = events_after_the_message(events);
    let (ran, _) = probe_failing(
        &server,
        &scenario_text("", exchange),
        ("chat", "unexpected_event", "events"),
        "after more than 1000 expected events",
        secs(2.0),
    );
    assert!(
        ran.stdout.contains("unexpected event: a after b"),
        "{}",
        ran.stdout
    );

    // Diverged early, then no end: diagnosed once 1,000 events are kept, not at the deadline.
    let mut events = vec!["a", "a"];
    events.extend(std::iter::repeat_n("b", 3000));
    let server = events_after_the_message(events);
    let (ran, v) = probe(&server, &scenario_text("", exchange));
    let all = format!("{}{}", ran.stdout, ran.stderr);
    assert_eq!(ran.code, Some(1), "{all}");
    assert_eq!(v["errors"][0]["kind"], "unexpected_event", "{all}");
    assert!(ran.took < secs(2.0), "took {:?}", ran.took);
}
