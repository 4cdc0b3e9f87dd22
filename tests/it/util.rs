//! Test helpers: run the CLI in-process with captured output, write scenario files, read results.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Parser;
use load_tester::cli::Cli;
use load_tester::exit::Exit;
use load_tester::io::{Buffer, Io};
use load_tester::metrics::summary::Summary;
use tokio_util::sync::CancellationToken;

pub struct Output {
    pub exit: Exit,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `load-tester ARGS...` in-process; env look-ups see only `env`.
pub async fn run_cli(args: &[&str], env: &[(&str, &str)]) -> Output {
    let argv: Vec<&str> = std::iter::once("load-tester")
        .chain(args.iter().copied())
        .collect();
    let cli = match Cli::try_parse_from(argv) {
        Ok(c) => c,
        Err(e) => {
            return Output {
                exit: Exit::Usage,
                stdout: String::new(),
                stderr: e.to_string(),
            }
        }
    };
    let (out, err) = (Buffer::default(), Buffer::default());
    let vars: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let io = Io {
        out: Arc::new(std::sync::Mutex::new(out.clone())),
        err: Arc::new(std::sync::Mutex::new(err.clone())),
        env: Arc::new(move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())),
        interrupt: CancellationToken::new(),
        abort: CancellationToken::new(),
        tty: false,
        program: env!("CARGO_BIN_EXE_load-tester").into(),
        args: args.iter().map(Into::into).collect(),
    };
    let exit = load_tester::run(cli, &io).await;
    Output {
        exit,
        stdout: out.text(),
        stderr: err.text(),
    }
}

/// The built-in mock on 127.0.0.1 (a free port), bound before this returns.
pub async fn start_mock(cfg: load_tester::mock::MockConfig) -> load_tester::mock::MockServer {
    let cfg = load_tester::mock::MockConfig {
        listen: vec![std::net::SocketAddr::from(([127, 0, 0, 1], 0))],
        ..cfg
    };
    load_tester::mock::MockServer::start(cfg)
        .await
        .expect("the mock binds 127.0.0.1:0")
}

/// A temporary directory for scenario and result files.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("create a temporary directory")
}

/// Writes a scenario file into `dir` and returns its path.
pub fn scenario(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write scenario");
    path
}

/// A shipped scenario file.
pub fn shipped(name: &str) -> String {
    format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR"))
}

pub fn read_results(path: &Path) -> Summary {
    let text = std::fs::read_to_string(path).expect("results written");
    serde_json::from_str(&text).expect("results parse as a Summary")
}

pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("results written")).expect("json")
}

/// The five golden events.
pub const GOLDEN: [&str; 5] = [
    "agent_started",
    "agent_thinking",
    "tool_executing",
    "tool_completed",
    "agent_completed",
];

/// A fast golden-path scenario for fault tests: no handshake wait, short deadlines.
pub fn fast_golden(extra_chat: &str) -> String {
    format!(
        r#"
name = "fast-golden"
[load]
users = 1
iterations = 1
[vars]
thread_id = ""
[[setup]]
name = "login"
http.method = "POST"
http.url = "{{{{auth_url}}}}/auth/login"
http.json = {{ email = "t-{{{{vu}}}}@example.test", password = "pw" }}
http.status = 200
http.extract = {{ token = "/access_token" }}
[[steps]]
name = "connect"
ws.connect = "{{{{ws_url}}}}/ws"
ws.subprotocols = ["jwt.{{{{token}}}}"]
ws.respond = [{{ on = "ping", send = {{ type = "pong" }} }}]
[[steps]]
name = "chat"
ws.send = {{ type = "user_message", payload = {{ content = "hi" }} }}
ws.expect = "agent_started agent_thinking+ (tool_executing tool_completed)* agent_completed"
ws.ignore = ["connection_established", "heartbeat*", "pong"]
ws.within = "5s"
{extra_chat}
[[steps]]
name = "close"
ws.close = true
"#
    )
}

/// `load-tester run SCENARIO --mock ARGS... --out DIR/r.json` in-process, no env: its output and
/// the path of the results file it was told to write.
pub async fn run_mock(dir: &Path, scenario: &str, args: &[&str]) -> (Output, PathBuf) {
    let out = dir.join("r.json");
    let argv: Vec<&str> = ["run", scenario, "--mock"]
        .into_iter()
        .chain(args.iter().copied())
        .chain(["--out", out.to_str().expect("a UTF-8 temporary path")])
        .collect();
    (run_cli(&argv, &[]).await, out)
}

/// The arguments `CMD SCENARIO --target URL --auth-url URL ARGS...`: a command against one
/// server serving both the target and the login.
pub fn against<'a>(
    cmd: &'a str,
    scenario: &'a str,
    url: &'a str,
    args: &[&'a str],
) -> Vec<&'a str> {
    [cmd, scenario, "--target", url, "--auth-url", url]
        .into_iter()
        .chain(args.iter().copied())
        .collect()
}

/// `run_mock` of `fast_golden("")`, written into `dir` as `s.toml`.
pub async fn run_fast_golden(dir: &Path, args: &[&str]) -> (Output, PathBuf) {
    let path = scenario(dir, "s.toml", &fast_golden(""));
    run_mock(dir, path.to_str().expect("a UTF-8 temporary path"), args).await
}

/// The run passed (exit 0); its stdout and stderr are shown when it did not.
pub fn assert_passed(o: &Output) {
    assert_eq!(
        o.exit,
        Exit::Passed,
        "stdout:\n{}\nstderr:\n{}",
        o.stdout,
        o.stderr
    );
}

/// A port on 127.0.0.1 that was free a moment ago (its listener is closed): nothing listens there.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// The samples of each tag in an HdrHistogram interval log (`--hdr-log`), read with the
/// hdrhistogram crate's own log parser; every interval must be tagged and decode.
pub fn hdr_log_counts(bytes: &[u8]) -> std::collections::BTreeMap<String, u64> {
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    let mut counts = std::collections::BTreeMap::new();
    for entry in IntervalLogIterator::new(bytes) {
        if let LogEntry::Interval(h) = entry.expect("a valid HdrHistogram log line") {
            let tag = h
                .tag()
                .expect("every interval is tagged")
                .as_str()
                .to_string();
            let hist = load_tester::metrics::summary::decode_histogram(h.encoded_histogram())
                .expect("an interval's histogram decodes");
            *counts.entry(tag).or_default() += hist.len();
        }
    }
    counts
}
