//! A step that ends by its `settle` says so: counted apart (`settled`), kept out of the step's
//! percentiles, shown as a wait in the text summary and the probe, and valid in the JSON.

use crate::schema::assert_valid;
use crate::util::*;

/// The golden path against the mock with `handshake` (`none` or `phased`): its text output and
/// JSON results.
async fn golden(handshake: &str) -> (String, serde_json::Value) {
    let dir = tempdir();
    let (o, out) = run_mock(
        dir.path(),
        &shipped("golden-path.toml"),
        &[
            "--handshake",
            handshake,
            "--users",
            "2",
            "--iterations",
            "2",
        ],
    )
    .await;
    assert_passed(&o);
    let v = read_json(&out);
    assert_valid(&v);
    (o.stdout, v)
}

fn step<'a>(v: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    v["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == name))
        .unwrap_or_else(|| panic!("step {name} in the results"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handshake_that_never_comes_is_a_settle_wait_not_a_latency() {
    let (text, v) = golden("none").await;
    let hs = step(&v, "handshake");
    assert_eq!(hs["ok"], 4);
    assert_eq!(hs["settled"]["count"], 4);
    assert_eq!(hs["settled"]["settle_ms"], 300.0);
    assert_eq!(hs["latency"]["count"], 0, "a wait is not a latency");
    assert_eq!(step(&v, "chat")["settled"], serde_json::Value::Null);
    let row = text
        .lines()
        .find(|l| l.trim_start().starts_with("handshake "))
        .expect("a handshake row");
    assert!(
        row.ends_with(
            "(ended by its 300ms settle: 4 of 4; no handshake_response or handshake_complete seen)"
        ),
        "{row}"
    );
    assert!(
        !text.contains("    handshake_response"),
        "no 0-count event rows: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handshake_that_comes_is_measured() {
    let (_, v) = golden("phased").await;
    let hs = step(&v, "handshake");
    assert_eq!(hs["ok"], 4);
    assert_eq!(hs["settled"]["count"], 0);
    assert_eq!(hs["latency"]["count"], 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probe_shows_a_settle_as_a_wait() {
    let o = run_cli(&["probe", &shipped("golden-path.toml"), "--mock"], &[]).await;
    assert_eq!(o.exit, load_tester::exit::Exit::Passed, "{}", o.stdout);
    assert!(
        o.stdout
            .contains("  PASS  handshake                (ended by its 300ms settle)\n"),
        "{}",
        o.stdout
    );
}
