//! Scenario compilation tests: every broken fixture's exact diagnostics, and the shipped scenarios.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::compile;
use crate::plan::{Body, Plan, StepKind, Unlisted};
use crate::scenario::template::{Ctx, Part};
use crate::scenario::{Diagnostic, Overrides};

/// The env the fixtures see: one secret that is set, nothing else.
fn env(name: &str) -> Option<String> {
    match name {
        "E2E_KEY" => Some("sekrit-value".into()),
        _ => None,
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn compile_file(path: &Path, o: &Overrides) -> Result<Plan, Vec<Diagnostic>> {
    let text = std::fs::read_to_string(path).expect("fixture readable");
    compile(&text, path, o, &env)
}

fn compile_text(text: &str) -> Result<Plan, Vec<Diagnostic>> {
    compile(text, Path::new("inline.toml"), &Overrides::default(), &env)
}

/// (line, col, step, field, message).
type Expect = (
    usize,
    usize,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
);

const CREDENTIALS_ADMIN: &str = "target.auth_url holds credentials (admin:***@), which are refused in URLs (they would be printed and logged): send them in a header instead, e.g. Authorization = \"Basic ...\" or \"Bearer {{env.TOKEN}}\" in http.headers / ws.headers";
const CREDENTIALS_BOB: &str = "http.url holds credentials (bob:***@), which are refused in URLs (they would be printed and logged): send them in a header instead, e.g. Authorization = \"Basic ...\" or \"Bearer {{env.TOKEN}}\" in http.headers / ws.headers";

const DURATION_HELP: &str = "use a number with a unit (ms, s, m, h), e.g. \"500ms\", \"1.5s\", \"1h30m\", or a whole number of seconds";

#[rustfmt::skip]
fn cases() -> Vec<(&'static str, Vec<Expect>)> {
    let bad_duration_load = format!("bad duration \"10 minutes\": {DURATION_HELP}").leak();
    let bad_duration_http = format!("bad duration \"5x\": {DURATION_HELP}").leak();
    let bad_duration_ws = format!("bad duration \"ten seconds\": {DURATION_HELP}").leak();
    vec![
        ("syntax.toml", vec![(5, 32, None, None, "TOML syntax error: invalid basic string")]),
        ("unknown-top-key.toml", vec![(2, 1, None, Some("users"),
            "unknown top-level key `users`; allowed keys: name, description, target, load, vars, data, setup, steps, thresholds")]),
        ("bad-thresholds.toml", vec![
            (18, 1, None, Some("thresholds.chatt.p95"),
             "unknown step `chatt` (did you mean `chat`?); steps: login, connect, chat; run-level metrics: iteration.STAT, flows.failed_rate, flows.rate, flows.passed, flows.failed, flows.interrupted, flows.goodput, flows.good_rate, flows.late_rate, flows.good, flows.late, dropped, dropped_rate"),
            (19, 1, None, Some("thresholds.chat.agent_startd.p95"),
             "step `chat` has no event `agent_startd` (did you mean `agent_started`?); its events: agent_started, agent_completed"),
            (20, 1, None, Some("thresholds.chat.p59"),
             "unknown statistic `p59` in `chat.p59` (did you mean `p50`?); statistics: p50, p90, p95, p99, p99.9, max, mean, count, rate, errors, error_rate"),
            (21, 1, None, Some("thresholds.connect.agent_started.p95"),
             "step `connect` has no events (only a ws exchange step with ws.expect has them); write `connect.STAT` for the step itself"),
            (22, 29, None, Some("thresholds.chat.agent_started.p95"),
             "unknown comparison `==`: use <, <=, > or >=, then the value, e.g. `< 2s`"),
            (23, 23, None, Some("thresholds.iteration.p99[0]"),
             "`5` has no unit: `iteration.p99` is a duration; write a duration such as `2s`, `500ms`, `1.5s` or `250us`"),
            (24, 26, None, Some("thresholds.flows.failed_rate"),
             "`1` needs `%`: `flows.failed_rate` is a percentage; write a percentage such as `1%` or `0.5%`"),
            (25, 36, None, Some("thresholds.login.errors.abort"),
             "unknown key `abort`; allowed keys: check, abort_on_fail, delay"),
            (26, 19, None, Some("thresholds.flows.rate"),
             "unknown unit `rps` in `50 rps`: `flows.rate` is a rate per second; write a plain number (per second) such as `50`"),
            (27, 1, None, Some("thresholds.flows.faild_rate"),
             "unknown metric `flows.faild_rate` (did you mean `flows.failed_rate`?); flows metrics: flows.failed_rate, flows.rate, flows.passed, flows.failed, flows.interrupted, flows.goodput, flows.good_rate, flows.late_rate, flows.good, flows.late"),
            (28, 1, None, Some("thresholds.chat.agent_completed.errors"),
             "`errors` is a statistic of a step, not of an event: write `chat.errors`"),
            (29, 41, None, Some("thresholds.login.p95.delay"),
             "delay only applies with abort_on_fail = true (it is how long the run goes before this threshold may stop it)"),
        ]),
        ("unknown-step-key.toml", vec![(6, 6, Some("health"), Some("http.expect_status"),
            "unknown key `expect_status`; allowed keys: method, url, headers, json, body, status, extract, timeout, max_body, max_header_size, max_headers")]),
        ("missing-scenario-name.toml", vec![(1, 1, None, None,
            "the scenario has no `name`: add name = \"...\" at the top")]),
        ("missing-step-name.toml", vec![(7, 1, Some("steps #2"), None,
            "step has no `name`: every step needs a unique name of letters, digits, `_` and `-`")]),
        ("duplicate-names.toml", vec![(8, 8, Some("health"), Some("name"),
            "step name `health` is already used by the step on line 4; step names must be unique across [[setup]] and [[steps]]")]),
        ("no-kind.toml", vec![(4, 8, Some("nothing"), None,
            "step has no kind: give exactly one of `http`, `ws`, `think` or `jwt`")]),
        ("two-kinds.toml", vec![(4, 8, Some("both"), None,
            "step has both `http` and `ws`: give exactly one of `http`, `ws`, `think` or `jwt` (split it into several steps)")]),
        ("bad-method.toml", vec![(5, 15, Some("fetch"), Some("http.method"),
            "bad HTTP method \"FETCH\"; allowed: GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS")]),
        ("bad-duration.toml", vec![
            (4, 12, None, Some("load.duration"), bad_duration_load),
            (9, 16, Some("health"), Some("http.timeout"), bad_duration_http),
        ]),
        ("unclosed-template.toml", vec![(5, 36, Some("health"), Some("http.url"),
            "unclosed `{{`: close it with `}}`")]),
        ("unknown-var.toml", vec![(15, 42, Some("me"), Some("http.headers.Authorization"),
            "unknown variable `tokn` (did you mean `token`?); declared variables: thread_id, token; built-ins: vu, iteration, uuid, now, base_url, auth_url, ws_url, env.NAME, env.NAME:-default")]),
        ("missing-env.toml", vec![(8, 67, Some("e2e-login"), Some("http.json.password"),
            "environment variable `NOT_SET_ANYWHERE` is not set and has no default: set it, or write {{env.NOT_SET_ANYWHERE:-default}}")]),
        // The place points into the expression: the `&` is at offset 14, the string's quote at col 13.
        ("bad-expect.toml", vec![(10, 28, Some("chat"), Some("ws.expect"), "bad event expectation: unexpected character '&': event names use letters, digits, '_', ':', '.' and '-'")]),
        ("bad-pointer.toml", vec![(7, 26, Some("login"), Some("http.extract.token"),
            "JSON pointer \"access_token\" must start with `/`, e.g. \"/access_token\"")]),
        ("send-without-connect.toml", vec![
            (5, 11, Some("hello"), Some("ws.send"),
             "`ws.send` needs an open WebSocket: add a step with ws.connect before it in [[setup]]"),
            (17, 13, Some("chat"), Some("ws.expect"),
             "`ws.expect` needs an open WebSocket, but step `close` closed it: add a step with ws.connect between them"),
        ]),
        ("zero-users.toml", vec![(4, 9, None, Some("load.users"), "load.users must be at least 1 (got 0)")]),
        ("think-min-max.toml", vec![(5, 9, Some("pause"), Some("think"),
            "think.min (3s) is greater than think.max (1s); min must be at most max")]),
        ("bad-status.toml", vec![(6, 21, Some("health"), Some("http.status[1]"),
            "600 is not an HTTP status: use 100..=599")]),
        ("bad-header.toml", vec![(6, 18, Some("health"), Some("http.headers.X Bad Header"),
            "invalid header name \"X Bad Header\": use letters, digits and !#$%&'*+-.^_`|~ only")]),
        ("framing-headers.toml", vec![
            (7, 45, Some("login"), Some("http.headers.Content-Length"),
             "header `Content-Length` cannot be set by a scenario: the tool writes Content-Length from the body (http.json or http.body)"),
            (7, 69, Some("login"), Some("http.headers.Transfer-Encoding"),
             "header `Transfer-Encoding` cannot be set by a scenario: the tool frames every body with Content-Length; a second framing header makes the request ambiguous to proxies (request smuggling)"),
            (7, 102, Some("login"), Some("http.headers.Connection"),
             "header `Connection` cannot be set by a scenario: the tool manages its connections itself (kept alive and reused per user)"),
            (7, 138, Some("login"), Some("http.headers.x-id"),
             "header `x-id` is given twice (also as `X-Id`; header names ignore case): keep one"),
            (13, 16, Some("connect"), Some("ws.headers.Sec-WebSocket-Protocol"),
             "header `Sec-WebSocket-Protocol` cannot be set by a scenario: list subprotocols in ws.subprotocols instead, e.g. ws.subprotocols = [\"jwt.{{token}}\"]"),
            (13, 52, Some("connect"), Some("ws.headers.Upgrade"),
             "header `Upgrade` cannot be set by a scenario: ws.connect writes the WebSocket upgrade itself"),
        ]),
        ("bad-urls.toml", vec![
            (4, 12, None, Some("target.base_url"), "target.base_url has port 99999, outside 1..=65535"),
            (5, 12, None, Some("target.auth_url"), CREDENTIALS_ADMIN),
            (6, 10, None, Some("target.ws_url"), "target.ws_url has no host after the scheme (e.g. localhost:8000)"),
            (10, 34, Some("health"), Some("http.url"),
             "http.url contains whitespace or a control character (at byte 21)"),
            (14, 14, Some("connect"), Some("ws.connect"),
             "ws.connect must be an absolute URL starting with ws:// or wss://: start it with {{ws_url}}, the WebSocket URL of the target"),
            (18, 12, Some("login"), Some("http.url"), CREDENTIALS_BOB),
        ]),
        ("connect-with-send.toml", vec![(6, 11, Some("connect"), Some("ws.send"),
            "ws.send cannot go in a ws.connect step: split into two steps, one with ws.connect and one after it with ws.send")]),
        ("many-errors.toml", vec![
            (5, 9, None, Some("load.users"), "load.users must be at least 1 (got 0)"),
            (10, 15, Some("login"), Some("http.method"),
             "bad HTTP method \"FETCH\"; allowed: GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"),
            (12, 26, Some("login"), Some("http.extract.token"),
             "JSON pointer \"access_token\" must start with `/`, e.g. \"/access_token\""),
            (17, 14, Some("connect"), Some("ws.timeout"), bad_duration_ws),
            (21, 44, Some("chat"), Some("ws.send.text"),
             "unknown variable `nope` (did you mean `now`?); declared variables: token; built-ins: vu, iteration, uuid, now, base_url, auth_url, ws_url, env.NAME, env.NAME:-default"),
            (24, 14, Some("chat"), Some("ws.max_gap"), "ws.max_gap (30s) must not be longer than ws.within (10s)"),
            (29, 6, Some("typo"), Some("http.stauts"),
             "unknown key `stauts`; allowed keys: method, url, headers, json, body, status, extract, timeout, max_body, max_header_size, max_headers"),
            (33, 9, Some("pause"), Some("think"),
             "think.min (3s) is greater than think.max (1s); min must be at most max"),
            (36, 8, Some("chat"), Some("name"),
             "step name `chat` is already used by the step on line 20; step names must be unique across [[setup]] and [[steps]]"),
            (37, 21, Some("chat"), Some("ws.close.code"), "close code 1001 is not allowed: use 1000 or 3000..=4999"),
        ]),
    ]
}

/// Fixtures whose checks need `Expr::compile` (kept apart so the others run without it).
const WITH_EXPRESSIONS: [&str; 3] = [
    "bad-expect.toml",
    "send-without-connect.toml",
    "many-errors.toml",
];

#[test]
fn every_bad_fixture_has_expectations() {
    let mut on_disk: Vec<String> = std::fs::read_dir(root().join("tests/fixtures/bad"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = cases().iter().map(|(f, _)| f.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed);
}

#[test]
fn bad_fixtures_report_exactly_their_errors() {
    check_fixtures(|f| !WITH_EXPRESSIONS.contains(&f));
}

#[test]
fn bad_fixtures_with_expressions_report_exactly_their_errors() {
    check_fixtures(|f| WITH_EXPRESSIONS.contains(&f));
}

fn check_fixtures(select: impl Fn(&str) -> bool) {
    let dir = root().join("tests/fixtures/bad");
    for (file, expected) in cases().into_iter().filter(|(f, _)| select(f)) {
        let path = dir.join(file);
        let got = compile_file(&path, &Overrides::default()).expect_err(file);
        let summary: Vec<String> = got.iter().map(|d| format!("{d}")).collect();
        assert_eq!(got.len(), expected.len(), "{file}: {summary:#?}");
        for (d, (line, col, step, field, message)) in got.iter().zip(&expected) {
            assert_eq!(d.place.file, path, "{file}");
            assert_eq!((d.place.line, d.place.col), (*line, *col), "{file}: {d}");
            assert_eq!(d.step.as_deref(), *step, "{file}: {d}");
            assert_eq!(d.field.as_deref(), *field, "{file}: {d}");
            assert_eq!(d.message, *message, "{file}");
            for secret in ["sekrit", "hunter2", "pa55word"] {
                assert!(!d.message.contains(secret), "{file}: secret shown: {d}");
            }
        }
    }
}

fn scenario(name: &str) -> Plan {
    let path = root().join("scenarios").join(name);
    match compile_file(&path, &Overrides::default()) {
        Ok(plan) => plan,
        Err(ds) => panic!("{name}: {ds:#?}"),
    }
}

fn ctx(vars: &[Option<String>]) -> Ctx<'_> {
    Ctx {
        vu: 42,
        iteration: 0,
        vars,
    }
}

#[test]
fn golden_path_compiles_to_the_expected_plan() {
    let plan = scenario("golden-path.toml");
    assert_eq!(plan.name, "golden-path");
    assert_eq!(plan.target.base_url, "http://localhost:8000");
    assert_eq!(plan.target.auth_url, "http://localhost:8081");
    assert_eq!(plan.target.ws_url, "ws://localhost:8000");
    assert_eq!(plan.load.users, 10);
    assert_eq!(plan.load.spawn_rate, 10.0);
    assert_eq!(plan.load.duration, Some(Duration::from_secs(30)));
    assert_eq!(plan.load.iterations, None);
    assert_eq!(plan.load.graceful_stop, Duration::from_secs(5));
    assert_eq!(plan.setup_len, 1);
    let names: Vec<&str> = plan.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["login", "connect", "handshake", "chat", "close"]);
    let kinds: Vec<&str> = plan.steps.iter().map(|s| s.kind.label()).collect();
    assert_eq!(
        kinds,
        [
            "http",
            "ws.connect",
            "ws.exchange",
            "ws.exchange",
            "ws.close"
        ]
    );
    for (i, s) in plan.steps.iter().enumerate() {
        assert_eq!(usize::from(s.id), i);
    }
    assert_eq!((plan.steps[0].place.line, plan.steps[0].place.col), (25, 8));
    let vars: Vec<(&str, Option<&str>)> = plan
        .vars
        .iter()
        .map(|v| (v.name.as_str(), v.default.as_deref()))
        .collect();
    assert_eq!(vars, [("thread_id", Some("")), ("token", None)]);

    // login: the password falls back to its default; the body is valid JSON.
    let StepKind::Http(login) = &plan.steps[0].kind else {
        panic!()
    };
    assert_eq!(login.method, http::Method::POST);
    assert_eq!(
        login.url.parts,
        [Part::Lit("http://localhost:8081/auth/login".into())]
    );
    assert_eq!(login.expect_status, [200]);
    assert_eq!(login.extract[0].pointer, "/access_token");
    assert_eq!(login.timeout, Duration::from_secs(30));
    let Some(Body::Json(body)) = &login.body else {
        panic!()
    };
    let rendered = body.render(&ctx(&[None, None])).unwrap();
    assert_eq!(
        rendered,
        r#"{"email":"loadtest-42@example.test","password":"loadtest"}"#
    );

    // connect: token in subprotocol and header, two responders.
    let StepKind::WsConnect(c) = &plan.steps[1].kind else {
        panic!()
    };
    assert_eq!(c.url.parts, [Part::Lit("ws://localhost:8000/ws".into())]);
    let vars = [Some("th\"r".to_string()), Some("T0K".to_string())];
    assert_eq!(c.subprotocols[0].render(&ctx(&vars)).unwrap(), "jwt.T0K");
    assert_eq!(c.headers[0].0.as_str(), "authorization");
    assert_eq!(c.headers[0].1.render(&ctx(&vars)).unwrap(), "Bearer T0K");
    assert_eq!(c.timeout, Duration::from_secs(10));
    assert_eq!(c.responders.len(), 2);
    assert_eq!(plan.event_name(c.responders[0].on), "ping");
    assert_eq!(plan.event_name(c.responders[1].on), "handshake_response");
    assert_eq!(c.responders[1].capture[0].var, 0);
    let ack = c.responders[1]
        .send
        .as_ref()
        .unwrap()
        .render(&ctx(&vars))
        .unwrap();
    let ack: serde_json::Value = serde_json::from_str(&ack).unwrap();
    assert_eq!(ack["type"], "handshake_acknowledged");
    assert_eq!(ack["thread_id"], "th\"r");

    // handshake and chat: expectations and their metrics.
    let StepKind::WsExchange(hs) = &plan.steps[2].kind else {
        panic!()
    };
    assert!(hs.send.is_none());
    let hs = hs.expect.as_ref().unwrap();
    assert_eq!(hs.settle, Duration::from_millis(300));
    assert_eq!(hs.within, Duration::from_secs(10));
    assert_eq!(hs.fail_on.len(), 6, "default fail_on");
    assert_eq!(hs.unlisted, Unlisted::Fail);
    let StepKind::WsExchange(chat) = &plan.steps[3].kind else {
        panic!()
    };
    let sent = chat.send.as_ref().unwrap().render(&ctx(&vars)).unwrap();
    let sent: serde_json::Value = serde_json::from_str(&sent).unwrap();
    assert_eq!(sent["payload"]["thread_id"], "th\"r");
    let ex = chat.expect.as_ref().unwrap();
    assert_eq!(ex.first_event_within, Some(Duration::from_secs(5)));
    assert_eq!(ex.max_gap, Some(Duration::from_secs(30)));
    assert_eq!(ex.ignore.len(), 11);
    for (e, step) in [(hs, 2u16), (ex, 3)] {
        let alphabet = e.expr.alphabet();
        let metrics = &plan.event_metrics[e.metric_base..e.metric_base + alphabet.len()];
        assert!(metrics
            .iter()
            .zip(alphabet)
            .all(|(m, a)| m.step == step && m.event == *a));
    }
    // After the alphabet: the noise the step ignores and the errors it fails on, named literally
    // (globs such as `heartbeat*` are matched at run time, not counted by name).
    use crate::plan::stream::Role;
    let roles = |e: &crate::plan::Expectation| {
        let m = &plan.event_metrics[e.metric_base..e.metric_base + e.metrics];
        (
            m.iter().filter(|m| m.role == Role::Expected).count(),
            m.iter().filter(|m| m.role == Role::Ignored).count(),
            m.iter().filter(|m| m.role == Role::FailOn).count(),
        )
    };
    assert_eq!(roles(hs), (2, 4, 6));
    assert_eq!(roles(ex), (5, 8, 6));
    assert_eq!(hs.metric_base, 0);
    assert_eq!(ex.metric_base, 12);
    assert_eq!(plan.event_metrics.len(), 31);
    // Budgets: the protocol's defaults for the chat's agent_started and agent_completed.
    let budget = |name: &str| {
        plan.event_metrics[ex.metric_base..]
            .iter()
            .find(|m| plan.event_name(m.event) == name)
            .and_then(|m| m.budget)
    };
    assert_eq!(budget("agent_started"), Some(Duration::from_secs(5)));
    assert_eq!(budget("agent_completed"), Some(Duration::from_secs(60)));
    assert_eq!(budget("agent_thinking"), None);
    // Every event type of the plan is resolved in each exchange's table: one lookup per frame.
    for e in [hs, ex] {
        assert_eq!(e.table.len(), plan.events.len());
    }
    assert!(ex.tools.is_some() && hs.tools.is_none());
    for name in [
        "ping",
        "handshake_complete",
        "agent_started",
        "tool_completed",
        "agent_completed",
    ] {
        assert!(plan.event_id(name).is_some(), "{name} interned");
    }
    assert!(
        plan.event_id("heartbeat*").is_none(),
        "globs are not events"
    );
    let StepKind::WsClose(close) = &plan.steps[4].kind else {
        panic!()
    };
    assert_eq!(close.code, 1000);
}

#[test]
fn smoke_and_http_health_compile() {
    let smoke = scenario("smoke.toml");
    assert_eq!(smoke.setup_len, 0);
    assert_eq!((smoke.load.users, smoke.load.iterations), (1, Some(1)));
    assert_eq!(smoke.steps.len(), 7);
    let health = scenario("http-health.toml");
    assert_eq!(health.load.users, 50);
    assert_eq!(health.load.spawn_rate, 50.0, "spawn_rate defaults to users");
    assert_eq!(health.load.duration, Some(Duration::from_secs(10)));
    assert_eq!(health.load.iterations, None);
    assert_eq!(
        health.target.auth_url, "http://localhost:8000",
        "auth_url defaults to base_url"
    );
}

#[test]
fn overrides_win_and_auth_and_ws_urls_follow_the_overridden_base_url() {
    let o = Overrides {
        base_url: Some("https://api.example.test/".into()),
        users: Some(3),
        iterations: Some(2),
        ..Overrides::default()
    };
    let plan = compile_file(&root().join("scenarios/golden-path.toml"), &o).unwrap();
    assert_eq!(plan.target.base_url, "https://api.example.test");
    assert_eq!(plan.target.ws_url, "wss://api.example.test");
    assert_eq!(
        plan.target.auth_url, "https://api.example.test",
        "the scenario's localhost auth_url goes with its own base_url only"
    );
    assert_eq!((plan.load.users, plan.load.iterations), (3, Some(2)));
    let StepKind::WsConnect(c) = &plan.steps[1].kind else {
        panic!()
    };
    assert_eq!(c.url.parts, [Part::Lit("wss://api.example.test/ws".into())]);
}

#[test]
fn bad_overrides_are_reported_without_their_value() {
    let o = Overrides {
        base_url: Some("ftp://secret@host".into()),
        users: Some(0),
        ..Overrides::default()
    };
    let ds = compile_file(&root().join("scenarios/http-health.toml"), &o).unwrap_err();
    assert_eq!(ds.len(), 2, "{ds:#?}");
    assert!(ds
        .iter()
        .all(|d| d.place.line == 0 && !d.message.contains("secret")));
}

#[test]
fn defaults_for_a_minimal_file() {
    let plan =
        compile_text("name = \"m\"\n[[steps]]\nname = \"h\"\nhttp.url = \"{{base_url}}/h\"\n")
            .unwrap();
    assert_eq!(plan.target.base_url, "http://localhost:8000");
    assert_eq!(plan.target.ws_url, "ws://localhost:8000");
    assert_eq!(plan.load.users, 1);
    assert_eq!(plan.load.spawn_rate, 1.0);
    assert_eq!(
        plan.load.iterations,
        Some(1),
        "neither duration nor iterations: one iteration"
    );
    let StepKind::Http(h) = &plan.steps[0].kind else {
        panic!()
    };
    assert_eq!(h.method, http::Method::GET);
    assert!(h.expect_status.is_empty(), "any 2xx");
    assert!(h.body.is_none());
}

#[test]
fn setup_connection_serves_iteration_steps() {
    let text = r#"
name = "s"
[[setup]]
name = "connect"
ws.connect = "{{ws_url}}/ws"
[[steps]]
name = "chat"
ws.send = "hello {{vu}}"
ws.fail_on = []
ws.unlisted = "ignore"
ws.expect = "a"
ws.capture = { tid = { event = "b", pointer = "/x" } }
[[steps]]
name = "wait"
think = { min = "1s", max = "2.5s" }
[[steps]]
name = "nap"
think = 2
"#;
    let plan = compile_text(text).unwrap();
    let StepKind::WsExchange(x) = &plan.steps[1].kind else {
        panic!()
    };
    assert_eq!(
        x.send.as_ref().unwrap().parts,
        [Part::Lit("hello ".into()), Part::Vu]
    );
    let e = x.expect.as_ref().unwrap();
    assert!(e.fail_on.is_empty(), "[] disables fail_on");
    assert_eq!(e.unlisted, Unlisted::Ignore);
    assert_eq!(e.captures[0].0, plan.event_id("b").unwrap());
    assert_eq!(plan.vars[0].name, "tid");
    let StepKind::Think(t) = &plan.steps[2].kind else {
        panic!()
    };
    assert_eq!(
        (t.min, t.max),
        (Duration::from_secs(1), Duration::from_millis(2500))
    );
    let StepKind::Think(t) = &plan.steps[3].kind else {
        panic!()
    };
    assert_eq!(
        (t.min, t.max),
        (Duration::from_secs(2), Duration::from_secs(2))
    );
}

#[test]
fn json_keeps_key_order_and_vu_stays_a_string() {
    let text = r#"
name = "j"
[[steps]]
name = "post"
http.method = "post"
http.url = "{{base_url}}/x"
http.json = { z = "{{vu}}", a = [1, 2.5, true], m = { k = "v\"q" } }
http.status = [200, 201]
"#;
    let plan = compile_text(text).unwrap();
    let StepKind::Http(h) = &plan.steps[0].kind else {
        panic!()
    };
    assert_eq!(h.method, http::Method::POST, "methods are case-insensitive");
    assert_eq!(h.expect_status, [200, 201]);
    let Some(Body::Json(t)) = &h.body else {
        panic!()
    };
    assert_eq!(
        t.render(&ctx(&[])).unwrap(),
        r#"{"z":"42","a":[1,2.5,true],"m":{"k":"v\"q"}}"#
    );
}

#[test]
fn ws_step_kind_rules() {
    let text = r#"
name = "w"
[[steps]]
name = "c"
ws.connect = "http://x/ws"
[[steps]]
name = "x"
ws.within = "5s"
ws.send = { t = 1 }
ws.respond = []
[[steps]]
name = "y"
ws.close = { code = 4000 }
ws.expect = "a"
[[steps]]
name = "z"
ws.ignore = ["a"]
"#;
    let ds = compile_text(text).unwrap_err();
    let got: Vec<(usize, &str, &str)> = ds
        .iter()
        .map(|d| {
            (
                d.place.line,
                d.field.as_deref().unwrap_or(""),
                d.message.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                5,
                "ws.connect",
                "ws.connect must be an absolute URL starting with ws:// or wss://"
            ),
            (8, "ws.within", "ws.within needs ws.expect in the same step"),
            (
                10,
                "ws.respond",
                "ws.respond is only allowed in a step with ws.connect"
            ),
            (
                14,
                "ws.expect",
                "ws.close must be alone in its step: move ws.expect to another step"
            ),
            (
                17,
                "ws",
                "a ws step needs `connect`, `close`, `send` or `expect`"
            ),
        ]
    );
}

#[test]
fn a_broken_step_still_declares_its_variables() {
    let text = r#"
name = "v"
[vars]
n = 1
[[setup]]
name = "login"
http.url = "{{base_url}}/login"
http.extract = { token = "/t" }
http.stauts = 200
[[steps]]
name = "me"
http.url = "{{base_url}}/me?t={{token}}&n={{n}}"
"#;
    let ds = compile_text(text).unwrap_err();
    let got: Vec<(usize, &str)> = ds
        .iter()
        .map(|d| (d.place.line, d.message.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (4, "invalid type: integer `1`, expected a string"),
            (
                9,
                "unknown key `stauts`; allowed keys: method, url, headers, json, body, status, extract, timeout, max_body, max_header_size, max_headers"
            ),
        ]
    );
}

#[test]
fn ws_limits_and_the_close_timeout_compile_with_defaults() {
    let text = r#"
name = "limits"
[[steps]]
name = "connect"
ws.connect = "ws://127.0.0.1:1/ws"
ws.max_message = "4MiB"
[[steps]]
name = "close"
ws.close = true
ws.timeout = "2s"
[[steps]]
name = "again"
ws.connect = "ws://127.0.0.1:1/ws"
[[steps]]
name = "close-again"
ws.close = { code = 4000 }
"#;
    let plan = compile_text(text).unwrap();
    let kinds: Vec<&StepKind> = plan.steps.iter().map(|s| &s.kind).collect();
    let (
        StepKind::WsConnect(a),
        StepKind::WsClose(b),
        StepKind::WsConnect(c),
        StepKind::WsClose(d),
    ) = (kinds[0], kinds[1], kinds[2], kinds[3])
    else {
        panic!("connect, close, connect, close");
    };
    assert_eq!(a.max_message, 4 << 20);
    assert_eq!(c.max_message, crate::transport::ws::DEFAULT_MAX_MESSAGE);
    assert_eq!((b.code, b.timeout), (1000, Duration::from_secs(2)));
    assert_eq!((d.code, d.timeout), (4000, Duration::from_secs(5)));

    let bad = r#"
name = "limits"
[[steps]]
name = "connect"
ws.connect = "ws://127.0.0.1:1/ws"
ws.max_message = "2GiB"
[[steps]]
name = "chat"
ws.send = "x"
ws.max_message = 100
ws.timeout = "1s"
"#;
    let got: Vec<(usize, String)> = compile_text(bad)
        .unwrap_err()
        .iter()
        .map(|d| (d.place.line, d.message.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (
                6,
                "ws.max_message must be between 1KiB and 1GiB (got 2147483648 bytes)".to_string()
            ),
            (
                10,
                "ws.max_message is only allowed in a step with ws.connect".to_string()
            ),
            (
                11,
                "ws.timeout is only allowed in a step with ws.connect or ws.close".to_string()
            ),
        ]
    );
}
