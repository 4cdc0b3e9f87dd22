//! The canary's JUnit suite (`run --canary-every`): a case for its flows (failed when any canary
//! flow failed: a real user failed under load) and a case per step, with the canary's figures.

use std::fmt::Write as _;

use super::summary::percentiles;
use super::{Case, Failure, Suite};
use crate::metrics::canary::Canary;
use crate::metrics::summary::{ErrorCount, Summary};

/// The `canary` suite, when the run had a canary.
pub fn suite(s: &Summary, properties: Vec<(String, String)>) -> Option<Suite> {
    let c = s.canary.as_ref()?;
    let classname = format!("{}.canary", s.scenario);
    let mut cases = vec![flows_case(c, &classname)];
    cases.extend(c.steps.iter().map(|st| {
        let mut case = Case {
            name: format!("canary.{}", st.name),
            classname: classname.clone(),
            time_s: st.latency.mean_ms / 1000.0,
            ..Case::default()
        };
        if st.count == 0 {
            case.skipped = Some("never ran in a canary flow".into());
        } else if st.failed > 0 {
            case.failure = Some(Failure {
                message: format!("canary.{}: {} of {} failed", st.name, st.failed, st.count),
                kind: "step_failed".into(),
                text: errors_text(&st.errors),
            });
        } else {
            case.system_out = Some(format!(
                "executions {}; {}",
                st.count,
                percentiles(&st.latency)
            ));
        }
        case
    }));
    Some(Suite {
        name: "canary".into(),
        time_s: s.elapsed_s,
        properties,
        cases,
    })
}

fn flows_case(c: &Canary, classname: &str) -> Case {
    let f = &c.flows;
    let counts = format!(
        "canary flows (one every {:.0} ms): {} started, {} passed, {} failed, {} interrupted, {} \
         ticks skipped",
        c.every_ms, f.started, f.passed, f.failed, f.interrupted, f.skipped
    );
    let mut case = Case {
        name: "canary.flows".into(),
        classname: classname.into(),
        time_s: c.iteration.mean_ms / 1000.0,
        ..Case::default()
    };
    if c.failed() {
        case.failure = Some(Failure {
            message: format!(
                "canary: {} of {} flows failed: a real user failed under load",
                f.failed, f.started
            ),
            kind: "canary_failed".into(),
            text: format!("{counts}\n{}", errors_text(&c.errors)),
        });
    } else {
        case.system_out = Some(format!(
            "{counts}; passed flows: {}",
            percentiles(&c.iteration)
        ));
    }
    case
}

fn errors_text(errors: &[ErrorCount]) -> String {
    let mut text = String::new();
    for e in errors {
        let _ = writeln!(
            text,
            "{} x {} [{}, {}] in {}",
            e.count, e.detail, e.kind, e.phase, e.step
        );
    }
    text
}
