//! Every mock fault, each asserting the exact classification the runner reports.

use crate::util::*;
use load_tester::exit::Exit;
use load_tester::metrics::summary::Summary;

/// Runs the fast golden scenario with `users` users × `iters` iterations and extra mock flags.
async fn run_with(
    extra_chat: &str,
    users: &str,
    iters: &str,
    mock: &[&str],
) -> (Exit, Summary, String) {
    let dir = tempdir();
    let path = scenario(dir.path(), "s.toml", &fast_golden(extra_chat));
    let out = dir.path().join("r.json");
    let mut args = vec![
        "run",
        path.to_str().unwrap(),
        "--mock",
        "--users",
        users,
        "--spawn-rate",
        "1000",
        "--iterations",
        iters,
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(mock);
    let o = run_cli(&args, &[]).await;
    let r = read_results(&out);
    (o.exit, r, o.stdout)
}

fn only_error(r: &Summary) -> (String, String, String, u64) {
    assert_eq!(r.errors.len(), 1, "exactly one error kind: {:#?}", r.errors);
    let e = &r.errors[0];
    (
        e.step.clone(),
        e.kind.to_string(),
        e.detail.clone(),
        e.count,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_event_is_missing_by_name_in_the_faulted_share() {
    let (exit, r, stdout) = run_with(
        "",
        "10",
        "10",
        &["--fault", "drop:tool_completed", "--fault-rate", "0.1"],
    )
    .await;
    assert_eq!(exit, Exit::Failed);
    assert_eq!(r.flows.passed + r.flows.failed, 100);
    assert_eq!(r.flows.failed, 10, "exactly every 10th flow is faulted");
    let (step, kind, detail, count) = only_error(&r);
    assert_eq!(
        (step.as_str(), kind.as_str(), count),
        ("chat", "event_missing", 10)
    );
    assert_eq!(
        detail,
        "event missing: tool_completed (agent_completed came instead)"
    );
    assert!(stdout.contains("event missing: tool_completed"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorder_is_an_unexpected_event() {
    let (exit, r, _) = run_with("", "2", "2", &["--fault", "reorder"]).await;
    assert_eq!(exit, Exit::Failed);
    let (step, kind, detail, count) = only_error(&r);
    assert_eq!(
        (step.as_str(), kind.as_str(), count),
        ("chat", "unexpected_event", 4)
    );
    assert_eq!(detail, "unexpected event: agent_thinking (first)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_error_is_an_error_event() {
    let (exit, r, _) = run_with(
        "",
        "2",
        "2",
        &["--fault", "agent-error", "--fault-rate", "0.5"],
    )
    .await;
    assert_eq!(exit, Exit::Failed);
    assert_eq!((r.flows.passed, r.flows.failed), (2, 2));
    let (_, kind, detail, count) = only_error(&r);
    assert_eq!((kind.as_str(), count), ("error_event", 2));
    assert_eq!(detail, "error event: agent_error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_mid_stream_reports_the_close_code() {
    let (exit, r, _) = run_with("", "2", "1", &["--fault", "close:1011"]).await;
    assert_eq!(exit, Exit::Failed);
    let (_, kind, detail, count) = only_error(&r);
    assert_eq!((kind.as_str(), count), ("ws_closed", 2));
    assert_eq!(detail, "WebSocket closed with code 1011");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stall_is_a_gap_timeout() {
    let (exit, r, _) = run_with(
        "ws.max_gap = \"300ms\"",
        "2",
        "1",
        &["--fault", "stall:30s"],
    )
    .await;
    assert_eq!(exit, Exit::Failed);
    let (_, kind, _, count) = only_error(&r);
    assert_eq!((kind.as_str(), count), ("gap_timeout", 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stall_before_the_first_event_deadline_is_a_total_timeout_when_no_gap_is_set() {
    let (exit, r, _) = run_with("", "1", "1", &["--fault", "stall:30s"]).await;
    assert_eq!(exit, Exit::Failed);
    let (_, kind, _, count) = only_error(&r);
    assert_eq!((kind.as_str(), count), ("total_timeout", 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_event_timeout_when_the_first_event_is_late() {
    let (exit, r, _) = run_with(
        "ws.first_event_within = \"100ms\"",
        "1",
        "1",
        &["--delay", "1s"],
    )
    .await;
    assert_eq!(exit, Exit::Failed);
    let (_, kind, _, count) = only_error(&r);
    assert_eq!((kind.as_str(), count), ("first_event_timeout", 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_json_frame_is_an_unreadable_unexpected_event() {
    let (exit, r, _) = run_with("", "1", "2", &["--fault", "non-json"]).await;
    assert_eq!(exit, Exit::Failed);
    let (_, kind, detail, count) = only_error(&r);
    assert_eq!((kind.as_str(), count), ("unexpected_event", 2));
    assert_eq!(
        detail,
        "unexpected event: (unreadable frame) after agent_started"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_401_fails_the_setup_step() {
    let (exit, r, _) = run_with(
        "",
        "4",
        "1",
        &["--fault", "login-401", "--fault-rate", "0.5"],
    )
    .await;
    assert_eq!(exit, Exit::Failed);
    let (step, kind, detail, count) = only_error(&r);
    assert_eq!(
        (step.as_str(), kind.as_str(), count),
        ("login", "http_status", 2)
    );
    assert_eq!(detail, "HTTP status 401");
    assert_eq!((r.flows.passed, r.flows.failed), (2, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_limit_per_user_rejects_the_extra_sockets() {
    // All users share one account (dev login); the mock allows one socket per user. The first
    // user holds its socket while it waits for events, so the other two are turned away.
    let dir = tempdir();
    let text = r#"
name = "limit"
[load]
users = 3
spawn_rate = 1000
iterations = 1
[[steps]]
name = "login"
http.method = "POST"
http.url = "{{auth_url}}/auth/dev/login"
http.extract = { token = "/access_token" }
[[steps]]
name = "connect"
ws.connect = "{{ws_url}}/ws"
ws.subprotocols = ["jwt.{{token}}"]
[[steps]]
name = "welcome"
ws.expect = "connection_established"
[[steps]]
name = "chat"
ws.send = { type = "user_message", payload = { content = "hi" } }
ws.expect = "agent_started agent_thinking+ (tool_executing tool_completed)* agent_completed"
"#;
    let path = scenario(dir.path(), "s.toml", text);
    let (o, out) = run_mock(
        dir.path(),
        path.to_str().unwrap(),
        &[
            "--quiet",
            "--workers",
            "1",
            "--max-connections-per-user",
            "1",
            "--delay",
            "500ms",
        ],
    )
    .await;
    assert_eq!(o.exit, Exit::Failed, "{}", o.stdout);
    let r = read_results(&out);
    assert_eq!((r.flows.passed, r.flows.failed), (1, 2));
    let (step, kind, detail, count) = only_error(&r);
    assert_eq!(
        (step.as_str(), kind.as_str(), count),
        ("welcome", "error_event", 2)
    );
    assert_eq!(detail, "error event: error_message");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_token_is_rejected_with_auth_failed() {
    let dir = tempdir();
    let text = r#"
name = "bad-token"
[[steps]]
name = "connect"
ws.connect = "{{ws_url}}/ws"
ws.subprotocols = ["jwt.not-a-token"]
[[steps]]
name = "welcome"
ws.expect = "connection_established"
"#;
    let path = scenario(dir.path(), "s.toml", text);
    let (o, out) = run_mock(dir.path(), path.to_str().unwrap(), &["--quiet"]).await;
    assert_eq!(o.exit, Exit::Failed, "{}", o.stdout);
    let r = read_results(&out);
    let (step, kind, detail, _) = only_error(&r);
    assert_eq!((step.as_str(), kind.as_str()), ("welcome", "error_event"));
    assert_eq!(detail, "error event: error_message");
}

/// `--token-lifetime`: the mock's access tokens expire when they say (no leeway), so a run that
/// outlives them with `--token-refresh off` fails at the WebSocket's authentication once the
/// token is past its `exp`, never before; with refresh (the default) the same run has no failure:
/// each user logs in again as its token nears its end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_fails_the_websocket_authentication_unless_refreshed() {
    let args = |refresh| {
        [
            "--token-lifetime",
            "2s",
            "--duration",
            "4s",
            "--backoff",
            "200ms",
            "--token-refresh",
            refresh,
        ]
    };
    let (exit, r, stdout) = run_with("", "2", "100000", &args("off")).await;
    assert_eq!(exit, Exit::Failed, "{stdout}");
    assert!(r.flows.passed > 0 && r.flows.failed > 0, "{:?}", r.flows);
    let (_, kind, detail, count) = only_error(&r);
    assert_eq!((kind.as_str(), count), ("error_event", r.flows.failed));
    let causes: Vec<&str> = r.errors[0]
        .causes
        .iter()
        .map(|c| c.cause.as_str())
        .collect();
    assert!(
        causes.iter().all(|c| c.contains("AUTH_FAILED")),
        "{detail}: {causes:?}"
    );
    // Issued at second s, the token expires after s + 2: nothing fails in the first second.
    let first = r.timeseries.first().expect("a time series");
    assert_eq!(first.flows_failed, 0, "{:?}", r.timeseries);
    assert_eq!(r.step("login").unwrap().count, 2, "one login per user");

    let (exit, r, stdout) = run_with("", "2", "100000", &args("on")).await;
    assert_eq!(exit, Exit::Passed, "{stdout}");
    assert_eq!(r.flows.failed, 0, "{:?}", r.errors);
    let login = r.step("login").unwrap();
    assert!(
        login.count > 2 && login.failed == 0,
        "tokens refreshed: {} logins",
        login.count
    );
}
