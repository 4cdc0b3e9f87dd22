//! Each step's latency distribution as a percentile spectrum, one line per event, read from the
//! HDR histograms embedded in the results (x on a log scale of 1/(1−q): 0, 90, 99, 99.9 ...%).

use super::charts::{number, palette, LineChart};
use super::escape;
use super::figures::{figure, line, multiples, no_data, with_legend, SMALL};
use crate::metrics::summary::{Latency, StepSummary, Summary};

/// x of the spectrum: `log10(1 / (1 - q))`, so 0 is the minimum, 1 is p90, 2 is p99...
fn spectrum_label(x: &f64) -> String {
    let q = 100.0 * (1.0 - 10f64.powf(-*x));
    if x.fract().abs() < 1e-9 {
        // 90, 99, 99.9, 99.99 ...: as many decimals as nines after the point.
        let decimals = (x.round() as usize).saturating_sub(2);
        format!("{q:.decimals$}%")
    } else {
        format!("{}%", number(q))
    }
}

/// The points of one latency's percentile spectrum, up to `x_max`.
fn spectrum_points(l: &Latency, x_max: f64) -> Result<Vec<(f64, f64)>, String> {
    let h = l.histogram()?;
    if h.is_empty() {
        return Ok(Vec::new());
    }
    let steps = (x_max * 40.0).ceil() as usize;
    Ok((0..=steps)
        .map(|i| {
            let x = x_max * i as f64 / steps as f64;
            let q = (1.0 - 10f64.powf(-x)).clamp(0.0, 1.0);
            (x, h.value_at_quantile(q) as f64 / 1000.0)
        })
        .collect())
}

/// What a step's spectrum draws: its events that came, or else the step's own latency.
fn spectrum_sources(step: &StepSummary) -> Vec<(&str, &Latency)> {
    let events: Vec<(&str, &Latency)> = step
        .events
        .iter()
        .filter(|e| e.latency.count > 0)
        .map(|e| (e.name.as_str(), &e.latency))
        .collect();
    if !events.is_empty() {
        events
    } else if step.latency.count > 0 {
        vec![("step", &step.latency)]
    } else {
        Vec::new()
    }
}

/// (b) each event's (or step's) latency by percentile, from the embedded HDR histograms.
pub(super) fn spectrum(s: &Summary, page: &mut String) {
    let caption = "Latency distribution: percentile spectrum per step, one line per event \
                   (ms; x on a log scale of 1/(1−q))";
    let mut charts = Vec::new();
    for step in &s.steps {
        let sources = spectrum_sources(step);
        if sources.is_empty() {
            continue;
        }
        let most = sources.iter().map(|(_, l)| l.count).max().unwrap_or(1);
        // The axis ends at the decade the samples reach (40 samples: 99%), at least p90.
        let x_max = (most.max(2) as f64).log10().ceil().clamp(1.0, 6.0);
        let mut lines = Vec::new();
        let mut bad = Vec::new();
        for (i, (name, l)) in sources.iter().enumerate() {
            match spectrum_points(l, x_max) {
                Ok(points) if !points.is_empty() => lines.push(line(name, palette(i), points)),
                Ok(_) => {}
                Err(e) => bad.push(format!("{name}: {e}")),
            }
        }
        let mut content = if lines.is_empty() {
            no_data("No histogram could be read for this step.")
        } else {
            let chart = LineChart {
                width: SMALL,
                height: 340,
                x_desc: "percentile",
                y_desc: "latency (ms)",
                x_range: 0.0..x_max,
                x_labels: x_max as usize + 1,
                x_fmt: &spectrum_label,
                lines,
                area: false,
            };
            with_legend(&chart, &format!("{}: latency by percentile", step.name))
        };
        if !bad.is_empty() {
            content.push_str(&format!(
                "<p class=\"note\">Histograms that could not be read: {}</p>",
                escape(&bad.join("; "))
            ));
        }
        charts.push((step.name.clone(), content));
    }
    let content = if charts.is_empty() {
        no_data("No latency was recorded: no step or event succeeded.")
    } else {
        multiples(&charts)
    };
    figure(page, "latency-spectrum", caption, &content);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spectrum_labels_name_the_nines() {
        assert_eq!(spectrum_label(&0.0), "0%");
        assert_eq!(spectrum_label(&1.0), "90%");
        assert_eq!(spectrum_label(&2.0), "99%");
        assert_eq!(spectrum_label(&3.0), "99.9%");
        assert_eq!(spectrum_label(&4.0), "99.99%");
    }
}
