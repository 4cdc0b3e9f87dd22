//! Each refusal of `merge`, and the coverage of a partial merge.

use super::*;
use crate::metrics::merge::merge_checked;
use crate::metrics::recorder::{record, Recorder};
use crate::metrics::summary::RunInfo;
use crate::plan::Plan;
use crate::scenario::{self, Overrides};

fn plan() -> Plan {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/golden-path.toml");
    scenario::load(&path, &Overrides::default(), &|_| None).expect("golden path compiles")
}

/// A shard's results: `n` passed flows, every step and event recorded, one error on step 2.
fn shard(plan: &Plan, index: u32, count: u32, n: u64) -> Summary {
    let mut rec = Recorder::new(plan);
    for i in 0..n {
        for s in 0..rec.steps.len() {
            rec.steps[s].ok += 1;
            record(&mut rec.steps[s].latency, 1000 + i);
        }
        for h in rec.expected_events(plan) {
            record(h, 2000 + i);
        }
        rec.flows_started += 1;
        rec.flows_passed += 1;
        record(&mut rec.iteration, 50_000 + i);
    }
    rec.step_err(2, &crate::metrics::errors::ErrorKind::Timeout.into());
    rec.flows_started += 1;
    rec.flows_failed += 1;
    let info = RunInfo {
        mode: crate::metrics::summary::Mode::Run,
        stopped_by: crate::metrics::summary::StoppedBy::End,
        tool_errors: Vec::new(),
        shard: Shard { index, count },
        started_at: format!("2026-11-25T10:00:0{index}.000Z"),
        elapsed_s: 10.0,
        timeseries: Vec::new(),
    };
    Summary::build(plan, &rec, info)
}

fn input<'a>(label: &'a str, summary: &'a Summary) -> Input<'a> {
    Input {
        label,
        summary,
        bytes: None,
    }
}

fn refusal(parts: &[(&str, &Summary)]) -> String {
    let inputs: Vec<Input<'_>> = parts.iter().map(|(l, s)| input(l, s)).collect();
    match check(&inputs) {
        Ok(c) => panic!("accepted: {c:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn three_shards_of_one_test_are_complete() {
    let p = plan();
    let (a, b, c) = (shard(&p, 0, 3, 5), shard(&p, 1, 3, 6), shard(&p, 2, 3, 7));
    let inputs = [
        input("a.json", &a),
        input("b.json", &b),
        input("c.json", &c),
    ];
    let coverage = check(&inputs).unwrap();
    assert_eq!(
        coverage,
        Coverage {
            count: 3,
            missing: vec![]
        }
    );
    let merged = merge_checked(&inputs, false).unwrap();
    assert_eq!(merged.flows.passed, 18);
    assert!(merged.missing_shards.is_empty());
    assert_eq!(merged.scenario_digest, p.digest);
}

#[test]
fn the_same_shard_twice_is_refused() {
    let p = plan();
    let (a, b) = (shard(&p, 1, 3, 5), shard(&p, 1, 3, 6));
    assert_eq!(
        refusal(&[("a.json", &a), ("b.json", &b)]),
        "b.json: shard: 2/3 is also the shard of a.json: the same shard twice would count its flows twice"
    );
    let (w1, w2) = (shard(&p, 0, 1, 5), shard(&p, 0, 1, 6));
    assert!(refusal(&[("a.json", &w1), ("b.json", &w2)])
        .contains("b.json: shard: 1/1 is also the shard of a.json: both are whole runs"));
}

#[test]
fn byte_identical_inputs_are_refused() {
    let p = plan();
    let a = shard(&p, 0, 2, 5);
    let bytes = serde_json::to_vec(&a).unwrap();
    let inputs = [
        Input {
            label: "a.json",
            summary: &a,
            bytes: Some(&bytes),
        },
        Input {
            label: "copy.json",
            summary: &a,
            bytes: Some(&bytes),
        },
    ];
    assert_eq!(
        check(&inputs).unwrap_err().to_string(),
        "copy.json: identical to a.json: the same results twice would count every flow twice"
    );
}

#[test]
fn mixed_shard_counts_are_refused() {
    let p = plan();
    let (a, b) = (shard(&p, 0, 3, 5), shard(&p, 1, 4, 5));
    assert_eq!(
        refusal(&[("a.json", &a), ("b.json", &b)]),
        "b.json: shard: 2/4 is one of 4 shards, but a.json is 1/3, one of 3: shards of different splits do not add up"
    );
    let mut c = shard(&p, 1, 3, 5);
    c.shard = Some("two of three".into());
    assert_eq!(
        refusal(&[("a.json", &a), ("c.json", &c)]),
        "c.json: shard: 'two of three' is not a shard (I/N)"
    );
}

#[test]
fn another_scenario_is_refused_by_name_digest_and_steps() {
    let p = plan();
    let a = shard(&p, 0, 2, 5);
    let mut b = shard(&p, 1, 2, 5);
    b.scenario = "other".into();
    assert!(refusal(&[("a.json", &a), ("b.json", &b)])
        .starts_with("b.json: scenario: 'other' differs from 'golden-path' in a.json"));
    let mut b = shard(&p, 1, 2, 5);
    b.scenario_digest = "fnv1a64:0000000000000000".into();
    assert!(refusal(&[("a.json", &a), ("b.json", &b)]).starts_with(
        "b.json: scenario_digest: fnv1a64:0000000000000000 (another scenario file) differs from"
    ));
    let mut b = shard(&p, 1, 2, 5);
    b.steps[1].name = "renamed".into();
    assert!(refusal(&[("a.json", &a), ("b.json", &b)]).starts_with("b.json: steps: ["));
}

#[test]
fn another_target_is_refused() {
    let p = plan();
    let a = shard(&p, 0, 2, 5);
    let mut b = shard(&p, 1, 2, 5);
    b.target.base_url = "http://staging.example.test".into();
    let e = refusal(&[("a.json", &a), ("b.json", &b)]);
    assert!(
        e.starts_with("b.json: target.base_url: 'http://staging.example.test' differs from"),
        "{e}"
    );
    let mut b = shard(&p, 1, 2, 5);
    b.target.auth_url = "http://auth.example.test".into();
    assert!(refusal(&[("a.json", &a), ("b.json", &b)]).starts_with("b.json: target.auth_url:"));
}

/// A change to a summary.
type Edit = fn(&mut Summary);

#[test]
fn counts_that_contradict_their_histograms_are_refused_naming_the_field() {
    let p = plan();
    let a = shard(&p, 0, 2, 10);
    let cases: Vec<(Edit, &str)> = vec![
        (
            |s| s.steps[2].latency.count = 10 + 1,
            "b.json: steps[2].latency: count 11 but its histogram holds 10",
        ),
        (
            |s| s.steps[2].ok = 9,
            "b.json: steps[2].ok: 9 but steps[2].latency holds 10 samples",
        ),
        (
            |s| s.steps[2].failed = 3,
            "b.json: steps[2].failed: 3 but its errors add up to 1",
        ),
        (
            |s| s.steps[0].count = 7,
            "b.json: steps[0].count: 7 but ok + failed = 10 + 0",
        ),
        (
            |s| s.flows.passed = 12,
            "b.json: flows.passed: 12 but iteration holds 10 samples",
        ),
        (
            |s| s.iteration.count = 3,
            "b.json: iteration: count 3 but its histogram holds 10",
        ),
        (
            |s| s.steps[2].latency.histogram = "not base64!".into(),
            "b.json: steps[2].latency.histogram: histogram is not base64",
        ),
        (
            |s| s.flows.failed = 0,
            "b.json: flows.failed: 0 but the steps' failures add up to 1",
        ),
        (
            |s| s.errors.clear(),
            "b.json: errors: their counts add up to 0 but the steps' failures to 1",
        ),
        (
            |s| s.flows.started = 5,
            "b.json: flows.started: 5 but passed + failed + interrupted = 10 + 1 + 0",
        ),
    ];
    for (edit, want) in cases {
        let mut b = shard(&p, 1, 2, 10);
        edit(&mut b);
        let e = refusal(&[("a.json", &a), ("b.json", &b)]);
        assert!(e.starts_with(want), "{e}\nwanted: {want}");
    }
    // Executions that ended by their settle count as ok without a latency sample.
    let mut b = shard(&p, 1, 2, 10);
    b.steps[2].settled = Some(crate::metrics::summary::Settled {
        count: 3,
        settle_ms: 300.0,
    });
    b.steps[2].ok += 3;
    b.steps[2].count += 3;
    check(&[input("a.json", &a), input("b.json", &b)]).expect("settled executions are ok");
    b.steps[2].ok += 1;
    b.steps[2].count += 1;
    assert_eq!(
        refusal(&[("a.json", &a), ("b.json", &b)]),
        "b.json: steps[2].ok: 14 but steps[2].latency holds 10 samples and steps[2].settled.count is 3"
    );
    // An event's count against its histogram.
    let (i, j) = p
        .steps
        .iter()
        .enumerate()
        .find_map(|(i, _)| a.steps[i].events.first().map(|_| (i, 0)))
        .expect("the golden path has events");
    let mut b = shard(&p, 1, 2, 10);
    b.steps[i].events[j].count = 4;
    assert_eq!(
        refusal(&[("a.json", &a), ("b.json", &b)]),
        format!("b.json: steps[{i}].events[{j}].count: 4 but steps[{i}].events[{j}].latency holds 10 samples")
    );
}

#[test]
fn a_missing_shard_is_refused_unless_partial_is_allowed() {
    let p = plan();
    let (a, c) = (shard(&p, 0, 3, 5), shard(&p, 2, 3, 7));
    let inputs = [input("a.json", &a), input("c.json", &c)];
    let coverage = check(&inputs).unwrap();
    assert_eq!(coverage.missing, [Shard { index: 1, count: 3 }]);
    let e = merge_checked(&inputs, false).unwrap_err();
    assert!(
        e.starts_with(
            "shard 2/3 of 3 missing: the merged result would cover only part of the users"
        ),
        "{e}"
    );
    assert!(e.contains("--allow-partial"), "{e}");
    let merged = merge_checked(&inputs, true).unwrap();
    assert_eq!(merged.missing_shards, ["2/3"]);
    assert_eq!(merged.flows.passed, 12);
    let mut text = Vec::new();
    crate::report::Render::write(&crate::report::text::Text, &merged, &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains("PARTIAL: shards 2/3 missing: these figures cover only part of the users"),
        "{text}"
    );
    // A partial merge is not an input to another merge.
    let b = shard(&p, 1, 3, 6);
    assert!(refusal(&[("b.json", &b), ("partial.json", &merged)])
        .starts_with("partial.json: missing_shards: it is a partial merge (shards 2/3 missing)"));
}

#[test]
fn nothing_and_other_versions_are_refused() {
    assert_eq!(check(&[]).unwrap_err(), Refusal::Empty);
    let p = plan();
    let mut a = shard(&p, 0, 1, 1);
    a.version = 9;
    assert_eq!(
        refusal(&[("a.json", &a)]),
        "a.json: version: results version 9 (this tool reads version 3)"
    );
}
