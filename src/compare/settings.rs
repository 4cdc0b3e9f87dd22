//! The knobs of a comparison's verdict (confidence, tolerances) and the parsers of their flags.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{stats, MIN_SAMPLES};

/// The thresholds of the verdict.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Settings {
    /// Confidence level of the intervals and the tests, as a fraction (0.99).
    pub confidence: f64,
    /// The two-sided normal quantile of `confidence` (2.576 for 0.99).
    pub z: f64,
    /// Smallest relative change that counts, as a fraction (0.10 = 10 %).
    pub tolerance: f64,
    /// Smallest latency change that counts, in milliseconds.
    pub min_delta_ms: f64,
    /// Smallest error-rate change that counts, in percentage points.
    pub error_tolerance_pp: f64,
    /// Fewer samples than this on a side: `same`, "too few samples".
    pub min_samples: u64,
}

impl Settings {
    /// `confidence` and `tolerance` as fractions, the others in their units.
    pub fn new(confidence: f64, tolerance: f64, min_delta_ms: f64, error_pp: f64) -> Settings {
        Settings {
            confidence,
            z: stats::z_two_sided(confidence),
            tolerance,
            min_delta_ms,
            error_tolerance_pp: error_pp,
            min_samples: MIN_SAMPLES,
        }
    }
}

impl Default for Settings {
    /// 99 % confidence, 10 % tolerance, 1 ms, 1 percentage point.
    fn default() -> Settings {
        Settings::new(0.99, 0.10, 1.0, 1.0)
    }
}

/// A number with an optional suffix, within `lo..=hi`.
fn number(text: &str, suffixes: &[&str], lo: f64, hi: f64, what: &str) -> Result<f64, String> {
    let t = text.trim();
    let t = suffixes
        .iter()
        .find_map(|s| t.strip_suffix(s))
        .unwrap_or(t)
        .trim();
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() && (lo..=hi).contains(&v) => Ok(v),
        _ => Err(format!("invalid {what} '{text}'")),
    }
}

/// `--tolerance`: a percentage, `10%` or `10` (0 to 1000), as a fraction.
pub fn parse_percent(text: &str) -> Result<f64, String> {
    number(text, &["%"], 0.0, 1000.0, "percentage")
        .map(|v| v / 100.0)
        .map_err(|e| format!("{e}: use a percentage from 0 to 1000, e.g. 10%"))
}

/// `--error-tolerance`: percentage points, `1%`, `1pp` or `1` (0 to 100).
pub fn parse_points(text: &str) -> Result<f64, String> {
    number(text, &["pp", "%"], 0.0, 100.0, "percentage points")
        .map_err(|e| format!("{e}: use percentage points from 0 to 100, e.g. 1% or 0.5pp"))
}

/// `--confidence`: a percentage, `99%` or `99` (50 to 99.9999), as a fraction.
pub fn parse_confidence(text: &str) -> Result<f64, String> {
    number(text, &["%"], 50.0, 99.9999, "confidence")
        .map(|v| v / 100.0)
        .map_err(|e| format!("{e}: use a percentage from 50 to 99.9999, e.g. 99% or 99.9%"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_as_documented() {
        assert_eq!(parse_percent("10%"), Ok(0.10));
        assert_eq!(parse_percent("2.5"), Ok(0.025));
        assert!(parse_percent("-1%").is_err());
        assert!(parse_percent("NaN").is_err());
        assert_eq!(parse_points("1%"), Ok(1.0));
        assert_eq!(parse_points("0.5pp"), Ok(0.5));
        assert!(parse_points("101").is_err());
        assert_eq!(parse_confidence("99%"), Ok(0.99));
        assert!((parse_confidence("99.9").unwrap() - 0.999).abs() < 1e-12);
        let e = parse_confidence("0.99").unwrap_err();
        assert!(e.contains("e.g. 99%"), "{e}");
        assert!(parse_confidence("100%").is_err());
    }
}
