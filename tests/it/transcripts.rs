//! Failure transcripts: the frames of the first failing flows of each kind are in the results,
//! in order and typed, while a canary secret (the password, a bypass key header, echoed back by
//! a server) appears in no output at all.

use std::io::Write as _;
use std::path::Path;

use crate::raw::{read_request, run_binary, RawServer};
use crate::util::*;
use load_tester::metrics::transcript::{Direction, FrameType, Transcript};

const CANARY: &str = "CANARY-7f3a9c";

/// Logs in with the canary as password and as the bypass key header, then chats.
fn canary_scenario(dir: &Path) -> String {
    let text = r#"
name = "canary"
[load]
users = 1
[[setup]]
name = "login"
http.method = "POST"
http.url = "{{auth_url}}/auth/login"
http.headers = { "X-E2E-Bypass-Key" = "{{env.E2E_BYPASS_KEY}}" }
http.json = { email = "loadtest-{{vu}}@example.test", password = "{{env.LOADTEST_PASSWORD}}" }
http.status = 200
http.extract = { token = "/access_token" }
[[steps]]
name = "connect"
ws.connect = "{{ws_url}}/ws"
ws.subprotocols = ["jwt.{{token}}"]
[[steps]]
name = "chat"
ws.send = { type = "user_message", payload = { content = "hi" } }
ws.expect = "agent_started agent_thinking+ (tool_executing tool_completed)* agent_completed"
ws.ignore = ["connection_established", "heartbeat*", "pong"]
ws.fail_on = ["agent_error"]
ws.within = "5s"
[[steps]]
name = "close"
ws.close = true
"#;
    let path = scenario(dir, "canary.toml", text);
    path.to_str().expect("a UTF-8 temporary path").to_string()
}

const ENV: [(&str, &str); 2] = [("LOADTEST_PASSWORD", CANARY), ("E2E_BYPASS_KEY", CANARY)];

/// Every file under `dir` (recursively), with its bytes.
fn all_files(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).expect("read the output directory") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            all_files(&path, out);
        } else {
            let bytes = std::fs::read(&path).expect("read an output file");
            out.push((path.display().to_string(), bytes));
        }
    }
}

/// How often the canary appears in each output (streams and every file under `dir` but the
/// scenario), for the message; the test wants all zero.
fn canary_counts(stdout: &str, stderr: &str, dir: &Path) -> Vec<(String, usize)> {
    let count = |b: &[u8]| {
        b.windows(CANARY.len())
            .filter(|w| *w == CANARY.as_bytes())
            .count()
    };
    let mut files = Vec::new();
    all_files(dir, &mut files);
    let mut counts = vec![
        ("stdout".to_string(), count(stdout.as_bytes())),
        ("stderr".to_string(), count(stderr.as_bytes())),
    ];
    counts.extend(
        files
            .iter()
            .filter(|(name, _)| !name.ends_with(".toml"))
            .map(|(name, bytes)| (name.clone(), count(bytes))),
    );
    counts
}

fn shape(t: &Transcript) -> Vec<(Direction, FrameType, Option<u16>)> {
    t.frames.iter().map(|f| (f.dir, f.kind, f.status)).collect()
}

/// The must-show of issue 9: against a mock whose agents fail, every output of a run (stdout,
/// stderr, --out, --results-dir, --junit, --html, --hdr-log) holds the canary 0 times, while the
/// first two failing flows' transcripts show their frames, in order, with known bodies.
#[test]
fn a_canary_secret_is_in_no_output_while_transcripts_show_the_frames() {
    let dir = tempdir();
    let d = dir.path();
    let s = canary_scenario(d);
    let p = |name: &str| d.join(name).to_str().expect("UTF-8").to_string();
    let (out, rd, junit, html, hdr) = (
        p("r.json"),
        p("results"),
        p("j.xml"),
        p("h.html"),
        p("h.hdr"),
    );
    let args = [
        "run",
        &s,
        "--mock",
        "--fault",
        "agent-error",
        "--iterations",
        "3",
        "--backoff",
        "0s",
        "--transcripts",
        "2",
        "--out",
        &out,
        "--results-dir",
        &rd,
        "--junit",
        &junit,
        "--html",
        &html,
        "--hdr-log",
        &hdr,
    ];
    let ran = run_binary(&args, &ENV);
    assert_eq!(ran.code, Some(1), "{}\n{}", ran.stdout, ran.stderr);
    let counts = canary_counts(&ran.stdout, &ran.stderr, d);
    assert!(counts.len() >= 7, "every output written: {counts:?}");
    assert!(counts.iter().all(|(_, n)| *n == 0), "{counts:?}");

    let r = read_results(Path::new(&out));
    assert_eq!(r.flows.failed, 3);
    assert_eq!(r.transcripts_per_kind, 2);
    assert_eq!(r.transcripts.len(), 2, "the first 2 of the one kind");
    let (first, second) = (&r.transcripts[0], &r.transcripts[1]);
    for t in [first, second] {
        assert_eq!(
            (t.step.as_str(), t.kind.to_string()),
            ("chat", "error_event".into())
        );
        assert_eq!(t.detail, "error event: agent_error");
        assert_eq!((t.user, t.frames_left_out), (0, 0));
        assert!(t.frames.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
    }
    assert!(first.flow_start_s < second.flow_start_s);
    use Direction::{Received as In, Sent as Out};
    use FrameType::*;
    // Frames are recorded as the user reads them: the welcome frame, sent on the upgrade, is
    // read by the chat step, after its message went out.
    let flow = [
        (Out, HttpRequest, None),
        (In, HttpResponse, Some(101)),
        (Out, WsText, None),
        (In, WsText, None),
        (In, WsText, None),
        (In, WsText, None),
    ];
    // The first flow logs in first (the setup); the second reuses the session's token.
    let login = [(Out, HttpRequest, None), (In, HttpResponse, Some(200))];
    let with_login: Vec<_> = login.iter().chain(&flow).copied().collect();
    assert_eq!(shape(first), with_login);
    assert_eq!(shape(second), flow);

    let f = &first.frames;
    let head = f[0].head.as_deref().expect("a request head");
    assert!(head.starts_with("POST http://127.0.0.1:"), "{head}");
    assert!(
        head.contains("/auth/login\nx-e2e-bypass-key: ***"),
        "{head}"
    );
    assert!(
        f[0].body
            .contains(r#""email":"loadtest-0@example.test","password":"***""#),
        "{}",
        f[0].body
    );
    assert_eq!(f[0].size, f[0].body.len() as u64 + CANARY.len() as u64 - 3);
    assert!(
        f[1].body.contains(r#""access_token":"***""#),
        "{}",
        f[1].body
    );
    let upgrade = f[2].head.as_deref().expect("the upgrade's head");
    assert!(upgrade.starts_with("GET ws://127.0.0.1:"), "{upgrade}");
    assert!(
        upgrade.ends_with("/ws\nSec-WebSocket-Protocol: jwt.***"),
        "{upgrade}"
    );
    assert_eq!(
        f[4].body,
        r#"{"type":"user_message","payload":{"content":"hi"}}"#
    );
    assert!(f[5].body.contains(r#""type":"connection_established""#));
    assert!(f[6].body.contains(r#""type":"agent_started""#));
    assert!(f[7].body.contains(r#""type":"agent_error""#));
    assert!(
        ran.stdout.contains("failure transcripts: 2 kept"),
        "{}",
        ran.stdout
    );
    let page = std::fs::read_to_string(&html).expect("the HTML report");
    assert_eq!(page.matches("<details class=\"transcript\">").count(), 2);
}

/// A server we did not write echoes the password back, once near the start of its answer (where
/// the error's cause quotes it) and once across the 512-byte cut of the transcript's body: the
/// probe's output and results hold neither, and the probe prints the transcript.
#[test]
fn a_secret_echoed_by_the_server_is_masked_in_causes_and_across_the_cut() {
    let server = RawServer::start(|mut s| {
        if read_request(&mut s).is_none() {
            return;
        }
        let start = format!(r#"{{"detail":"wrong password {CANARY}","pad":""#);
        let pad = "x".repeat(505 - start.len());
        let body = format!(r#"{start}{pad}{CANARY}{}"}}"#, " and more".repeat(12));
        let resp = format!(
            "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: {}\
             \r\n\r\n{body}",
            body.len()
        );
        let _ = s.write_all(resp.as_bytes());
    });
    let dir = tempdir();
    let s = canary_scenario(dir.path());
    let out = dir.path().join("r.json");
    let url = server.url();
    let args = against("probe", &s, &url, &["-o", out.to_str().expect("UTF-8")]);
    let ran = run_binary(&args, &ENV);
    assert_eq!(ran.code, Some(1), "{}\n{}", ran.stdout, ran.stderr);
    let counts = canary_counts(&ran.stdout, &ran.stderr, dir.path());
    assert!(counts.iter().all(|(_, n)| *n == 0), "{counts:?}");
    assert!(
        ran.stdout.contains("wrong password ***"),
        "the cause, masked: {}",
        ran.stdout
    );

    let r = read_results(&out);
    assert_eq!(r.transcripts.len(), 1);
    let t = &r.transcripts[0];
    assert_eq!(
        (t.step.as_str(), t.kind.to_string()),
        ("login", "http_status".into())
    );
    let resp = &t.frames[1];
    assert_eq!(
        (resp.dir, resp.kind, resp.status),
        (Direction::Received, FrameType::HttpResponse, Some(401))
    );
    // The canary was at bytes 505..518 of the body, across the cut: masked whole, then cut.
    let start = r#"{"detail":"wrong password CANARY-7f3a9c","pad":""#;
    let pad = "x".repeat(505 - start.len());
    let masked = format!(
        r#"{{"detail":"wrong password ***","pad":"{pad}***{}"}}"#,
        " and more".repeat(12)
    );
    assert_eq!((resp.size, resp.cut), (505 + 13 + 108 + 2, true));
    // What was copied (the body shown and the secret's length and a half), masked: the start
    // of the masked body, with the canary's place masked.
    assert!(masked.starts_with(&resp.body), "{}", resp.body);
    assert!(
        (505..=512).contains(&resp.body.len()),
        "{}",
        resp.body.len()
    );
    assert!(resp.body.contains("xx*** and more"), "{}", resp.body);
    // The probe prints it, one line per frame.
    let lines: Vec<&str> = ran
        .stdout
        .lines()
        .skip_while(|l| !l.contains("transcript of user 0's flow"))
        .collect();
    assert!(lines.len() >= 3, "{}", ran.stdout);
    assert!(
        lines[1].contains("→ http request") && lines[1].contains("/auth/login"),
        "{}",
        lines[1]
    );
    assert!(lines[2].contains("← http response 401"), "{}", lines[2]);
}

/// `--processes`: the children's transcripts travel to the parent in their records, and the
/// parent keeps the first N of each kind over all of them.
#[test]
fn transcripts_travel_from_processes_and_keep_the_first_n_overall() {
    let dir = tempdir();
    let s = canary_scenario(dir.path());
    let out = dir.path().join("r.json");
    let args = [
        "run",
        &s,
        "--mock",
        "--fault",
        "agent-error",
        "--users",
        "2",
        "--iterations",
        "2",
        "--backoff",
        "0s",
        "--processes",
        "2",
        "--transcripts",
        "1",
        "--out",
        out.to_str().expect("UTF-8"),
    ];
    let ran = run_binary(&args, &ENV);
    assert_eq!(ran.code, Some(1), "{}\n{}", ran.stdout, ran.stderr);
    let counts = canary_counts(&ran.stdout, &ran.stderr, dir.path());
    assert!(counts.iter().all(|(_, n)| *n == 0), "{counts:?}");
    let r = read_results(&out);
    assert_eq!(r.flows.failed, 4, "{:?}", r.flows);
    assert_eq!(
        r.transcripts.len(),
        1,
        "1 of the one kind, over both processes"
    );
    assert_eq!(
        r.transcripts[0].frames.len(),
        8,
        "the first flow, with its login"
    );
}

/// The upgrade refused (a server we did not write answers 403) and a socket closed by the
/// server (the mock's `close:1011` fault): the transcripts end with the refusal's status and the
/// close frame's code.
#[test]
fn a_refused_upgrade_and_a_server_close_end_their_transcripts() {
    let server = RawServer::start(|mut s| {
        while let Some(head) = read_request(&mut s) {
            let (status, body) = if head.starts_with("POST") {
                ("200 OK", r#"{"access_token":"t0k3n"}"#)
            } else {
                ("403 Forbidden", r#"{"detail":"no"}"#)
            };
            let resp = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\
                 \r\n\r\n{body}",
                body.len()
            );
            if s.write_all(resp.as_bytes()).is_err() {
                return;
            }
        }
    });
    let dir = tempdir();
    let s = canary_scenario(dir.path());
    let out = dir.path().join("r.json");
    let url = server.url();
    let args = against("probe", &s, &url, &["-o", out.to_str().expect("UTF-8")]);
    let ran = run_binary(&args, &ENV);
    assert_eq!(ran.code, Some(1), "{}\n{}", ran.stdout, ran.stderr);
    let r = read_results(&out);
    assert_eq!(r.transcripts.len(), 1);
    let t = &r.transcripts[0];
    assert_eq!(
        (t.step.as_str(), t.kind.to_string()),
        ("connect", "ws_rejected".into())
    );
    use Direction::{Received as In, Sent as Out};
    use FrameType::*;
    assert_eq!(
        shape(t),
        [
            (Out, HttpRequest, None),
            (In, HttpResponse, Some(200)),
            (Out, HttpRequest, None),
            (In, HttpResponse, Some(403)),
        ]
    );

    let out = dir.path().join("closed.json");
    let args = [
        "run",
        &s,
        "--mock",
        "--fault",
        "close:1011",
        "--iterations",
        "1",
        "--out",
        out.to_str().expect("UTF-8"),
    ];
    let ran = run_binary(&args, &ENV);
    assert_eq!(ran.code, Some(1), "{}\n{}", ran.stdout, ran.stderr);
    let r = read_results(&out);
    assert_eq!(r.transcripts.len(), 1, "{:?}", r.errors);
    let last = r.transcripts[0].frames.last().expect("frames");
    assert_eq!(
        (last.dir, last.kind, last.code, last.status),
        (In, WsClose, Some(1011), None)
    );
}

/// A server's ping during the chat shows in the transcript as a received `ws_ping` with its
/// payload's size, between the message and the event that failed the step.
#[test]
fn a_ping_from_the_server_is_in_the_transcript() {
    use crate::raw_ws::{accept_key, frame, header, read_client_frame};
    let server = RawServer::start(|mut s| {
        while let Some(head) = read_request(&mut s) {
            if head.starts_with("POST") {
                let body = r#"{"access_token":"t0k3n"}"#;
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                if s.write_all(resp.as_bytes()).is_err() {
                    return;
                }
                continue;
            }
            let key = header(&head, "sec-websocket-key").unwrap_or_default();
            let resp = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: {}\r\n\r\n",
                accept_key(key)
            );
            let _ = s.write_all(resp.as_bytes());
            let _ = read_client_frame(&mut s);
            let mut out = frame(0x9, b"hb");
            out.extend(frame(0x1, br#"{"type":"agent_error"}"#));
            let _ = s.write_all(&out);
            while read_client_frame(&mut s).is_some() {}
            return;
        }
    });
    let dir = tempdir();
    let s = canary_scenario(dir.path());
    let out = dir.path().join("r.json");
    let url = server.url();
    let args = against("probe", &s, &url, &["-o", out.to_str().expect("UTF-8")]);
    let ran = run_binary(&args, &ENV);
    assert_eq!(ran.code, Some(1), "{}\n{}", ran.stdout, ran.stderr);
    let r = read_results(&out);
    assert_eq!(r.transcripts.len(), 1);
    let f = &r.transcripts[0].frames;
    let tail: Vec<_> = f[f.len() - 3..]
        .iter()
        .map(|f| (f.dir, f.kind, f.size, f.body.as_str()))
        .collect();
    use Direction::{Received as In, Sent as Out};
    assert_eq!(
        tail,
        [
            (
                Out,
                FrameType::WsText,
                50,
                r#"{"type":"user_message","payload":{"content":"hi"}}"#
            ),
            (In, FrameType::WsPing, 2, ""),
            (In, FrameType::WsText, 22, r#"{"type":"agent_error"}"#),
        ]
    );
    assert!(
        ran.stdout.contains("← ws ping       (2 B)"),
        "{}",
        ran.stdout
    );
}
