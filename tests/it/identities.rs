//! Identities end to end: the `[data]` feeder's rows as a server receives them (shards included),
//! its refusals, and tokens minted by a `jwt` step accepted (and re-minted) by the mock.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::{Arc, Mutex};

use load_tester::exit::Exit;
use load_tester::mock::MockConfig;

use crate::raw::RawServer;
use crate::util::{against, assert_passed, read_results, run_cli, scenario, start_mock, tempdir};

/// A login server that records each request's body and answers with a token.
fn recording_login() -> (RawServer, Arc<Mutex<Vec<String>>>) {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = bodies.clone();
    let server = RawServer::start(move |mut s: TcpStream| {
        while let Some(body) = read_body(&mut s) {
            seen.lock().unwrap().push(body);
            let answer = r#"{"access_token":"t0k3n"}"#;
            let resp = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
                answer.len()
            );
            if s.write_all(resp.as_bytes()).is_err() {
                return;
            }
        }
    });
    (server, bodies)
}

/// Reads one request and returns its body (`None` when the peer closed).
fn read_body(s: &mut impl Read) -> Option<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if got.len() >= end + 4 + len {
                return Some(String::from_utf8_lossy(&got[end + 4..end + 4 + len]).into_owned());
            }
        }
        let n = s.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        got.extend_from_slice(&buf[..n]);
    }
}

const USERS_CSV: &str = "email,password\n\
                         u0@example.test,pw-zero-SECRET\n\
                         u1@example.test,pw-one-SECRET\n\
                         u2@example.test,pw-two-SECRET\n";

fn feeder_scenario(dir: &Path, mode: &str, users: u32) -> String {
    std::fs::write(dir.join("users.csv"), USERS_CSV).unwrap();
    let text = format!(
        r#"name = "feeder"
[load]
users = {users}
iterations = 1
[data]
file = "users.csv"
mode = "{mode}"
secret = ["password"]
[[setup]]
name = "login"
http.method = "POST"
http.url = "{{{{auth_url}}}}/auth/login"
http.json = {{ email = "{{{{email}}}}", password = "{{{{password}}}}" }}
http.extract = {{ token = "/access_token" }}
[[steps]]
name = "idle"
think = "1ms"
"#
    );
    let path = scenario(dir, "s.toml", &text);
    path.to_str().unwrap().to_owned()
}

/// The (email, password) pairs the server received, sorted.
fn received(bodies: &Mutex<Vec<String>>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = bodies
        .lock()
        .unwrap()
        .iter()
        .map(|b| {
            let v: serde_json::Value = serde_json::from_str(b).expect("a JSON login body");
            (
                v["email"].as_str().unwrap().into(),
                v["password"].as_str().unwrap().into(),
            )
        })
        .collect();
    out.sort();
    out
}

/// `unique`: three users log in as the three rows, each with its own password, and no password
/// appears in any output; split over two shards, the users (numbered globally) still take three
/// different rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_user_logs_in_with_its_own_row_and_passwords_stay_secret() {
    let want: Vec<(String, String)> = USERS_CSV
        .lines()
        .skip(1)
        .map(|l| {
            let (e, p) = l.split_once(',').unwrap();
            (e.to_owned(), p.to_owned())
        })
        .collect();

    let (server, bodies) = recording_login();
    let dir = tempdir();
    let path = feeder_scenario(dir.path(), "unique", 3);
    let out = dir.path().join("r.json");
    let url = server.url();
    let args = against(
        "run",
        &path,
        &url,
        &["--out", out.to_str().unwrap(), "--quiet"],
    );
    let o = run_cli(&args, &[]).await;
    assert_passed(&o);
    assert_eq!(received(&bodies), want, "one row per user");
    let results = std::fs::read_to_string(&out).unwrap();
    for text in [&o.stdout, &o.stderr, &results] {
        assert_eq!(text.matches("SECRET").count(), 0, "a password was shown");
    }
    assert_eq!(read_results(&out).step("login").unwrap().ok, 3);

    let (server, bodies) = recording_login();
    let url = server.url();
    for shard in ["1/2", "2/2"] {
        let o = run_cli(
            &against("run", &path, &url, &["--shard", shard, "--quiet"]),
            &[],
        )
        .await;
        assert_passed(&o);
    }
    assert_eq!(
        received(&bodies),
        want,
        "shards take the rows of their global users"
    );

    // sequential: five users over three rows take rows 0 1 2 0 1.
    let (server, bodies) = recording_login();
    let path = feeder_scenario(dir.path(), "sequential", 5);
    let o = run_cli(&against("run", &path, &server.url(), &["--quiet"]), &[]).await;
    assert_passed(&o);
    let emails: Vec<String> = received(&bodies).into_iter().map(|(e, _)| e).collect();
    assert_eq!(
        emails,
        [
            "u0@example.test",
            "u0@example.test",
            "u1@example.test",
            "u1@example.test",
            "u2@example.test"
        ]
    );
}

/// More users than rows with `unique`, or a bad row: `run` and `validate` refuse with exit 2,
/// the counts or the file:line, and no request is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_name_counts_and_lines() {
    let (server, bodies) = recording_login();
    let dir = tempdir();
    let path = feeder_scenario(dir.path(), "unique", 3);
    let o = run_cli(
        &against("run", &path, &server.url(), &["--users", "4"]),
        &[],
    )
    .await;
    assert_eq!(o.exit, Exit::Usage, "{}", o.stderr);
    assert!(
        o.stderr.contains(
            "s.toml:7:8: data.mode: mode = \"unique\" needs a row per user: 4 users but users.csv \
             has 3 rows"
        ),
        "{}",
        o.stderr
    );
    assert!(bodies.lock().unwrap().is_empty(), "nothing was sent");
    // The canary is user 3: no fourth row.
    let o = run_cli(
        &against("run", &path, &server.url(), &["--canary-every", "1s"]),
        &[],
    )
    .await;
    assert_eq!(o.exit, Exit::Usage, "{}", o.stderr);
    assert!(
        o.stderr
            .contains("error: --canary-every: the canary is user 3 and ")
            && o.stderr.contains("users.csv has 3 rows"),
        "{}",
        o.stderr
    );
    assert!(bodies.lock().unwrap().is_empty(), "nothing was sent");
    let o = run_cli(&["validate", &path], &[]).await;
    assert_eq!(o.exit, Exit::Passed, "{}", o.stderr);
    assert!(
        o.stdout
            .contains("users.csv: 3 rows of email, password (unique)\n"),
        "{}",
        o.stdout
    );

    std::fs::write(
        dir.path().join("users.csv"),
        "email,password\na@x.test,pw\nb@x.test\n",
    )
    .unwrap();
    for cmd in ["validate", "run"] {
        let o = run_cli(&against(cmd, &path, &server.url(), &[]), &[]).await;
        assert_eq!(o.exit, Exit::Usage, "{cmd}: {}", o.stderr);
        assert!(
            o.stderr
                .contains("users.csv:3:1: data.file: this row has 1 fields, the header has 2"),
            "{cmd}: {}",
            o.stderr
        );
    }
    assert!(bodies.lock().unwrap().is_empty(), "nothing was sent");
}

const JWT_SECRET: &str = "hs256-SECRET-for-the-mock";

/// A scenario whose setup mints an HS256 token with the platform's claims (protocol.md §2.2),
/// then the golden chat with it.
fn minted_scenario(dir: &Path, expires_in: &str) -> String {
    let text = format!(
        r#"name = "minted"
[load]
users = 2
[[setup]]
name = "mint"
jwt.alg = "HS256"
jwt.key = "{{{{env.JWT_SECRET}}}}"
jwt.claims = {{ sub = "loadtest-{{{{vu}}}}", email = "loadtest-{{{{vu}}}}@example.test", iss = "netra-auth-service", token_type = "access", jti = "{{{{uuid}}}}" }}
jwt.expires_in = "{expires_in}"
jwt.into = "token"
[[steps]]
name = "connect"
ws.connect = "{{{{ws_url}}}}/ws"
ws.subprotocols = ["jwt.{{{{token}}}}"]
[[steps]]
name = "chat"
ws.send = {{ type = "user_message", payload = {{ content = "hi" }} }}
ws.expect = "agent_started agent_thinking+ (tool_executing tool_completed)* agent_completed"
ws.ignore = ["connection_established", "heartbeat*", "pong"]
ws.fail_on = ["error", "error_message"]
ws.within = "5s"
[[steps]]
name = "close"
ws.close = true
"#
    );
    scenario(dir, "minted.toml", &text)
        .to_str()
        .unwrap()
        .to_owned()
}

/// HS256 tokens minted by the tool are accepted by the mock's verifier (signature, exp, iss,
/// jti, token_type) and re-minted before they expire: a 2 s lifetime enforced to the second
/// over a 4 s run has no failure; the same tokens signed with another secret all fail to
/// authenticate. The secret appears in no output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minted_tokens_authenticate_and_are_reminted_before_they_expire() {
    let mock = start_mock(MockConfig {
        jwt_secret: Some(JWT_SECRET.into()),
        token_lifetime: Some(std::time::Duration::from_secs(2)),
        ..Default::default()
    })
    .await;
    let dir = tempdir();
    let path = minted_scenario(dir.path(), "2s");
    let out = dir.path().join("r.json");
    let url = mock.base_url();
    let args = against(
        "run",
        &path,
        &url,
        &[
            "--duration",
            "4s",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let o = run_cli(&args, &[("JWT_SECRET", JWT_SECRET)]).await;
    assert_passed(&o);
    let r = read_results(&out);
    assert_eq!(r.flows.failed, 0, "{:?}", r.errors);
    assert!(r.flows.passed > 4, "{:?}", r.flows);
    let mint = r.step("mint").unwrap();
    assert!(
        mint.count > 2 && mint.failed == 0,
        "re-minted before expiry: {} mints for 2 users",
        mint.count
    );
    let stats = mock.stats();
    assert_eq!(stats.ws_auth_failures, 0, "{stats:?}");
    assert_eq!(stats.logins, 0, "no login: the tokens were minted");
    let results = std::fs::read_to_string(&out).unwrap();
    for text in [&o.stdout, &o.stderr, &results] {
        assert_eq!(text.matches("SECRET").count(), 0, "the key was shown");
    }

    let wrong = run_cli(
        &against("run", &path, &url, &["--iterations", "1", "--quiet"]),
        &[("JWT_SECRET", "another-secret")],
    )
    .await;
    assert_eq!(wrong.exit, Exit::Failed, "{}", wrong.stdout);
    assert_eq!(mock.stats().ws_auth_failures, 2, "both users refused");

    let unset = run_cli(&against("run", &path, &url, &["--iterations", "1"]), &[]).await;
    assert_eq!(unset.exit, Exit::Usage);
    assert!(
        unset.stderr.contains(
            "minted.toml:7:11: step 'mint': jwt.key: environment variable `JWT_SECRET` is not set"
        ),
        "{}",
        unset.stderr
    );
}

/// The README's Identities examples (fenced ```` ```toml identities ````) run as shown against
/// the mock: the feeder's with the README's CSV beside it, the minted one with the mock's secret
/// in `JWT_SECRET_KEY`; so does the shipped `scenarios/minted-tokens.toml`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_identity_examples_run() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let csv = readme
        .split("```csv\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a ```csv block in the README");
    let blocks: Vec<_> = crate::readme::readme_blocks()
        .into_iter()
        .filter(|b| b.identities)
        .collect();
    assert_eq!(blocks.len(), 2, "the feeder and the minted examples");
    let dir = tempdir();
    std::fs::write(dir.path().join("users.csv"), csv).unwrap();
    let secret = "readme-SECRET";
    let mut paths: Vec<String> = blocks
        .iter()
        .map(|b| {
            let file = scenario(dir.path(), &format!("readme-{}.toml", b.line), &b.text);
            file.to_str().unwrap().to_owned()
        })
        .collect();
    paths.push(crate::util::shipped("minted-tokens.toml"));
    for path in &paths {
        let args = [
            "run",
            path.as_str(),
            "--mock",
            "--jwt-secret",
            secret,
            "--users",
            "2",
            "--iterations",
            "1",
            "--quiet",
        ];
        let o = run_cli(&args, &[("JWT_SECRET_KEY", secret)]).await;
        assert_eq!(o.exit, Exit::Passed, "{path}:\n{}{}", o.stderr, o.stdout);
        assert!(
            o.stdout.contains("flows: 2 passed, 0 failed"),
            "{}",
            o.stdout
        );
        assert_eq!(o.stdout.matches("SECRET").count(), 0);
    }
}

/// A login server that refuses every login with a 401 whose body echoes the email and the
/// password under a key not named like a secret.
fn echoing_refusal() -> RawServer {
    RawServer::start(move |mut s: TcpStream| {
        while let Some(body) = read_body(&mut s) {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            let detail = format!(
                "no user {} with {}",
                v["email"].as_str().unwrap_or("?"),
                v["password"].as_str().unwrap_or("?")
            );
            let answer = serde_json::json!({ "detail": detail }).to_string();
            let resp = format!(
                "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
                answer.len()
            );
            if s.write_all(resp.as_bytes()).is_err() {
                return;
            }
        }
    })
}

/// A secret column's value echoed back by the server is masked in the failure's cause (in the
/// summary and the results); the email, not a secret, is shown as sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_column_echoed_in_an_error_is_masked() {
    let server = echoing_refusal();
    let dir = tempdir();
    let path = feeder_scenario(dir.path(), "unique", 3);
    let out = dir.path().join("r.json");
    let url = server.url();
    let args = against(
        "run",
        &path,
        &url,
        &["--out", out.to_str().unwrap(), "--backoff", "0s"],
    );
    let o = run_cli(&args, &[]).await;
    assert_eq!(o.exit, Exit::Failed, "{}", o.stdout);
    let r = read_results(&out);
    let login = r.step("login").unwrap();
    assert_eq!((login.failed, login.ok), (3, 0));
    let causes: Vec<String> = r.errors[0].causes.iter().map(|c| c.cause.clone()).collect();
    assert_eq!(causes.len(), 3, "{causes:?}");
    for c in &causes {
        assert!(
            c.contains("no user u") && c.contains("@example.test with ***"),
            "{c}"
        );
    }
    let results = std::fs::read_to_string(&out).unwrap();
    for text in [&o.stdout, &o.stderr, &results] {
        assert_eq!(text.matches("SECRET").count(), 0, "a password was shown");
    }
}
