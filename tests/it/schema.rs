//! The committed schema (schema/results.schema.json) is the one derived from the types, and real
//! results (failures, open model, merged) match it.

use crate::util::*;

fn schema_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/results.schema.json")
}

fn committed() -> serde_json::Value {
    let text = std::fs::read_to_string(schema_path()).expect("schema file");
    serde_json::from_str(&text).expect("schema is JSON")
}

fn schema() -> jsonschema::JSONSchema {
    jsonschema::JSONSchema::compile(&committed()).expect("schema compiles")
}

/// The committed file is what the types produce, byte for byte; `UPDATE_SCHEMA=1` rewrites it.
#[test]
fn the_committed_schema_is_derived_from_the_types() {
    let derived = load_tester::report::schema::results_schema_text();
    let path = schema_path();
    if std::env::var_os("UPDATE_SCHEMA").is_some_and(|v| v == "1") {
        // Atomically: the other schema tests may be reading it right now.
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, &derived).expect("write the schema");
        std::fs::rename(&tmp, &path).expect("replace the schema");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != derived {
        let diff = first_difference(&committed, &derived);
        panic!(
            "schema/results.schema.json does not match the results types (src/metrics/summary.rs \
             and what it uses); first difference at {diff}.\nIf the change to the types is \
             intended, regenerate the file and commit it:\n    UPDATE_SCHEMA=1 cargo test --locked \
             --test it schema\n"
        );
    }
}

/// `line N: committed `...` / derived `...``, for the failure message.
fn first_difference(a: &str, b: &str) -> String {
    let (mut al, mut bl) = (a.lines(), b.lines());
    for n in 1.. {
        match (al.next(), bl.next()) {
            (Some(x), Some(y)) if x == y => continue,
            (None, None) => break,
            (x, y) => {
                return format!(
                    "line {n}: committed `{}`, derived `{}`",
                    x.unwrap_or("(end of file)").trim(),
                    y.unwrap_or("(end of file)").trim()
                )
            }
        }
    }
    "the end of the file".into()
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
    assert_eq!(v["version"], 3);
    assert_eq!(v["flows"]["failed"], 4);
    assert_eq!(v["errors"][0]["kind"], "event_missing");
}

#[test]
fn the_schema_rejects_what_it_should() {
    let schema = schema();
    let bad = serde_json::json!({"version": 2});
    assert!(schema.validate(&bad).is_err());
    // Each constraint of the types, broken once in otherwise valid results.
    let good = serde_json::to_value(crate::samples::failed()).expect("serialize");
    assert!(schema.is_valid(&good));
    type Break = (&'static str, fn(&mut serde_json::Value));
    let breaks: [Break; 9] = [
        ("an unknown field", |v| v["surprise"] = 1.into()),
        ("an unknown field in a step", |v| {
            v["steps"][0]["surprise"] = 1.into()
        }),
        ("another version", |v| v["version"] = 2.into()),
        ("another tool", |v| v["tool"] = "k6".into()),
        ("a negative count", |v| v["flows"]["passed"] = (-1).into()),
        ("an error counted 0 times", |v| {
            v["errors"][0]["count"] = 0.into()
        }),
        ("an unknown error kind", |v| {
            v["errors"][0]["kind"] = "oops".into()
        }),
        ("more than 8 causes", |v| {
            let cause = serde_json::json!({"cause": "c", "count": 1});
            v["errors"][0]["causes"] = vec![cause; 9].into();
        }),
        ("an exit code no verdict has", |v| v["exit_code"] = 2.into()),
    ];
    for (what, break_it) in breaks {
        let mut v = good.clone();
        break_it(&mut v);
        assert!(!schema.is_valid(&v), "the schema accepts {what}");
    }
}

/// The schema's enums are the Rust types' own: every error code and phase, and nothing else.
#[test]
fn the_schema_lists_every_error_kind_and_phase_of_the_types() {
    use load_tester::metrics::errors::ErrorCode;
    let json = committed();
    // A plain enum lists its values; one with documented variants has a `const` per variant.
    let listed = |name: &str| -> Vec<String> {
        let def = &json["definitions"][name];
        let values: Vec<&serde_json::Value> = match def["enum"].as_array() {
            Some(e) => e.iter().collect(),
            None => def["oneOf"]
                .as_array()
                .unwrap_or_else(|| panic!("definitions/{name} in the schema"))
                .iter()
                .map(|v| &v["const"])
                .collect(),
        };
        let mut v: Vec<String> = values
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    let mut codes: Vec<String> = ErrorCode::ALL.iter().map(|c| c.to_string()).collect();
    codes.sort();
    assert_eq!(listed("ErrorCode"), codes);
    let mut phases: Vec<String> = codes_of_phases();
    phases.sort();
    assert_eq!(listed("Phase"), phases);
}

fn codes_of_phases() -> Vec<String> {
    use load_tester::metrics::errors::Phase::*;
    [
        Dns, Connect, Tls, Request, Response, Upgrade, Send, Frame, Close, Events, Template,
        Internal,
    ]
    .iter()
    .map(|p| p.as_str().to_string())
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
