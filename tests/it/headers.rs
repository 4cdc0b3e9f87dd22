//! Request headers as the server sees them: a scenario's `Host`, `User-Agent`, `Accept` or
//! `Content-Type` replaces the tool's own (never two lines of a name), for HTTP requests and the
//! WebSocket upgrade alike; without them the tool's defaults are sent.

use std::io::Write;
use std::sync::mpsc;
use std::sync::Mutex;

use crate::raw::{read_request, RawServer};
use crate::util::*;

/// Serves a login answer to POSTs and a 403 to upgrades; every request head comes back on the channel.
fn recording_server() -> (RawServer, mpsc::Receiver<String>) {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let server = RawServer::start(move |mut s| {
        while let Some(head) = read_request(&mut s) {
            let post = head.starts_with("POST");
            if let Ok(tx) = tx.lock() {
                let _ = tx.send(head);
            }
            let resp: &[u8] = if post {
                b"HTTP/1.1 200 OK\r\ncontent-length: 20\r\n\r\n{\"access_token\":\"t\"}"
            } else {
                b"HTTP/1.1 403 Forbidden\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
            };
            if s.write_all(resp).is_err() || !post {
                return;
            }
        }
    });
    (server, rx)
}

fn lines<'a>(head: &'a str, name: &str) -> Vec<&'a str> {
    head.lines()
        .filter(|l| {
            l.split_once(':')
                .is_some_and(|(n, _)| n.eq_ignore_ascii_case(name))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_headers_replace_the_defaults_of_their_name() {
    let (server, heads) = recording_server();
    let dir = tempdir();
    let path = scenario(
        dir.path(),
        "h.toml",
        r#"
name = "headers"
[[steps]]
name = "login"
http.method = "POST"
http.url = "{{auth_url}}/auth/login"
http.headers = { Host = "api.example.test", "User-Agent" = "probe/1", Accept = "application/json", "Content-Type" = "application/vnd.x+json" }
http.json = { email = "a@example.test" }
http.extract = { token = "/access_token" }
http.timeout = "5s"
[[steps]]
name = "plain"
http.method = "POST"
http.url = "{{auth_url}}/auth/login"
http.json = { email = "b@example.test" }
[[steps]]
name = "connect"
ws.connect = "{{ws_url}}/ws"
ws.headers = { Host = "ws.example.test", "User-Agent" = "probe/ws" }
"#,
    );
    let o = run_cli(
        &["probe", path.to_str().unwrap(), "--target", &server.url()],
        &[],
    )
    .await;
    assert!(o.stdout.contains("PASS  plain"), "{}", o.stdout);
    let login = heads.recv().expect("the login request");
    assert_eq!(lines(&login, "host"), ["host: api.example.test"]);
    assert_eq!(lines(&login, "user-agent"), ["user-agent: probe/1"]);
    assert_eq!(lines(&login, "accept"), ["accept: application/json"]);
    assert_eq!(
        lines(&login, "content-type"),
        ["content-type: application/vnd.x+json"]
    );
    assert_eq!(lines(&login, "content-length").len(), 1);

    let plain = heads.recv().expect("the second request");
    assert_eq!(
        lines(&plain, "host"),
        [format!("host: 127.0.0.1:{}", server.port)]
    );
    assert_eq!(
        lines(&plain, "user-agent"),
        [format!(
            "user-agent: load-tester/{}",
            env!("CARGO_PKG_VERSION")
        )]
    );
    assert_eq!(lines(&plain, "accept"), ["accept: */*"]);
    assert_eq!(
        lines(&plain, "content-type"),
        ["content-type: application/json"]
    );

    let upgrade = heads.recv().expect("the upgrade request");
    assert!(upgrade.starts_with("GET /ws HTTP/1.1\r\n"), "{upgrade}");
    assert_eq!(lines(&upgrade, "host"), ["host: ws.example.test"]);
    assert_eq!(lines(&upgrade, "user-agent"), ["user-agent: probe/ws"]);
    assert_eq!(lines(&upgrade, "upgrade"), ["upgrade: websocket"]);
}
