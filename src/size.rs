//! Byte sizes for limits, as people write them: `4MiB`, `512KiB`, `1MB`, or a number of bytes.
//!
//! Whole numbers only, checked arithmetic: a size that does not fit `usize` is an error, never a
//! wrap-around.

/// Parses `"4MiB"`, `"512KiB"`, `"1GiB"`, `"1MB"` (10^6), `"100kB"`, `"64B"` or bare digits (bytes).
pub fn parse_size(text: &str) -> Result<usize, String> {
    let bad = || {
        format!(
            "bad size \"{text}\": use a whole number with a unit (B, KiB, MiB, GiB, kB, MB, GB), \
             e.g. \"4MiB\", or a number of bytes"
        )
    };
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    if digits.is_empty() {
        return Err(bad());
    }
    let n: usize = digits.parse().map_err(|_| bad())?;
    let scale: usize = match unit.trim_start() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "kB" | "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return Err(bad()),
    };
    n.checked_mul(scale).ok_or_else(bad)
}

/// Formats a size for messages: `1 MiB`, `4 MiB`, `1500 bytes`.
pub fn human_size(n: usize) -> String {
    for (unit, scale) in [("GiB", 1usize << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if n >= scale && n.is_multiple_of(scale) {
            return format!("{} {unit}", n / scale);
        }
    }
    format!("{n} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_binary_and_decimal_units_and_bare_bytes() {
        assert_eq!(parse_size("4MiB"), Ok(4 << 20));
        assert_eq!(parse_size("512KiB"), Ok(512 << 10));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("1MB"), Ok(1_000_000));
        assert_eq!(parse_size("100kB"), Ok(100_000));
        assert_eq!(parse_size("64B"), Ok(64));
        assert_eq!(parse_size("2048"), Ok(2048));
        assert_eq!(parse_size("4 MiB"), Ok(4 << 20));
    }

    #[test]
    fn rejects_what_is_not_a_size() {
        for bad in [
            "",
            "MiB",
            "1.5MiB",
            "-1",
            "4mb",
            "4 MiBs",
            "99999999999999999999999",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert!(
            parse_size(&format!("{}GiB", usize::MAX)).is_err(),
            "overflow"
        );
    }

    #[test]
    fn formats_for_people() {
        assert_eq!(human_size(1 << 20), "1 MiB");
        assert_eq!(human_size(64 << 10), "64 KiB");
        assert_eq!(human_size(1500), "1500 bytes");
    }
}
