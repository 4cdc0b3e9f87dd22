//! Reads a results file to compare: parsed, its version checked, and its counts checked against
//! its own histograms (the checks `merge` makes, `metrics::merge::check::consistent`), so every
//! problem is an error naming the file and the field, never a panic or a silently wrong row.

use std::path::Path;

use crate::metrics::merge::check::consistent;
use crate::metrics::summary::{Summary, RESULTS_VERSION};

/// Reads and checks the results file at `path`; the error names the file (and the field).
pub fn read(path: &Path) -> Result<Summary, String> {
    let label = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| format!("{label}: cannot read it: {e}"))?;
    parse(&label, &bytes)
}

/// Parses and checks results from `bytes`; `label` names them in errors.
pub fn parse(label: &str, bytes: &[u8]) -> Result<Summary, String> {
    // The version first, so a future format gets that answer rather than a missing field.
    if let Ok(v) = serde_json::from_slice::<Version>(bytes) {
        if v.version != RESULTS_VERSION {
            return Err(format!(
                "{label}: version: results version {} (this tool reads version {RESULTS_VERSION})",
                v.version
            ));
        }
    }
    let s: Summary = serde_json::from_slice(bytes)
        .map_err(|e| format!("{label}: not a load-tester results file: {e}"))?;
    check(label, &s)?;
    Ok(s)
}

/// Only the version field of a results file.
#[derive(serde::Deserialize)]
struct Version {
    version: u32,
}

/// What `compare` needs to hold on top of what JSON parsing checks.
pub fn check(label: &str, s: &Summary) -> Result<(), String> {
    if !(s.elapsed_s.is_finite() && s.elapsed_s >= 0.0) {
        return Err(format!(
            "{label}: elapsed_s: {} is not a run time in seconds",
            s.elapsed_s
        ));
    }
    consistent(label, s).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::{compare, Settings};

    /// A valid results file, from the golden path's recorder.
    fn valid() -> Vec<u8> {
        let s = super::super::test_results(200, 1.0, 10.0);
        serde_json::to_vec_pretty(&s).unwrap()
    }

    #[test]
    fn a_valid_file_reads_back() {
        let s = parse("a.json", &valid()).unwrap();
        assert_eq!(s.flows.passed, 200);
    }

    #[test]
    fn errors_name_the_file_and_the_field() {
        let text = String::from_utf8(valid()).unwrap();
        let e = parse("b.json", b"{}").unwrap_err();
        assert!(e.starts_with("b.json: "), "{e}");
        assert!(e.contains("missing field"), "{e}");
        let e = parse("b.json", b"").unwrap_err();
        assert!(
            e.starts_with("b.json: not a load-tester results file"),
            "{e}"
        );
        let version = format!("\"version\": {}", crate::metrics::summary::RESULTS_VERSION);
        let future = text.replacen(&version, "\"version\": 9", 1);
        let e = parse("b.json", future.as_bytes()).unwrap_err();
        assert!(e.contains("b.json: version: results version 9"), "{e}");
        let mut s: Summary = serde_json::from_str(&text).unwrap();
        s.steps[3].events[0].latency.histogram = "not base64!".into();
        let e = parse("b.json", &serde_json::to_vec(&s).unwrap()).unwrap_err();
        assert!(
            e.contains("b.json: steps[3].events[0].latency.histogram"),
            "{e}"
        );
        let mut s: Summary = serde_json::from_str(&text).unwrap();
        s.flows.passed += 1;
        let e = parse("b.json", &serde_json::to_vec(&s).unwrap()).unwrap_err();
        assert!(e.contains("b.json: flows.passed"), "{e}");
        let mut s: Summary = serde_json::from_str(&text).unwrap();
        s.elapsed_s = -1.0;
        let e = parse("b.json", &serde_json::to_vec(&s).unwrap()).unwrap_err();
        assert!(e.contains("b.json: elapsed_s"), "{e}");
    }

    /// Truncations, byte flips and odd values of a valid file: each is read or refused, never a
    /// panic; whatever is read compares without a panic.
    #[test]
    fn hostile_files_never_panic() {
        let good = valid();
        let base = parse("a", &good).unwrap();
        let mut cases: Vec<Vec<u8>> = Vec::new();
        for cut in (0..good.len()).step_by(good.len() / 97 + 1) {
            cases.push(good[..cut].to_vec());
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..300 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut b = good.clone();
            let i = (x as usize) % b.len();
            b[i] = b"0123456789-.eE\"{}[],:xnull"[(x >> 40) as usize % 26];
            cases.push(b);
        }
        let text = String::from_utf8(good.clone()).unwrap();
        for (from, to) in [
            ("\"elapsed_s\": 10.0", "\"elapsed_s\": 1e308"),
            ("\"elapsed_s\": 10.0", "\"elapsed_s\": 0.0"),
            ("\"count\": 200", "\"count\": 18446744073709551615"),
            ("\"failed\": 0", "\"failed\": 18446744073709551615"),
            ("\"steps\": [", "\"steps\": [], \"x\": ["),
            ("\"name\": \"chat\"", "\"name\": \"\""),
        ] {
            cases.push(text.replacen(from, to, 1).into_bytes());
        }
        cases.push(b"[]".to_vec());
        cases.push(b"null".to_vec());
        cases.push(vec![b'['; 10_000]);
        for (i, bytes) in cases.iter().enumerate() {
            if let Ok(s) = parse("x", bytes) {
                let c = compare(("a", &base), ("x", &s), Settings::default());
                let _ = crate::compare::table::render(&c);
                let _ = crate::compare::junit::suites(&c);
                assert!(!c.rows.is_empty(), "case {i}");
            }
        }
    }
}
