//! Wall-clock helpers for frames: epoch seconds (float) and ISO-8601 UTC strings, no date crate.
//!
//! Design choice: the ISO form is computed with the civil-from-days algorithm (H. Hinnant), which is
//! exact for the proleptic Gregorian calendar and needs no dependency.

use std::time::{SystemTime, UNIX_EPOCH};

use super::config::Timestamps;

fn since_epoch() -> std::time::Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// Seconds since the Unix epoch as a float (the `timestamp` of error/pong frames).
pub fn epoch_f64() -> f64 {
    since_epoch().as_secs_f64()
}

/// Whole seconds since the Unix epoch (JWT `iat`/`exp`).
pub fn epoch_secs() -> u64 {
    since_epoch().as_secs()
}

/// Now as `YYYY-MM-DDTHH:MM:SS.ffffff+00:00`.
pub fn iso_now() -> String {
    let d = since_epoch();
    iso(d.as_secs(), d.subsec_micros())
}

fn iso(secs: u64, micros: u32) -> String {
    format!("{}.{micros:06}+00:00", iso_seconds(secs))
}

/// Now as `YYYY-MM-DDTHH:MM:SS.fffZ` (milliseconds, as JavaScript's `toISOString`).
pub fn iso_ms_now() -> String {
    let d = since_epoch();
    iso_ms(d.as_secs(), d.subsec_millis())
}

fn iso_ms(secs: u64, millis: u32) -> String {
    format!("{}.{millis:03}Z", iso_seconds(secs))
}

/// `YYYY-MM-DDTHH:MM:SS` of a Unix time in whole seconds.
fn iso_seconds(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Now as an agent event's `timestamp` in the configured form.
pub fn event_timestamp(form: Timestamps) -> serde_json::Value {
    match form {
        Timestamps::Iso => iso_now().into(),
        Timestamps::IsoMs => iso_ms_now().into(),
        Timestamps::Epoch => epoch_f64().into(),
    }
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_formats_known_instants() {
        assert_eq!(iso(0, 0), "1970-01-01T00:00:00.000000+00:00");
        assert_eq!(
            iso(1_758_196_800, 500_000),
            "2025-09-18T12:00:00.500000+00:00"
        );
        assert_eq!(iso(951_782_400, 0), "2000-02-29T00:00:00.000000+00:00");
        assert_eq!(iso_ms(1_758_196_800, 5), "2025-09-18T12:00:00.005Z");
        assert_eq!(iso_ms(951_868_799, 999), "2000-02-29T23:59:59.999Z");
    }

    #[test]
    fn event_timestamps_take_the_configured_form() {
        let before = epoch_f64();
        let epoch = event_timestamp(Timestamps::Epoch)
            .as_f64()
            .expect("a float");
        assert!(
            epoch >= before && epoch - before < 60.0,
            "{epoch} vs {before}"
        );
        let iso = event_timestamp(Timestamps::Iso);
        let iso = iso.as_str().expect("a string");
        assert_eq!(iso.len(), "2025-09-18T12:00:00.500000+00:00".len(), "{iso}");
        assert!(iso.ends_with("+00:00"), "{iso}");
        let ms = event_timestamp(Timestamps::IsoMs);
        let ms = ms.as_str().expect("a string");
        assert_eq!(ms.len(), "2025-09-18T12:00:00.500Z".len(), "{ms}");
        assert!(ms.ends_with('Z') && ms.as_bytes()[19] == b'.', "{ms}");
    }
}
