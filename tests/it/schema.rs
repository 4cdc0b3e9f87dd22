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
    assert_eq!(v["version"], 1);
    assert_eq!(v["flows"]["failed"], 4);
    assert_eq!(v["errors"][0]["kind"], "event_missing");
}

#[test]
fn the_schema_rejects_what_it_should() {
    let schema = schema();
    let bad = serde_json::json!({"version": 2});
    assert!(schema.validate(&bad).is_err());
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
