//! `merge`'s thresholds: those stored in the inputs' results (by expression, each once) and the
//! command's own, judged again on the merged results; a threshold that stopped any input's run
//! stays breached.

use super::{combine, judge, Catalog, Threshold};
use crate::metrics::summary::{Summary, ThresholdResult};

/// The thresholds to judge on `merged`: the inputs' stored ones (labelled by file), then
/// `flags` (from `source`). A stored or given expression that does not fit the merged results
/// is an error naming it.
pub fn gather(
    inputs: &[(&str, &Summary)],
    flags: &[String],
    source: &str,
    merged: &Summary,
) -> Result<Vec<Threshold>, String> {
    let catalog = Catalog::of_summary(merged);
    let mut errors = Vec::new();
    let mut stored = Vec::new();
    for (label, s) in inputs {
        for r in &s.thresholds {
            if stored.iter().any(|t: &Threshold| t.expr == r.expr) {
                continue;
            }
            match Threshold::parse(&r.expr, &r.source, &catalog) {
                Ok(mut t) => {
                    t.abort_on_fail = r.abort_on_fail;
                    stored.push(t);
                }
                Err(e) => errors.push(format!("{label}: stored threshold '{}': {e}", r.expr)),
            }
        }
    }
    let mut extra = Vec::new();
    for v in flags.iter().filter(|v| !v.trim().is_empty()) {
        match Threshold::parse(v, source, &catalog) {
            Ok(t) => extra.push(t),
            Err(e) => errors.push(format!("{source} '{}': {e}", v.trim())),
        }
    }
    if errors.is_empty() {
        Ok(combine(&stored, extra))
    } else {
        Err(errors.join("\n"))
    }
}

/// `set` judged on `merged`; a threshold that aborted an input's run is breached here too,
/// with the earliest abort time.
pub fn judge_merged(merged: Summary, set: &[Threshold], inputs: &[&Summary]) -> Summary {
    let mut s = judge(merged, set, &[]);
    for r in &mut s.thresholds {
        let aborts: Vec<&ThresholdResult> = inputs
            .iter()
            .flat_map(|i| i.thresholds.iter())
            .filter(|x| x.aborted && x.expr == r.expr)
            .collect();
        if aborts.is_empty() {
            continue;
        }
        r.aborted = true;
        r.passed = false;
        r.aborted_at_s = aborts
            .iter()
            .filter_map(|x| x.aborted_at_s)
            .reduce(f64::min);
    }
    s.conclude()
}
