//! Human durations as SPEC writes them: `ms`, `s`, `m`, `h` and combinations
//! (`6h20m`, `1m30s`, `250ms`). A bare integer is milliseconds.

use thiserror::Error;

/// Why a duration string was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DurationError {
    /// Empty string.
    #[error("empty duration, expected a number with a unit such as `90s` or `6h20m`")]
    Empty,
    /// A leading minus sign.
    #[error("negative duration `{0}`, expected zero or more")]
    Negative(String),
    /// A number without a unit, or an unknown unit.
    #[error("invalid duration `{found}`, expected a number with a unit (ms, s, m, h) such as `90s` or `6h20m`")]
    Invalid {
        /// What was found.
        found: String,
    },
}

/// Parses a duration into whole milliseconds. Fractions are allowed per part
/// (`1.5s` = 1500 ms).
pub fn parse_duration_ms(s: &str) -> Result<u64, DurationError> {
    let t = s.trim();
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
        let unit_ms = match &t[ustart..i] {
            "ms" => 1.0,
            "s" => 1_000.0,
            "m" => 60_000.0,
            "h" => 3_600_000.0,
            "d" => 86_400_000.0,
            _ => return Err(invalid()),
        };
        total += n * unit_ms;
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
    fn format_round_trips() {
        for ms in [1, 999, 1000, 61_001, 3_600_000, 22_800_250] {
            assert_eq!(parse_duration_ms(&format_duration_ms(ms)), Ok(ms));
        }
    }
}
