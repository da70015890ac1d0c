//! Human durations as SPEC writes them: `ms`, `s`, `m`, `h` and combinations
//! (`6h20m`, `1m30s`, `250ms`). A bare integer is milliseconds.

use thiserror::Error;

/// The longest duration accepted: ten years. Anything longer in a scenario
/// is a typo (epoch milliseconds, an extra digit), and bounding it keeps time
/// arithmetic far from overflow.
pub const MAX_DURATION_MS: u64 = 3_650 * 86_400_000;

/// Why a duration string was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DurationError {
    /// Empty string.
    #[error("empty duration, expected a number with a unit such as `90s` or `6h20m`")]
    Empty,
    /// A leading minus sign.
    #[error("negative duration `{0}`, expected zero or more")]
    Negative(String),
    /// A number without a unit, an unknown unit, white space, or units
    /// repeated or out of order (`5h5h`, `5s5h`).
    #[error(
        "invalid duration `{found}`, expected numbers with units (d, h, m, s, ms), largest first and each once, \
         such as `90s` or `6h20m`"
    )]
    Invalid {
        /// What was found.
        found: String,
    },
    /// Longer than [`MAX_DURATION_MS`].
    #[error("duration `{found}` is longer than the most allowed, 3650d (ten years)")]
    TooLong {
        /// What was found.
        found: String,
    },
}

/// Parses a duration into whole milliseconds. Fractions are allowed per part
/// (`1.5s` = 1500 ms). Parts go from the largest unit to the smallest, each
/// at most once; no white space.
pub fn parse_duration_ms(s: &str) -> Result<u64, DurationError> {
    let t = s;
    if t.is_empty() {
        return Err(DurationError::Empty);
    }
    if t.starts_with('-') {
        return Err(DurationError::Negative(t.to_string()));
    }
    let invalid = || DurationError::Invalid { found: t.to_string() };
    let bytes = t.as_bytes();
    let mut i = 0;
    let mut total = 0f64;
    // Units seen so far must strictly decrease: 5 = d, 4 = h, ... 1 = ms.
    let mut last_rank = u8::MAX;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
            i += 1;
        }
        if start == i {
            return Err(invalid());
        }
        let n: f64 = t[start..i].parse().map_err(|_| invalid())?;
        let ustart = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let (rank, unit_ms) = match &t[ustart..i] {
            "ms" => (1, 1.0),
            "s" => (2, 1_000.0),
            "m" => (3, 60_000.0),
            "h" => (4, 3_600_000.0),
            "d" => (5, 86_400_000.0),
            _ => return Err(invalid()),
        };
        if rank >= last_rank {
            return Err(invalid());
        }
        last_rank = rank;
        total += n * unit_ms;
    }
    if !total.is_finite() || total > MAX_DURATION_MS as f64 {
        return Err(DurationError::TooLong { found: t.to_string() });
    }
    Ok(total.round() as u64)
}

/// Formats milliseconds the way `parse_duration_ms` reads them (`1h2m3s`, `250ms`).
pub fn format_duration_ms(ms: u64) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    let (h, rem) = (ms / 3_600_000, ms % 3_600_000);
    let (m, rem) = (rem / 60_000, rem % 60_000);
    let (s, milli) = (rem / 1000, rem % 1000);
    let mut out = String::new();
    for (v, u) in [(h, "h"), (m, "m"), (s, "s"), (milli, "ms")] {
        if v > 0 {
            out.push_str(&format!("{v}{u}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_combinations() {
        assert_eq!(parse_duration_ms("250ms"), Ok(250));
        assert_eq!(parse_duration_ms("90s"), Ok(90_000));
        assert_eq!(parse_duration_ms("10m"), Ok(600_000));
        assert_eq!(parse_duration_ms("6h20m"), Ok(6 * 3_600_000 + 20 * 60_000));
        assert_eq!(parse_duration_ms("1.5s"), Ok(1500));
        assert_eq!(parse_duration_ms("1m30s"), Ok(90_000));
    }

    #[test]
    fn rejects_negative_bare_and_unknown_units() {
        assert_eq!(parse_duration_ms("-5s"), Err(DurationError::Negative("-5s".into())));
        assert!(matches!(parse_duration_ms("5"), Err(DurationError::Invalid { .. })));
        assert!(matches!(parse_duration_ms("5 weeks"), Err(DurationError::Invalid { .. })));
        assert_eq!(parse_duration_ms(""), Err(DurationError::Empty));
    }

    #[test]
    fn rejects_white_space_repeated_or_unordered_units_and_huge_values() {
        for bad in [" 5s", "5s ", "5 s", "5h5h", "5s5h", "1m1m", "30s1m"] {
            assert!(matches!(parse_duration_ms(bad), Err(DurationError::Invalid { .. })), "{bad:?}");
        }
        assert!(matches!(parse_duration_ms("3651d"), Err(DurationError::TooLong { .. })));
        assert!(matches!(parse_duration_ms("99999999999999999999h"), Err(DurationError::TooLong { .. })));
        assert_eq!(parse_duration_ms("3650d"), Ok(MAX_DURATION_MS));
        assert_eq!(parse_duration_ms("1d2h3m4s5ms"), Ok(86_400_000 + 7_200_000 + 180_000 + 4_000 + 5));
    }

    #[test]
    fn format_round_trips() {
        for ms in [1, 999, 1000, 61_001, 3_600_000, 22_800_250] {
            assert_eq!(parse_duration_ms(&format_duration_ms(ms)), Ok(ms));
        }
    }
}
