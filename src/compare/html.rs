//! The comparison as the HTML report's comparison section (`report::html::ComparisonView`).

use super::table::{interval, value};
use super::Comparison;
use crate::report::html::{ComparisonRow, ComparisonView};

/// Every row, its values as the table shows them and its note with both intervals.
pub fn view(c: &Comparison) -> ComparisonView {
    ComparisonView {
        baseline_label: c.baseline.file.clone(),
        rows: c
            .rows
            .iter()
            .map(|r| {
                let intervals = format!(
                    "intervals {} vs {}",
                    interval(r.baseline_interval, r.unit),
                    interval(r.current_interval, r.unit)
                );
                ComparisonRow {
                    name: r.block(),
                    metric: r.metric.code().to_string(),
                    baseline: value(r.baseline, r.unit),
                    current: value(r.current, r.unit),
                    change_pct: r.change_pct,
                    verdict: r.verdict.label().to_lowercase(),
                    note: match &r.note {
                        Some(n) => format!("{n}; {intervals}"),
                        None => intervals,
                    },
                }
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::testing::test_results;
    use crate::compare::Settings;

    #[test]
    fn every_row_is_in_the_view_with_its_verdict() {
        let base = test_results(2_000, 1.0, 10.0);
        let cur = test_results(2_000, 1.5, 10.0);
        let c = crate::compare::compare(
            ("base.json", &base),
            ("cur.json", &cur),
            Settings::new(0.99, 0.10, 1.0, 1.0),
        );
        let v = view(&c);
        assert_eq!(v.rows.len(), c.rows.len());
        assert_eq!(v.baseline_label, "base.json");
        let worse = v.rows.iter().filter(|r| r.verdict == "worse").count();
        assert_eq!(worse, c.tally.worse);
        assert!(worse > 0, "a +50% shift has worse rows");
        assert!(v.rows.iter().all(|r| r.note.contains("intervals ")));
    }
}
