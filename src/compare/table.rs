//! The comparison as a text table: a header saying what was compared and how, one block per
//! step, event, `iteration` and `flows`, worse rows marked with `!` and `WORSE`, and the
//! conclusion as the last line.

use super::{Comparison, Interval, Row, RowVerdict, Unit};

/// The whole table, ending with `Comparison::conclusion` and a newline.
pub fn render(c: &Comparison) -> String {
    let mut out = String::new();
    let side = |who: &str, s: &super::Side| {
        format!(
            "{who} {} ({}, started {}, {:.1} s, {} flows)\n",
            s.file, s.scenario, s.started_at, s.elapsed_s, s.flows
        )
    };
    out.push_str(&side("baseline:", &c.baseline));
    out.push_str(&side("current: ", &c.current));
    let s = &c.settings;
    out.push_str(&format!(
        "method:   worse/better when the {}% intervals do not overlap and the change exceeds \
         {}% and {} ms (error rate: two-proportion test at {}% and {} pp)\n",
        num(s.confidence * 100.0),
        num(s.tolerance * 100.0),
        num(s.min_delta_ms),
        num(s.confidence * 100.0),
        num(s.error_tolerance_pp),
    ));
    for w in &c.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    out.push_str(&format!(
        "\n  {:<12} {:>14} {:>14} {:>24}  verdict\n",
        "", "baseline", "current", "change"
    ));
    let mut start = 0;
    while start < c.rows.len() {
        let block = c.rows[start].block();
        let len = c.rows[start..]
            .iter()
            .take_while(|r| r.block() == block)
            .count();
        block_lines(&block, &c.rows[start..start + len], c, &mut out);
        start += len;
    }
    out.push('\n');
    out.push_str(&c.conclusion());
    out.push('\n');
    out
}

fn block_lines(block: &str, rows: &[Row], c: &Comparison, out: &mut String) {
    // A block without data (a step missing on one side, an event that never came) in one line.
    let empty = |r: &&Row| r.baseline_samples == 0 && r.current_samples == 0;
    let na = rows.iter().find(|r| r.verdict == RowVerdict::NotApplicable);
    if let Some(na) = na.filter(|na| {
        rows.iter()
            .all(|r| empty(&r) || (r.verdict == RowVerdict::NotApplicable && r.note == na.note))
    }) {
        let note = na.note.as_deref().unwrap_or("no data");
        out.push_str(&format!("{block}: n/a ({note})\n"));
        return;
    }
    out.push_str(&format!("{block}\n"));
    for r in rows {
        let mark = if r.verdict == RowVerdict::Worse {
            "!"
        } else {
            " "
        };
        let mut line = format!(
            "{mark} {:<12} {:>14} {:>14} {:>24}  {}",
            r.metric.label(),
            value(r.baseline, r.unit),
            value(r.current, r.unit),
            change(r),
            r.verdict.label()
        );
        if r.verdict == RowVerdict::Worse || r.verdict == RowVerdict::Better {
            line.push_str(&format!(
                "  ({}% intervals {} vs {})",
                num(c.settings.confidence * 100.0),
                interval(r.baseline_interval, r.unit),
                interval(r.current_interval, r.unit)
            ));
        } else if let Some(n) = &r.note {
            line.push_str(&format!("  ({n})"));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

/// A plain number without trailing zeros (`99`, `99.9`, `0.5`).
fn num(v: f64) -> String {
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A figure with few enough digits to read: 3 significant digits or so.
fn figure(v: f64) -> String {
    let a = v.abs();
    if a >= 1000.0 {
        format!("{v:.0}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

pub fn value(v: Option<f64>, unit: Unit) -> String {
    match v {
        None => "-".into(),
        Some(v) => with_unit(figure(v), unit),
    }
}

fn with_unit(n: String, unit: Unit) -> String {
    match unit {
        Unit::Ms => format!("{n} ms"),
        Unit::Percent => format!("{n}%"),
        Unit::PerS => format!("{n}/s"),
    }
}

/// `+20.10 ms (+100.5%)`; an error rate's change in percentage points.
pub fn change(r: &Row) -> String {
    let Some(d) = r.change else {
        return "-".into();
    };
    let sign = if d > 0.0 { "+" } else { "" };
    let abs = match r.unit {
        Unit::Percent => format!("{sign}{} pp", figure(d)),
        u => with_unit(format!("{sign}{}", figure(d)), u),
    };
    match r.change_pct {
        Some(p) => format!("{abs} ({}{p:.1}%)", if p > 0.0 { "+" } else { "" }),
        None => abs,
    }
}

/// `19.80–20.40 ms`.
pub fn interval(i: Option<Interval>, unit: Unit) -> String {
    match i {
        None => "-".into(),
        Some(i) => with_unit(format!("{}–{}", figure(i.low), figure(i.high)), unit),
    }
}
