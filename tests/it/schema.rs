//! The JSON results match the committed schema (schema/results.schema.json).

use crate::util::*;

fn schema() -> jsonschema::JSONSchema {
    let text = std::fs::read_to_string(format!(
        "{}/schema/results.schema.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("schema file");
    let json: serde_json::Value = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::JSONSchema::compile(&json).expect("schema compiles")
}

pub fn assert_valid(value: &serde_json::Value) {
    let schema = schema();
    if let Err(errors) = schema.validate(value) {
        let msgs: Vec<String> = errors
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect();
        panic!("results do not match the schema:\n{}", msgs.join("\n"));
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_with_failures_validate_against_the_schema() {
    let dir = tempdir();
    let path = scenario(dir.path(), "s.toml", &fast_golden(""));
    let out = dir.path().join("r.json");
    run_cli(
        &[
            "run",
            path.to_str().unwrap(),
            "--mock",
            "--users",
            "4",
            "--iterations",
            "2",
            "--quiet",
            "--fault",
            "drop:tool_completed",
            "--fault-rate",
            "0.5",
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    let v = read_json(&out);
    assert_valid(&v);
    assert_eq!(v["version"], 2);
    assert_eq!(v["flows"]["failed"], 4);
    assert_eq!(v["errors"][0]["kind"], "event_missing");
}

#[test]
fn the_schema_rejects_what_it_should() {
    let schema = schema();
    let bad = serde_json::json!({"version": 2});
    assert!(schema.validate(&bad).is_err());
}

/// The schema's enums are the Rust types' own: every error code and phase, and nothing else.
#[test]
fn the_schema_lists_every_error_kind_and_phase_of_the_types() {
    use load_tester::metrics::errors::ErrorCode;
    let text = std::fs::read_to_string(format!(
        "{}/schema/results.schema.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let listed = |ptr: &str| -> Vec<String> {
        let mut v: Vec<String> = json
            .pointer(ptr)
            .and_then(|e| e.as_array())
            .unwrap_or_else(|| panic!("{ptr} in the schema"))
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    let mut codes: Vec<String> = ErrorCode::ALL.iter().map(|c| c.to_string()).collect();
    codes.sort();
    assert_eq!(listed("/definitions/error/properties/kind/enum"), codes);
    let mut phases: Vec<String> = codes_of_phases();
    phases.sort();
    assert_eq!(listed("/definitions/error/properties/phase/enum"), phases);
}

fn codes_of_phases() -> Vec<String> {
    use load_tester::metrics::errors::Phase::*;
    [
        Dns, Connect, Tls, Request, Response, Upgrade, Send, Frame, Close, Events, Template,
        Internal,
    ]
    .iter()
    .map(|p| {
        serde_json::to_value(p)
            .unwrap()
            .as_str()
            .unwrap()
            .to_string()
    })
    .collect()
}

#[test]
fn histograms_round_trip_losslessly() {
    use load_tester::metrics::summary::Latency;
    let mut h = load_tester::metrics::recorder::new_histogram();
    for v in [1u64, 10, 100, 1_000, 10_000, 123_456, 59_000_000] {
        h.record(v).unwrap();
    }
    let l = Latency::from_histogram(&h);
    let back = l.histogram().expect("decodes");
    assert_eq!(back, h);
    assert_eq!(l.count, 7);
    assert_eq!(l.max_ms, h.max() as f64 / 1000.0);
}
