use std::time::Duration;

use super::*;
use crate::metrics::errors::{ErrorKind, Failure, Phase};
use crate::metrics::summary::{Mode, RunInfo, StoppedBy};

fn plan() -> Plan {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/golden-path.toml");
    crate::scenario::load(&path, &crate::scenario::Overrides::default(), &|_| None)
        .expect("golden path compiles")
}

fn recorder(plan: &Plan) -> Recorder {
    let mut rec = Recorder::new(plan);
    for i in 0..50u64 {
        rec.flow_started();
        rec.step_ok(0, Duration::from_micros(1000 + i * 37), None);
        rec.event(
            crate::plan::MetricId(0),
            Duration::from_micros(2000 + i * 11),
            None,
            100,
            0,
        );
        rec.scheduling_lag(Duration::from_micros(5 + i));
        if i % 10 == 0 {
            rec.step_err(1, &Failure::from(ErrorKind::Timeout).cause("slow"));
            rec.step_err(1, &Failure::new(ErrorKind::Timeout, Phase::Connect));
            rec.flow_failed();
        } else {
            rec.flow_passed(Duration::from_millis(20), None, false);
        }
    }
    rec
}

fn summary(plan: &Plan, rec: &Recorder) -> Summary {
    Summary::build(
        plan,
        rec,
        RunInfo {
            mode: Mode::Run,
            stopped_by: StoppedBy::End,
            tool_errors: Vec::new(),
            shard: crate::shard::Shard::default(),
            started_at: String::new(),
            elapsed_s: 3.0,
            timeseries: Vec::new(),
        },
    )
}

#[test]
fn the_final_page_shows_what_the_last_interval_did() {
    let plan = plan();
    let rec = recorder(&plan);
    let live = Figures::of_recorder(&plan, &rec, 3.0);
    let last = Figures::of_summary(&summary(&plan, &rec));
    assert!(last.finished && !live.finished);
    // Compared as pages: NaN quantiles (nothing observed) are never equal as numbers.
    let info = Info {
        scenario: "s".into(),
    };
    assert_eq!(
        render(
            &info,
            &Figures {
                finished: true,
                ..live
            }
        ),
        render(&info, &last)
    );
    assert_eq!((last.passed, last.failed, last.started), (45, 5, 50));
    let step1 = plan.steps[1].name.clone();
    assert_eq!(last.errors.get(&(step1, "timeout")), Some(&10));
}

#[test]
fn every_family_has_help_and_type_and_labels_are_escaped() {
    let mut plan = plan();
    plan.name = "a \"quoted\" \\ name\nwith a line".into();
    let page = render(
        &Info {
            scenario: plan.name.clone(),
        },
        &Figures::of_recorder(&plan, &recorder(&plan), 1.0),
    );
    assert!(
        page.contains(r#"load_tester_info{scenario="a \"quoted\" \\ name\nwith a line","#),
        "{page}"
    );
    let mut typed = std::collections::HashSet::new();
    for line in page.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split(' ').next().unwrap();
            assert!(
                typed.insert(name.to_string()),
                "one TYPE per family: {name}"
            );
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let name = line.split(['{', ' ']).next().unwrap();
        let base = ["_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|b| typed.contains(*b)))
            .unwrap_or(name);
        assert!(typed.contains(base), "sample before its TYPE: {line}");
        assert!(line.ends_with(" 1") || line.rsplit(' ').next().unwrap().parse::<f64>().is_ok());
    }
    assert!(
        page.contains("load_tester_flows_total{outcome=\"failed\"} 5\n"),
        "{page}"
    );
    assert!(
        page.contains("load_tester_step_latency_seconds_count{step=\"login\"} 50\n"),
        "{page}"
    );
}

#[test]
fn an_empty_summary_has_nan_quantiles_and_zero_counts() {
    let plan = plan();
    let f = Figures::of_recorder(&plan, &Recorder::new(&plan), 0.0);
    let page = render(
        &Info {
            scenario: "s".into(),
        },
        &f,
    );
    assert!(
        page.contains("load_tester_step_latency_seconds{step=\"login\",quantile=\"0.99\"} NaN\n"),
        "{page}"
    );
    assert!(page.contains("load_tester_step_latency_seconds_count{step=\"login\"} 0\n"));
    assert!(page.contains("load_tester_active_users 0\n"));
}
