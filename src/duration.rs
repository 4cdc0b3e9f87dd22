//! Human durations, for scenarios, flags and env vars alike: `500ms`, `1.5s`, `15m`, `1h30m`, or bare seconds.
//!
//! Parsed exactly in integer nanoseconds (no float rounding), so `0.1s` is 100 ms on the dot.

use std::time::Duration;

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Parses `"500ms"`, `"1.5s"`, `"15m"`, `"1h30m"`, or a string of digits (whole seconds).
/// Units: `ms`, `s`, `m`, `h`; a value may chain several (`1h30m`, `1m30.5s`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || {
        format!(
            "bad duration \"{text}\": use a number with a unit (ms, s, m, h), e.g. \"500ms\", \
             \"1.5s\", \"1h30m\", or a whole number of seconds"
        )
    };
    if text.is_empty() {
        return Err(bad());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        let secs: u64 = text.parse().map_err(|_| bad())?;
        return Ok(Duration::from_secs(secs));
    }
    let mut rest = text;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let (number, tail) = rest.split_at(digits);
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let unit_nanos: u128 = match unit {
            "ms" => 1_000_000,
            "s" => NANOS_PER_SEC,
            "m" => 60 * NANOS_PER_SEC,
            "h" => 3_600 * NANOS_PER_SEC,
            _ => return Err(bad()),
        };
        total = total
            .checked_add(number_nanos(number, unit_nanos).ok_or_else(bad)?)
            .ok_or_else(bad)?;
        rest = tail;
    }
    let secs = u64::try_from(total / NANOS_PER_SEC).map_err(|_| bad())?;
    // The remainder is below 10^9, so it fits a u32.
    let nanos = (total % NANOS_PER_SEC) as u32;
    Ok(Duration::new(secs, nanos))
}

/// `number` (digits, optionally one `.` with digits after it) times `unit_nanos`, truncated.
fn number_nanos(number: &str, unit_nanos: u128) -> Option<u128> {
    let (int, frac) = match number.split_once('.') {
        Some((i, f)) => (i, f),
        None => (number, ""),
    };
    if int.is_empty() || (number.contains('.') && frac.is_empty()) || frac.contains('.') {
        return None;
    }
    if int.len() > 20 {
        return None;
    }
    let whole: u128 = int.parse().ok()?;
    let mut value = whole.checked_mul(unit_nanos)?;
    // Digits past the 18th cannot change a nanosecond count for these units.
    let frac = &frac[..frac.len().min(18)];
    if !frac.is_empty() {
        let scale = 10u128.pow(frac.len() as u32);
        let f: u128 = frac.parse().ok()?;
        value = value.checked_add(f.checked_mul(unit_nanos)? / scale)?;
    }
    Some(value)
}

/// Formats a duration for people: `1.5s`, `250ms`, `15m`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 60.0 && s % 60.0 == 0.0 {
        format!("{}m", s as u64 / 60)
    } else if s >= 1.0 {
        format!("{}s", (s * 1000.0).round() / 1000.0)
    } else {
        format!("{}ms", (s * 1000.0).round())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn parses_units_and_compounds() {
        assert_eq!(parse_duration("500ms"), Ok(ms(500)));
        assert_eq!(parse_duration("1.5s"), Ok(ms(1500)));
        assert_eq!(parse_duration("0.1s"), Ok(ms(100)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1m30.5s"), Ok(ms(90_500)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("2.25ms"), Ok(Duration::from_micros(2250)));
    }

    #[test]
    fn bare_digits_are_seconds() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "s",
            "1x",
            "1.s",
            ".5s",
            "1..5s",
            "-1s",
            "1 s",
            " 1s",
            "1s ",
            "1.5",
            "1hh",
            "ms",
            "1sec",
            "1d",
            "99999999999999999999999h",
        ] {
            let err = parse_duration(bad).expect_err(bad);
            assert!(err.contains("bad duration"), "{bad}: {err}");
        }
        assert!(parse_duration("1.5")
            .unwrap_err()
            .contains("e.g. \"500ms\""));
    }

    #[test]
    fn formats_for_people() {
        assert_eq!(human(Duration::from_millis(250)), "250ms");
        assert_eq!(human(Duration::from_millis(1500)), "1.5s");
        assert_eq!(human(Duration::from_secs(900)), "15m");
    }
}
