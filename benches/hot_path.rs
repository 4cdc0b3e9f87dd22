//! Criterion benches of the hot path: record + merge, event classification, expectation matching, template rendering, HTTP response reading, failure-transcript recording.
//!
//! Everything goes through the library's public API on the shipped scenarios, so a change that
//! slows what every virtual user does per frame or per flow shows up here. `cargo bench` runs
//! them; `cargo bench -- classify` runs one group.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

use load_tester::metrics::recorder::Recorder;
use load_tester::plan::{Body, EventId, Expectation, Plan, StepKind};
use load_tester::scenario::template::Ctx;
use load_tester::scenario::{self, Overrides};
use load_tester::transport::ws::event_type;

/// The golden five in the mock's default order (two thoughts, one tool).
const GOLDEN: [&str; 6] = [
    "agent_started",
    "agent_thinking",
    "agent_thinking",
    "tool_executing",
    "tool_completed",
    "agent_completed",
];

/// One representative frame per envelope of docs/protocol.md §5.
const FRAMES: [(&str, &str); 4] = [
    (
        "flat",
        r#"{"type":"tool_completed","run_id":"run_7f3a","thread_id":"thr_abc","user_id":"e2e-42","agent_name":"data","tool_name":"cost_query","results":{"rows":12},"duration":812,"success":true,"timestamp":"2026-10-27T12:00:00.812Z","critical":true}"#,
    ),
    (
        "data",
        r#"{"type":"tool_completed","run_id":"run_7f3a","thread_id":"thr_abc","user_id":"e2e-42","agent_name":"data","timestamp":"2026-10-27T12:00:00.812Z","data":{"tool_name":"cost_query","result":{"rows":12},"execution_time_ms":812,"status":"completed"}}"#,
    ),
    (
        "payload",
        r#"{"type":"tool_completed","payload":{"run_id":"run_7f3a","thread_id":"thr_abc","user_id":"e2e-42","agent_name":"data","tool_name":"cost_query","results":{"rows":12},"duration":812,"timestamp":"2026-10-27T12:00:00.812Z"}}"#,
    ),
    (
        "system_message",
        r#"{"type":"system_message","data":{"event":"tool_completed","type":"tool_completed","run_id":"run_7f3a","thread_id":"thr_abc","user_id":"e2e-42","agent_name":"data","tool_name":"cost_query","results":{"rows":12},"duration":812,"timestamp":"2026-10-27T12:00:00.812Z"}}"#,
    ),
];

fn load(name: &str, overrides: &Overrides) -> Plan {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    match scenario::load(&path, overrides, &|_| None) {
        Ok(plan) => plan,
        Err(diags) => {
            for d in &diags {
                eprintln!("{d}");
            }
            panic!("{} does not compile", path.display());
        }
    }
}

fn golden() -> Plan {
    load("golden-path.toml", &Overrides::default())
}

/// The golden path as an open-model run: recording also fills the corrected histograms.
fn golden_open() -> Plan {
    let overrides = Overrides {
        arrival_rate: Some(100.0),
        ..Overrides::default()
    };
    load("golden-path.toml", &overrides)
}

fn step_id(plan: &Plan, name: &str) -> u16 {
    plan.steps
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.id)
        .unwrap_or_else(|| panic!("no step '{name}' in {}", plan.name))
}

fn chat_expectation(plan: &Plan) -> &Expectation {
    plan.steps
        .iter()
        .find_map(|s| match &s.kind {
            StepKind::WsExchange(x) if s.name == "chat" => x.expect.as_ref(),
            _ => None,
        })
        .expect("golden-path.toml has a 'chat' step with ws.expect")
}

fn golden_ids(plan: &Plan) -> Vec<EventId> {
    GOLDEN
        .iter()
        .map(|n| {
            plan.event_id(n)
                .unwrap_or_else(|| panic!("{n} not interned"))
        })
        .collect()
}

/// What one passing golden-path flow records: four steps, five events, five gaps, the flow.
fn record_flow(rec: &mut Recorder, ids: &FlowIds, i: u64, lag: Option<Duration>) {
    // Vary the values so the histogram buckets touched change from flow to flow.
    let jitter = Duration::from_micros(i % 997);
    rec.flow_started();
    rec.step_ok(ids.connect, Duration::from_micros(410) + jitter, lag);
    rec.step_ok(ids.handshake, Duration::from_micros(300_900) + jitter, lag);
    for (k, metric) in (ids.metric_base..ids.metric_base + 5).enumerate() {
        let since = Duration::from_micros(120 + 60 * k as u64) + jitter;
        let id = load_tester::plan::MetricId(metric as u16);
        rec.event(id, since, lag, 300, 0);
        if let (Some(stream), Some(k)) = (rec.stream(ids.chat), k.checked_sub(1)) {
            stream.pair(k as u16, k as u16 + 1, Duration::from_micros(60) + jitter);
        }
    }
    rec.step_ok(ids.chat, Duration::from_micros(330) + jitter, lag);
    rec.step_ok(ids.close, Duration::from_micros(40) + jitter, lag);
    rec.flow_passed(Duration::from_micros(301_700) + jitter, lag, false);
}

struct FlowIds {
    connect: u16,
    handshake: u16,
    chat: u16,
    close: u16,
    metric_base: usize,
}

impl FlowIds {
    fn of(plan: &Plan) -> Self {
        FlowIds {
            connect: step_id(plan, "connect"),
            handshake: step_id(plan, "handshake"),
            chat: step_id(plan, "chat"),
            close: step_id(plan, "close"),
            metric_base: chat_expectation(plan).metric_base,
        }
    }
}

fn bench_record(c: &mut Criterion) {
    let mut g = c.benchmark_group("record");
    for (label, plan, lag) in [
        ("flow_closed", golden(), None),
        ("flow_open", golden_open(), Some(Duration::from_micros(250))),
    ] {
        let ids = FlowIds::of(&plan);
        let mut rec = Recorder::new(&plan);
        let mut i = 0u64;
        g.throughput(Throughput::Elements(1));
        g.bench_function(label, |b| {
            b.iter(|| {
                i += 1;
                record_flow(&mut rec, &ids, black_box(i), black_box(lag));
            })
        });
        black_box(&rec);
    }
    g.finish();

    // Merging two workers' recorders, each holding 10,000 flows with spread-out latencies.
    let plan = golden_open();
    let ids = FlowIds::of(&plan);
    let filled = |seed: u64| {
        let mut rec = Recorder::new(&plan);
        for i in 0..10_000u64 {
            let spread = Duration::from_micros((i * 7919 + seed) % 2_000_000);
            record_flow(&mut rec, &ids, i + seed, Some(spread));
        }
        rec
    };
    let a = filled(1);
    let b = filled(2);
    let mut g = c.benchmark_group("merge");
    g.bench_function("recorder_add_assign", |bench| {
        bench.iter_batched_ref(
            || a.clone(),
            |acc| *acc += black_box(&b),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn bench_classify(c: &mut Criterion) {
    let plan = golden();
    let wrappers = &plan.envelope.wrappers;
    let mut g = c.benchmark_group("classify");
    g.throughput(Throughput::Elements(1));
    for (envelope, frame) in FRAMES {
        assert_eq!(
            event_type(frame, wrappers).as_deref(),
            Some("tool_completed"),
            "{envelope} frame"
        );
        g.bench_function(envelope, |b| {
            b.iter(|| event_type(black_box(frame), black_box(wrappers)))
        });
    }
    // Type, then the interned id the runner looks up next.
    let (_, frame) = FRAMES[1];
    g.bench_function("data+event_id", |b| {
        b.iter(|| event_type(black_box(frame), wrappers).and_then(|name| plan.event_id(&name)))
    });
    g.finish();
}

fn bench_expect(c: &mut Criterion) {
    let plan = golden();
    let expr = &chat_expectation(&plan).expr;
    let seq = golden_ids(&plan);
    let run = |seq: &[EventId]| {
        let mut s = expr.start();
        for &e in seq {
            s = expr.step(s, e)?;
        }
        Some(expr.is_accepting(s))
    };
    assert_eq!(run(&seq), Some(true), "the golden sequence must match");

    let mut g = c.benchmark_group("expect");
    g.throughput(Throughput::Elements(seq.len() as u64));
    g.bench_function("golden_sequence", |b| b.iter(|| run(black_box(&seq))));

    // The whole per-frame path of a flow: classify each frame of the mock's default run (data
    // envelope), intern, step the DFA.
    let frames: Vec<String> = GOLDEN
        .iter()
        .map(|t| format!(r#"{{"type":"{t}","run_id":"run_7f3a","thread_id":"thr_abc","user_id":"e2e-42","agent_name":"Supervisor","timestamp":"2026-10-27T12:00:00.812Z","data":{{"status":"ok","step_number":1}}}}"#))
        .collect();
    let wrappers = &plan.envelope.wrappers;
    g.bench_function("golden_frames", |b| {
        b.iter(|| {
            let mut s = expr.start();
            for f in &frames {
                let id = event_type(black_box(f), wrappers).and_then(|n| plan.event_id(&n))?;
                s = expr.step(s, id)?;
            }
            Some(expr.is_accepting(s))
        })
    });
    g.finish();
}

fn bench_template(c: &mut Criterion) {
    let plan = golden();
    let login = plan
        .steps
        .iter()
        .find_map(|s| match &s.kind {
            StepKind::Http(h) if s.name == "login" => match &h.body {
                Some(Body::Json(t)) => Some(t),
                _ => None,
            },
            _ => None,
        })
        .expect("golden-path.toml's login step has a JSON body");
    let chat = plan
        .steps
        .iter()
        .find_map(|s| match &s.kind {
            StepKind::WsExchange(x) if s.name == "chat" => x.send.as_ref(),
            _ => None,
        })
        .expect("golden-path.toml's chat step sends a message");
    // Every variable set, as after login and handshake.
    let vars: Vec<Option<String>> = plan
        .vars
        .iter()
        .map(|v| Some(v.default.clone().unwrap_or_else(|| "thr_\"7f3a\"".into())))
        .collect();
    let mut out = String::with_capacity(256);

    let mut g = c.benchmark_group("template");
    g.throughput(Throughput::Elements(1));
    let mut vu = 0u64;
    g.bench_function("login_body", |b| {
        b.iter(|| {
            vu += 1;
            let ctx = Ctx {
                vu: black_box(vu),
                iteration: 0,
                vars: &vars,
            };
            out.clear();
            let r = login.render_into(&ctx, &mut out);
            black_box(&out);
            r
        })
    });
    g.bench_function("chat_message", |b| {
        b.iter(|| {
            let ctx = Ctx {
                vu: 7,
                iteration: black_box(3),
                vars: &vars,
            };
            out.clear();
            let r = chat.render_into(&ctx, &mut out);
            black_box(&out);
            r
        })
    });
    g.finish();
}

/// Reading a typical login response (and a chunked one) with the client's sans-IO reader;
/// `httparse` on the same head for scale (what the client used before).
fn bench_http(c: &mut Criterion) {
    use load_tester::transport::h1::{Limits, Progress, Reader};
    const LOGIN: &[u8] = b"HTTP/1.1 200 OK\r\ndate: Mon, 27 Oct 2026 12:00:00 GMT\r\n\
        content-type: application/json\r\ncontent-length: 67\r\nconnection: keep-alive\r\n\
        server: uvicorn\r\n\r\n{\"access_token\":\"eyJhbGciOiJIUzI1NiJ9.e30.x\",\"token_type\":\"bearer\"}";
    const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
        transfer-encoding: chunked\r\n\r\n21\r\n{\"access_token\":\"eyJhbGciOiJIUzI1\r\n\
        22\r\nNiJ9.e30.x\",\"token_type\":\"bearer\"}\r\n0\r\n\r\n";
    let mut g = c.benchmark_group("http");
    g.throughput(Throughput::Elements(1));
    let mut buf = Vec::with_capacity(4096);
    let mut read = |resp: &[u8]| {
        buf.clear();
        buf.extend_from_slice(resp);
        let mut r = Reader::new(Limits::default(), false);
        match r.advance(&mut buf) {
            Ok(Progress::Done(p)) => p.body.len(),
            _ => 0,
        }
    };
    assert_eq!(
        (read(LOGIN), read(CHUNKED)),
        (67, 67),
        "the sample responses are whole"
    );
    for (name, resp) in [("login_length", LOGIN), ("login_chunked", CHUNKED)] {
        g.bench_function(name, |b| b.iter(|| read(black_box(resp))));
    }
    g.bench_function("httparse_head", |b| {
        b.iter(|| {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut resp = httparse::Response::new(&mut headers);
            matches!(
                resp.parse(black_box(LOGIN)),
                Ok(httparse::Status::Complete(_))
            )
        })
    });
    g.finish();
}

/// Failure transcripts: what every flow pays (`golden_flow`: a user's tape cleared, then a
/// golden-path flow's frames recorded: the upgrade request and its 101, the message, the
/// welcome and six events), and what a kept failure pays once (`keep`: those frames redacted and
/// turned into transcript frames).
fn bench_tape(c: &mut Criterion) {
    use load_tester::metrics::transcript::{self, Direction, FrameType, Tape};
    let frames: Vec<String> = std::iter::once("connection_established")
        .chain(GOLDEN)
        .map(|t| format!(r#"{{"type":"{t}","run_id":"run_7f3a","thread_id":"thr_abc","user_id":"e2e-42","agent_name":"Supervisor","timestamp":"2026-10-27T12:00:00.812Z","data":{{"status":"ok","step_number":1,"message":"Supervisor has started processing your request"}}}}"#))
        .collect();
    let message = r#"{"type":"user_message","payload":{"content":"Give me three ways to cut my GPU spend.","thread_id":""}}"#;
    let headers = [(
        "Sec-WebSocket-Protocol",
        "jwt.eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
    )];
    let secrets = vec!["CANARY-7f3a9c".to_string()];
    let mut tape = Tape::new(transcript::raw_cap(&secrets));
    let flow = |tape: &mut Tape| {
        let now = tokio::time::Instant::now();
        tape.clear(now);
        let head = |out: &mut Vec<u8>| {
            transcript::write_head(out, "GET", "ws://127.0.0.1:8000/ws", headers.into_iter())
        };
        tape.record(now, Direction::Sent, FrameType::HttpRequest, 0, head, b"");
        tape.frame(now, Direction::Received, FrameType::HttpResponse, 101, b"");
        tape.frame(
            now,
            Direction::Sent,
            FrameType::WsText,
            0,
            message.as_bytes(),
        );
        for f in &frames {
            tape.frame(now, Direction::Received, FrameType::WsText, 0, f.as_bytes());
        }
    };
    let mut g = c.benchmark_group("tape");
    g.throughput(Throughput::Elements(frames.len() as u64 + 3));
    g.bench_function("golden_flow", |b| b.iter(|| flow(black_box(&mut tape))));
    flow(&mut tape);
    g.bench_function("keep", |b| {
        b.iter(|| tape.frames(black_box(&["CANARY-7f3a9c"])))
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_tape,
    bench_record,
    bench_classify,
    bench_expect,
    bench_template,
    bench_http
);
criterion_main!(benches);
