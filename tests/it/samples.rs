//! Results built in-process from fixed samples (no server, no clock), so every figure is the same
//! on every run: the inputs of the snapshot tests and of the schema test on rare fields.

use std::path::Path;
use std::time::Duration;

use load_tester::metrics::errors::{ErrorKind, EventRef, Failure, Phase};
use load_tester::metrics::recorder::{record, Activity, Recorder};
use load_tester::metrics::summary::{Mode, RunInfo, StoppedBy, Summary, ToolError, ToolErrorKind};
use load_tester::plan::{EventId, MetricId, Plan, StepId};
use load_tester::scenario::{self, Overrides};
use load_tester::shard::Shard;

/// The golden path in small: login, connect, an optional handshake that may end by its settle,
/// chat with ordered events, close.
pub const SCENARIO: &str = r#"
name = "sample"
[target]
base_url = "http://localhost:8000"
auth_url = "http://localhost:8081"
[load]
users = 4
iterations = 3
[[setup]]
name = "login"
http.method = "POST"
http.url = "{{auth_url}}/auth/login"
http.json = { email = "u-{{vu}}@example.test", password = "pw" }
http.status = 200
http.extract = { token = "/access_token" }
[[steps]]
name = "connect"
ws.connect = "{{ws_url}}/ws"
ws.subprotocols = ["jwt.{{token}}"]
[[steps]]
name = "handshake"
ws.expect = "(handshake_response handshake_complete)?"
ws.settle = "300ms"
ws.within = "10s"
[[steps]]
name = "chat"
ws.send = { type = "user_message", payload = { content = "hi" } }
ws.expect = "agent_started agent_thinking+ (tool_executing tool_completed)* agent_completed"
ws.fail_on = ["agent_error"]
ws.within = "60s"
[[steps]]
name = "close"
ws.close = true
"#;

/// The sample scenario, closed model (4 users × 3 iterations).
pub fn closed_plan() -> Plan {
    plan(&Overrides::default())
}

/// The sample scenario, open model (20 flows/s, a pool of 4 users, 10 s).
pub fn open_plan() -> Plan {
    plan(&Overrides {
        arrival_rate: Some(20.0),
        duration: Some(Duration::from_secs(10)),
        ..Overrides::default()
    })
}

fn plan(overrides: &Overrides) -> Plan {
    scenario::compile_bytes(
        SCENARIO.as_bytes(),
        Path::new("sample.toml"),
        overrides,
        &|_| None,
    )
    .expect("the sample scenario compiles")
}

pub fn step(plan: &Plan, name: &str) -> StepId {
    plan.steps
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("step {name}"))
        .id
}

pub fn event(plan: &Plan, name: &str) -> EventId {
    plan.event_id(name)
        .unwrap_or_else(|| panic!("event {name}"))
}

fn us(n: u64) -> Duration {
    Duration::from_micros(n)
}

/// Facts of a 10 s run that ended by itself.
pub fn info(mode: Mode) -> RunInfo {
    RunInfo {
        mode,
        stopped_by: StoppedBy::End,
        tool_errors: Vec::new(),
        shard: Shard::default(),
        started_at: "2026-01-02T03:04:05.000Z".into(),
        elapsed_s: 10.0,
        timeseries: Vec::new(),
    }
}

/// Which flows' handshakes end by the settle (a server without the handshake).
#[derive(Clone, Copy)]
enum Handshake {
    AllSettle,
    HalfSettle,
}

/// `users` logins, then `n` passing flows; flow `i`'s times grow with `i`, and it started
/// `lag(i)` late (open model).
fn pass_flows(
    plan: &Plan,
    rec: &mut Recorder,
    (users, n): (u64, u64),
    handshake: Handshake,
    lag: impl Fn(u64) -> u64,
) {
    for u in 0..users {
        let lag = plan.load.is_open().then(|| us(lag(u)));
        rec.step_ok(step(plan, "login"), us(40_000 + u * 3_100), lag);
    }
    for i in 0..n {
        let lag = plan.load.is_open().then(|| us(lag(i)));
        rec.flow_started();
        let connect = us(1_500 + i * 370);
        rec.step_ok(step(plan, "connect"), connect, lag);
        let settles = match handshake {
            Handshake::AllSettle => true,
            Handshake::HalfSettle => i % 2 == 0,
        };
        let handshake = if settles {
            rec.step_settled(step(plan, "handshake"));
            us(300_000)
        } else {
            events_and_gaps(plan, rec, "handshake", i, 20_000, lag)
        };
        let chat = events_and_gaps(plan, rec, "chat", i, 200_000, lag);
        let close = us(400 + i * 30);
        rec.step_ok(step(plan, "close"), close, lag);
        rec.flow_passed(connect + handshake + chat + close, lag, false);
    }
}

/// Records the expected events of one exchange step in order, `step_us` apart and later with
/// each flow; the step passes at its last event.
fn events_and_gaps(
    plan: &Plan,
    rec: &mut Recorder,
    name: &str,
    flow: u64,
    step_us: u64,
    lag: Option<Duration>,
) -> Duration {
    use load_tester::plan::stream::Role;
    let id = step(plan, name);
    let mut at = 0;
    let mut prev: Option<(u64, u16)> = None;
    // The expected events of the whole plan, numbered in order (noise rows aside).
    let expected = plan
        .event_metrics
        .iter()
        .enumerate()
        .filter(|(_, m)| m.role == Role::Expected);
    for (k, (metric, m)) in expected.enumerate() {
        if m.step != id {
            continue;
        }
        at += step_us + flow * step_us / 80 + k as u64 * 10_000;
        let text = if plan.event_name(m.event) == "agent_thinking" {
            120
        } else {
            0
        };
        rec.event(MetricId(metric as u16), us(at), lag, 180 + k * 10, text);
        if let Some(stats) = rec.event_stats.get_mut(metric) {
            stats.execution(1);
        }
        let stream = rec.stream(id).expect("an exchange step");
        match prev {
            None => record(&mut stream.first_event, at),
            Some((p, from)) => stream.pair(from, m.event, us(at - p)),
        }
        prev = Some((at, m.event));
    }
    if name == "chat" {
        let stream = rec.stream(id).expect("an exchange step");
        stream.tool("cost_query", us(245_000 + flow * 3_000), Some(230.0));
        record(&mut stream.events_per_flow, 5);
        record(&mut stream.bytes_per_flow, 1_150);
        stream.text_chars += 120;
        stream.text_chunks += 1;
        stream.stamped(0.004 + flow as f64 * 0.0005);
    }
    rec.step_ok(id, us(at), lag);
    us(at)
}

fn scheduling_lag(rec: &mut Recorder, base_us: u64) {
    for i in 0..100 {
        rec.scheduling_lag(us(base_us + i * base_us / 50));
    }
}

/// 4 users × 3 iterations, all passed; the handshake always ends by its settle.
pub fn passed() -> Summary {
    let plan = closed_plan();
    let mut rec = Recorder::new(&plan);
    pass_flows(&plan, &mut rec, (4, 12), Handshake::AllSettle, |_| 0);
    scheduling_lag(&mut rec, 120);
    Summary::build(&plan, &rec, info(Mode::Run))
}

fn fail(rec: &mut Recorder, step: StepId, kind: ErrorKind, phase: Phase, cause: Option<&str>) {
    let mut f = Failure::new(kind, phase);
    if let Some(c) = cause {
        f = f.cause(c);
    }
    rec.step_err(step, &f);
    rec.flow_started();
    rec.flow_failed();
}

/// 6 flows passed (half of their handshakes by the settle), 14 failed: several kinds, phases
/// and causes, more causes than shown, backoff.
pub fn failed() -> Summary {
    let plan = closed_plan();
    let mut rec = Recorder::new(&plan);
    pass_flows(&plan, &mut rec, (4, 6), Handshake::HalfSettle, |_| 0);
    let (login, connect, chat) = (
        step(&plan, "login"),
        step(&plan, "connect"),
        step(&plan, "chat"),
    );
    let missing = ErrorKind::EventMissing {
        missing: event(&plan, "tool_completed"),
        got: Some(EventRef::Known(event(&plan, "agent_completed"))),
    };
    for _ in 0..4 {
        fail(&mut rec, chat, missing, Phase::Events, None);
    }
    let refused = "ws://localhost:8000: Connection refused (os error 111)";
    for _ in 0..3 {
        fail(
            &mut rec,
            connect,
            ErrorKind::ConnectionRefused,
            Phase::Connect,
            Some(refused),
        );
    }
    let resets = [
        "ws://localhost:8000: Connection reset by peer (os error 104)",
        "ws://localhost:8000: Broken pipe (os error 32)",
        "ws://localhost:8000: Connection reset by peer (os error 104)",
        "ws://localhost:8000: Connection timed out (os error 110)",
        "ws://localhost:8000: Network is unreachable (os error 101)",
    ];
    for cause in resets {
        fail(&mut rec, chat, ErrorKind::Io, Phase::Frame, Some(cause));
    }
    let status =
        "http://localhost:8081/auth/login: 503 Service Unavailable: {\"detail\":\"overloaded\"}";
    fail(
        &mut rec,
        login,
        ErrorKind::HttpStatus(503),
        Phase::Response,
        Some(status),
    );
    let closed = "ws://localhost:8000: close frame 1011 \"internal error\"";
    fail(
        &mut rec,
        chat,
        ErrorKind::WsClosed(Some(1011)),
        Phase::Frame,
        Some(closed),
    );
    rec.backoffs = 14;
    rec.backoff_total = Duration::from_millis(2_450);
    scheduling_lag(&mut rec, 150);
    Summary::build(&plan, &rec, info(Mode::Run))
}

/// Open model: 40 flows each started a little later than planned, 5 arrivals dropped, and a
/// generator that ran late (saturated).
pub fn open() -> Summary {
    let plan = open_plan();
    let mut rec = Recorder::new(&plan);
    pass_flows(&plan, &mut rec, (4, 40), Handshake::AllSettle, |i| {
        2_000 + i * 700
    });
    rec.dropped = 5;
    scheduling_lag(&mut rec, 9_000);
    Summary::build(&plan, &rec, info(Mode::Run))
}

/// Stopped by a signal before any flow finished: three flows cut off in two places.
pub fn interrupted() -> Summary {
    let plan = closed_plan();
    let mut rec = Recorder::new(&plan);
    pass_flows(&plan, &mut rec, (3, 0), Handshake::AllSettle, |_| 0);
    let chat = Activity {
        step: step(&plan, "chat"),
        after_event: Some(event(&plan, "agent_thinking")),
    };
    let connect = Activity {
        step: step(&plan, "connect"),
        after_event: None,
    };
    for (at, waited_ms) in [(chat, 1_234), (chat, 870), (connect, 95)] {
        rec.flow_started();
        rec.flow_interrupted(at, Duration::from_millis(waited_ms));
    }
    scheduling_lag(&mut rec, 100);
    let info = RunInfo {
        stopped_by: StoppedBy::Signal,
        elapsed_s: 2.5,
        ..info(Mode::Run)
    };
    Summary::build(&plan, &rec, info)
}

/// The tool failed: a worker died, user tasks were lost to a panic, a flow failed `internal`.
pub fn tool_errors() -> Summary {
    let plan = closed_plan();
    let mut rec = Recorder::new(&plan);
    pass_flows(&plan, &mut rec, (2, 5), Handshake::AllSettle, |_| 0);
    let panic = "self-test panic at step chat (src/runner/vu.rs:120:9)";
    fail(
        &mut rec,
        step(&plan, "chat"),
        ErrorKind::Internal,
        Phase::Internal,
        Some(panic),
    );
    rec.users_lost = 2;
    scheduling_lag(&mut rec, 100);
    let info = RunInfo {
        tool_errors: vec![ToolError::new(
            ToolErrorKind::WorkerDied,
            "worker 1 died (a panic in load-tester); its users' results are lost",
        )],
        ..info(Mode::Run)
    };
    Summary::build(&plan, &rec, info)
}

/// Every sample, by name.
pub fn all() -> Vec<(&'static str, Summary)> {
    vec![
        ("passed", passed()),
        ("failed", failed()),
        ("open", open()),
        ("interrupted", interrupted()),
        ("tool_errors", tool_errors()),
    ]
}
