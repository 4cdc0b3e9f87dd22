//! The comparison as JUnit test cases: one per compared metric (`chat.agent_started.p95`, class
//! `compare.chat`), a worse row failing with the values, the change and the intervals, an `n/a`
//! row skipped with its reason; one suite per block.

use std::io::{self, Write};

use super::table::{change, interval, value};
use super::{Comparison, Row, RowVerdict};
use crate::report::junit::{self, Case, Failure, Suite};

/// One suite per block (step, event, `iteration`, `flows`), in the table's order.
pub fn suites(c: &Comparison) -> Vec<Suite> {
    let properties = vec![
        ("baseline".to_string(), c.baseline.file.clone()),
        ("current".to_string(), c.current.file.clone()),
        ("scenario".to_string(), c.current.scenario.clone()),
        (
            "confidence".to_string(),
            format!("{}", c.settings.confidence),
        ),
        ("tolerance".to_string(), format!("{}", c.settings.tolerance)),
        (
            "min_delta_ms".to_string(),
            format!("{}", c.settings.min_delta_ms),
        ),
        (
            "error_tolerance_pp".to_string(),
            format!("{}", c.settings.error_tolerance_pp),
        ),
    ];
    let mut out: Vec<Suite> = Vec::new();
    for r in &c.rows {
        let name = format!("compare.{}", r.block());
        if out.last().is_none_or(|s| s.name != name) {
            out.push(Suite {
                name,
                properties: properties.clone(),
                ..Suite::default()
            });
        }
        if let Some(s) = out.last_mut() {
            s.cases.push(case(r, c));
        }
    }
    out
}

/// Writes the comparison as a JUnit XML document.
pub fn write(c: &Comparison, w: &mut dyn Write) -> io::Result<()> {
    junit::write("compare", &suites(c), w)
}

fn case(r: &Row, c: &Comparison) -> Case {
    let figures = format!(
        "baseline {} (interval {}, n={}), current {} (interval {}, n={}), change {}",
        value(r.baseline, r.unit),
        interval(r.baseline_interval, r.unit),
        r.baseline_samples,
        value(r.current, r.unit),
        interval(r.current_interval, r.unit),
        r.current_samples,
        change(r),
    );
    let mut case = Case {
        name: r.name(),
        classname: format!("compare.{}", r.step),
        ..Case::default()
    };
    let note = r.note.as_ref().map_or(String::new(), |n| format!(" ({n})"));
    match r.verdict {
        RowVerdict::Worse => {
            let s = &c.settings;
            case.failure = Some(Failure {
                message: format!(
                    "{}: worse: {} → {} ({}); {}% intervals {} and {} do not overlap",
                    r.name(),
                    value(r.baseline, r.unit),
                    value(r.current, r.unit),
                    change(r),
                    s.confidence * 100.0,
                    interval(r.baseline_interval, r.unit),
                    interval(r.current_interval, r.unit),
                ),
                kind: "regression".into(),
                text: format!(
                    "{figures}\nbaseline file {}, current file {}\ntolerance {}%, min delta {} \
                     ms, error tolerance {} percentage points, confidence {}%",
                    c.baseline.file,
                    c.current.file,
                    s.tolerance * 100.0,
                    s.min_delta_ms,
                    s.error_tolerance_pp,
                    s.confidence * 100.0
                ),
            });
        }
        RowVerdict::NotApplicable => {
            case.skipped = Some(format!("n/a{note}"));
        }
        v => case.system_out = Some(format!("{}{note}: {figures}", v.label())),
    }
    case
}
