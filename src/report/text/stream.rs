//! The terminal summary's stream block of each exchange step: time to first event, gaps by pair,
//! tool calls beside the server's figure, occurrences and bytes per flow, text rates, budgets and
//! the server's clock.

use std::io::{self, Write};

use crate::metrics::summary::{Counts, Latency, StepSummary, Summary};

/// Width of the label column of the stream block.
const LABEL: usize = 36;

/// Writes the stream block of every exchange step that received an event.
pub fn section(w: &mut dyn Write, s: &Summary) -> io::Result<()> {
    for step in &s.steps {
        let Some(st) = &step.stream else {
            continue;
        };
        if st.first_event.count == 0 && st.events_per_flow.max == 0.0 {
            continue;
        }
        writeln!(
            w,
            "\n{:<LABEL$}   {:>8} {:>9} {:>9} {:>9} {:>9} {:>9}",
            format!("{} stream (ms)", step.name),
            "count",
            "p50",
            "p90",
            "p95",
            "p99",
            "max"
        )?;
        row(w, "first event", &st.first_event)?;
        for p in &st.pairs {
            row(w, &format!("{} → {}", p.from, p.to), &p.gaps)?;
        }
        for t in &st.tools {
            row(w, &format!("tool {}", t.name), &t.latency)?;
            if let Some(server) = &t.server {
                row(w, "  ↳ server-reported", server)?;
            }
            if let Some(o) = &t.overhead {
                row(w, "  ↳ overhead (client − server)", o)?;
            }
            if t.server_longer > 0 {
                writeln!(
                    w,
                    "  {:<LABEL$} {:>8}   (the server reported more than the client saw)",
                    "  ↳ server longer", t.server_longer
                )?;
            }
        }
        if st.tools_unfinished > 0 {
            writeln!(
                w,
                "  {} tool call(s) started but never completed",
                st.tools_unfinished
            )?;
        }
        per_flow(w, step)?;
        if let Some(t) = &st.text {
            write!(w, "  text: {} characters in {} events", t.chars, t.chunks)?;
            if t.chars_per_s.count > 0 {
                write!(
                    w,
                    "; per flow {} chars/s, {} events/s (p50; between its first and last text \
                     event)",
                    num(t.chars_per_s.p50),
                    num(t.chunks_per_s.p50)
                )?;
            }
            writeln!(w)?;
        }
        budgets(w, step)?;
        if let Some(l) = &st.server_lag {
            write!(
                w,
                "  server timestamps (clock-dependent): arrival − timestamp p50 {:.2} ms, p99 {:.2} ms \
                 over {} events",
                l.behind.p50_ms, l.behind.p99_ms, l.behind.count
            )?;
            if l.ahead > 0 {
                write!(
                    w,
                    "; {} stamped after they arrived (by up to {:.1} ms: the clocks differ)",
                    l.ahead, l.ahead_max_ms
                )?;
            }
            writeln!(w)?;
        }
    }
    Ok(())
}

/// Events and bytes per flow, and each event's occurrences per flow.
fn per_flow(w: &mut dyn Write, step: &StepSummary) -> io::Result<()> {
    let Some(st) = &step.stream else {
        return Ok(());
    };
    writeln!(
        w,
        "  per flow: {} events{}, {} bytes (p50)",
        num(st.events_per_flow.p50),
        spread(&st.events_per_flow),
        num(st.bytes_per_flow.p50)
    )?;
    let occurrences: Vec<String> = step
        .events
        .iter()
        .filter_map(|e| {
            let c = e.per_flow.as_ref()?;
            (c.max > 0.0).then(|| format!("{} {}", e.name, min_p50_max(c)))
        })
        .collect();
    if !occurrences.is_empty() {
        writeln!(
            w,
            "  occurrences per flow (min/p50/max): {}",
            occurrences.join(", ")
        )?;
    }
    for e in step.events.iter().filter(|e| !e.groups.is_empty()) {
        let groups: Vec<String> = e
            .groups
            .iter()
            .map(|g| format!("{} {}", g.value, g.latency.count))
            .collect();
        writeln!(
            w,
            "  {} by {}: {}",
            e.name,
            e.group_by.as_deref().unwrap_or("?"),
            groups.join(", ")
        )?;
    }
    Ok(())
}

/// The step's budgets and how often each was missed.
fn budgets(w: &mut dyn Write, step: &StepSummary) -> io::Result<()> {
    let list: Vec<String> = step
        .events
        .iter()
        .filter_map(|e| {
            let ms = e.budget_ms?;
            let d = crate::duration::human(std::time::Duration::from_secs_f64(ms / 1000.0));
            Some(format!("{} ≤ {d} ({} missed)", e.name, e.over_budget))
        })
        .collect();
    if !list.is_empty() {
        writeln!(w, "  budgets: {}", list.join(", "))?;
    }
    Ok(())
}

fn row(w: &mut dyn Write, label: &str, l: &Latency) -> io::Result<()> {
    if l.count == 0 {
        return writeln!(w, "  {label:<LABEL$} {:>8} {:>9}", 0, "-");
    }
    writeln!(
        w,
        "  {label:<LABEL$} {:>8} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
        l.count, l.p50_ms, l.p90_ms, l.p95_ms, l.p99_ms, l.max_ms
    )
}

fn min_p50_max(c: &Counts) -> String {
    if c.min == c.max {
        num(c.min)
    } else {
        format!("{}/{}/{}", num(c.min), num(c.p50), num(c.max))
    }
}

fn spread(c: &Counts) -> String {
    if c.min == c.max {
        String::new()
    } else {
        format!(" (min {}, max {})", num(c.min), num(c.max))
    }
}

/// A number without needless decimals.
fn num(x: f64) -> String {
    if (x.fract() == 0.0 && x.abs() < 1e15) || x.abs() >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}
