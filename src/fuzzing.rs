//! Fuzz harness bodies, shared by the cargo-fuzz targets (`fuzz/`) and by short property tests
//! in `cargo test`: each takes arbitrary bytes and must never panic, whatever they hold.
//!
//! Design choice: the bodies live in the library, so the fuzz crate's targets are one line each
//! and the same code runs in the ordinary test suite on seeded random inputs and structured
//! mutations of real results and frames (built here from the shipped golden path, so they follow
//! the current types).

use std::sync::OnceLock;

use crate::metrics::merge::{check, merge, merge_checked};
use crate::metrics::recorder::{new_histogram, record, Recorder};
use crate::metrics::summary::{decode_histogram, Latency, RunInfo, Summary};
use crate::plan::Plan;
use crate::shard::Shard;

/// Results merge and histogram decoding: `data` as a results file (checked, merged alone, with
/// itself and with a real shard), as a base64 histogram and as a serialized one.
pub fn merge_results(data: &[u8]) {
    if let Ok(s) = serde_json::from_slice::<Summary>(data) {
        let _ = check::consistent("fuzz.json", &s);
        let one = [input("fuzz.json", &s, Some(data))];
        let _ = merge_checked(&one, true);
        let _ = merge(&[s.clone(), s.clone()]);
        let real = &real_results()[0];
        let pair = [input("real.json", real, None), input("fuzz.json", &s, None)];
        let _ = merge_checked(&pair, true);
        let _ = merge(&[real.clone(), s]);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(h) = decode_histogram(text.trim()) {
            add(&h);
        }
    }
    let mut raw = data;
    if let Ok(h) = hdrhistogram::serialization::Deserializer::new().deserialize::<u64, _>(&mut raw)
    {
        add(&h);
    }
}

/// Adds a decoded histogram as merge does and derives its latency block.
fn add(h: &hdrhistogram::Histogram<u64>) {
    let mut total = new_histogram();
    let _ = total.add(h);
    let _ = Latency::from_histogram(&total);
}

fn input<'a>(label: &'a str, summary: &'a Summary, bytes: Option<&'a [u8]>) -> check::Input<'a> {
    check::Input {
        label,
        summary,
        bytes,
    }
}

/// WebSocket frame classification: `data` (as text) read by `transport::ws::event_type` with the
/// default wrappers and with none; the type found is always one the frame names.
pub fn classify_frame(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let wrappers = crate::plan::Envelope::default().wrappers;
    for w in [&wrappers[..], &[]] {
        let Some(found) = crate::transport::ws::event_type(&text, w) else {
            continue;
        };
        let v: serde_json::Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(_) => panic!("a type read from a frame that is not JSON: {text:?}"),
        };
        let named = [&v["type"], &v["data"]["event"], &v["data"]["type"]];
        assert!(
            named.iter().any(|n| n.as_str() == Some(&*found)),
            "type {found:?} is not named by the frame {text:?}"
        );
    }
}

/// The golden path's shape (login, connect, an optional handshake, the chat with the golden
/// five, close), inline: the library is built (e.g. in the image) without the scenario files.
const GOLDEN: &str = r#"
name = "golden-path"
[vars]
thread_id = ""
[[setup]]
name = "login"
http.method = "POST"
http.url = "{{auth_url}}/auth/login"
http.json = { email = "loadtest-{{vu}}@example.test", password = "pw" }
http.extract = { token = "/access_token" }
[[steps]]
name = "connect"
ws.connect = "{{ws_url}}/ws"
ws.subprotocols = ["jwt.{{token}}"]
ws.respond = [{ on = "ping", send = { type = "pong" } }]
[[steps]]
name = "handshake"
ws.expect = "(handshake_response handshake_complete)?"
ws.settle = "300ms"
ws.ignore = ["connection_established"]
[[steps]]
name = "chat"
ws.send = { type = "user_message", payload = { content = "hi" } }
ws.expect = "agent_started agent_thinking+ (tool_executing tool_completed)* agent_completed"
ws.ignore = ["connection_established", "heartbeat*"]
[[steps]]
name = "close"
ws.close = true
"#;

/// The golden path, compiled.
fn golden_plan() -> Option<Plan> {
    let path = std::path::Path::new("golden-path.toml");
    crate::scenario::compile::compile(GOLDEN, path, &Default::default(), &|_| None).ok()
}

/// Real results: the golden path's shards 1/2 and 2/2, with samples, an error and events.
pub fn real_results() -> &'static [Summary] {
    static RESULTS: OnceLock<Vec<Summary>> = OnceLock::new();
    RESULTS.get_or_init(|| {
        let Some(plan) = golden_plan() else {
            return Vec::new();
        };
        (0..2).map(|i| shard_results(&plan, i)).collect()
    })
}

fn shard_results(plan: &Plan, index: u32) -> Summary {
    let mut rec = Recorder::new(plan);
    for i in 0..(5 + u64::from(index)) {
        for s in 0..rec.steps.len() {
            rec.steps[s].ok += 1;
            record(&mut rec.steps[s].latency, 800 + 997 * i);
        }
        for h in rec.expected_events(plan) {
            record(h, 1500 + 3_001 * i);
        }
        rec.flows_started += 1;
        rec.flows_passed += 1;
        record(&mut rec.iteration, 40_000 + 10_007 * i);
    }
    rec.step_err(1, &crate::metrics::errors::ErrorKind::Timeout.into());
    rec.flows_started += 1;
    rec.flows_failed += 1;
    let info = RunInfo {
        mode: crate::metrics::summary::Mode::Run,
        stopped_by: crate::metrics::summary::StoppedBy::End,
        tool_errors: Vec::new(),
        shard: Shard { index, count: 2 },
        started_at: format!("2026-01-01T00:00:0{index}.000Z"),
        elapsed_s: 5.0,
        timeseries: Vec::new(),
    };
    Summary::build(plan, &rec, info)
}

/// Real frames in each envelope the protocol has (flat, `data`, `payload`, `system_message`),
/// control frames, and frames that are not events.
pub const FRAMES: &[&str] = &[
    r#"{"type":"agent_started","run_id":"r1","thread_id":"t1","agent_name":"supervisor","timestamp":1764000000.5,"critical":true}"#,
    r#"{"type":"agent_thinking","run_id":"r1","thread_id":"t1","user_id":"u","agent_name":"supervisor","timestamp":"2026-01-01T00:00:00Z","data":{"thought":"…","step":1}}"#,
    r#"{"type":"tool_executing","payload":{"tool_name":"search","run_id":"r1"}}"#,
    r#"{"type":"system_message","data":{"event":"tool_completed","tool_name":"search","result":{"ok":true}}}"#,
    r#"{"type":"agent_progress","data":{"type":"agent_thinking"}}"#,
    r#"{"type":"agent_response_complete","data":{"event":"agent_completed","response":"done"}}"#,
    r#"{"type":"connection_established","data":{"mode":"main","user_id":"12345678...","golden_path_events":["agent_started"]},"server_id":null}"#,
    r#"{"type":"handshake_response","thread_id":"t1","run_id":"r1"}"#,
    r#"{"type":"pong","user_id":"u","timestamp":1.0}"#,
    r#"{"type":"error","error":{"code":"AGENT_FAILED","message":"x","details":{}}}"#,
    r#"{"type":"system_message","data":"plain text"}"#,
    r#"{"no":"type"}"#,
    "[1,2,3]",
    "<html>502 Bad Gateway</html>",
];

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// One structured mutation of `seed`: flip, drop, duplicate, splice or renumber bytes.
    fn mutate(rng: &mut rand::rngs::SmallRng, seed: &[u8], pool: &[&[u8]]) -> Vec<u8> {
        let mut v = seed.to_vec();
        for _ in 0..rng.gen_range(1..4) {
            if v.is_empty() {
                v.extend_from_slice(pool[rng.gen_range(0..pool.len())]);
                continue;
            }
            let at = rng.gen_range(0..v.len());
            match rng.gen_range(0..7) {
                0 => v[at] ^= 1 << rng.gen_range(0..8),
                1 => v.truncate(at),
                2 => {
                    let end = rng.gen_range(at..v.len()).min(at + 64);
                    let piece = v[at..end].to_vec();
                    v.splice(at..at, piece);
                }
                3 => {
                    // A digit run replaced by an extreme number.
                    let n = [
                        "0",
                        "18446744073709551615",
                        "4294967295",
                        "-1",
                        "1e308",
                        "99",
                    ][rng.gen_range(0..6)];
                    if v[at].is_ascii_digit() {
                        let end = (at..v.len())
                            .find(|i| !v[*i].is_ascii_digit())
                            .unwrap_or(v.len());
                        v.splice(at..end, n.bytes());
                    }
                }
                4 => {
                    let other = pool[rng.gen_range(0..pool.len())];
                    let from = rng.gen_range(0..other.len().max(1)).min(other.len());
                    v.splice(at..at, other[from..].iter().copied().take(200));
                }
                5 => {
                    let tokens = b"\"{}[],:0aZ\\+/=";
                    v[at] = tokens[rng.gen_range(0..tokens.len())];
                }
                _ => v.insert(at, rng.gen()),
            }
        }
        v
    }

    /// Every count in `v` (a `u64` field) set to `u64::MAX`.
    fn max_out(v: &mut serde_json::Value) {
        const COUNTS: [&str; 9] = [
            "count",
            "ok",
            "failed",
            "started",
            "passed",
            "interrupted",
            "dropped",
            "waits",
            "other_causes",
        ];
        match v {
            serde_json::Value::Array(a) => a.iter_mut().for_each(max_out),
            serde_json::Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if x.is_u64() && COUNTS.contains(&k.as_str()) {
                        *x = u64::MAX.into();
                    } else {
                        max_out(x);
                    }
                }
            }
            _ => {}
        }
    }

    #[test]
    fn merge_results_never_panics_on_mutated_results_and_histograms() {
        let real = real_results();
        assert_eq!(real.len(), 2, "the golden path compiles");
        let files: Vec<Vec<u8>> = real
            .iter()
            .map(|s| serde_json::to_vec(s).unwrap())
            .collect();
        let hist = real[0].steps[1].latency.histogram.clone();
        let mut pool: Vec<&[u8]> = files.iter().map(Vec::as_slice).collect();
        pool.push(hist.as_bytes());
        // The real inputs merge cleanly, and so do they with every count at its top (a sum of two
        // must saturate, not overflow).
        for f in &files {
            merge_results(f);
            let mut v: serde_json::Value = serde_json::from_slice(f).unwrap();
            max_out(&mut v);
            let maxed = serde_json::to_vec(&v).unwrap();
            assert!(
                serde_json::from_slice::<Summary>(&maxed).is_ok(),
                "still results"
            );
            merge_results(&maxed);
        }
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        for _ in 0..400 {
            let seed = pool[rng.gen_range(0..pool.len())];
            merge_results(&mutate(&mut rng, seed, &pool));
        }
        for _ in 0..2000 {
            let len = rng.gen_range(0..64);
            let bytes: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            merge_results(&bytes);
            let mut b64 = hist.clone().into_bytes();
            let at = rng.gen_range(0..b64.len());
            let alphabet = b"ABCxyz019+/=";
            b64[at] = alphabet[rng.gen_range(0..alphabet.len())];
            merge_results(&b64);
        }
    }

    #[test]
    fn classify_frame_never_panics_on_mutated_frames() {
        let pool: Vec<&[u8]> = FRAMES.iter().map(|f| f.as_bytes()).collect();
        for f in &pool {
            classify_frame(f);
            // The same fields as an array (serde would read a struct from one), whole and nested.
            if let Ok(serde_json::Value::Object(m)) = serde_json::from_slice(f) {
                let values: Vec<serde_json::Value> = m.values().cloned().collect();
                classify_frame(
                    serde_json::Value::Array(values.clone())
                        .to_string()
                        .as_bytes(),
                );
                let mut nested = m.clone();
                nested.insert("data".into(), serde_json::Value::Array(values));
                classify_frame(serde_json::Value::Object(nested).to_string().as_bytes());
            }
        }
        let mut rng = rand::rngs::SmallRng::seed_from_u64(11);
        for _ in 0..20_000 {
            let seed = pool[rng.gen_range(0..pool.len())];
            classify_frame(&mutate(&mut rng, seed, &pool));
        }
        for _ in 0..5_000 {
            let len = rng.gen_range(0..48);
            let bytes: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            classify_frame(&bytes);
        }
    }
}
