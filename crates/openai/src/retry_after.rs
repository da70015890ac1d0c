//! How long an upstream asks to be left alone: `Retry-After` and its
//! cousins, read into milliseconds for [`AttemptError::retry_after_ms`].
//!
//! Precedence, most explicit first:
//! 1. `retry-after-ms` (OpenAI, Azure): milliseconds, possibly fractional.
//! 2. `retry-after` (RFC 9110): seconds, or an HTTP date (time from `now`,
//!    never below 0).
//! 3. On a 429 only, the rate-limit reset headers. These say when a window
//!    refills, not when to come back, so a reset is used only when nothing
//!    above is present:
//!    - OpenAI (and Groq, ...): `x-ratelimit-reset-requests` and
//!      `x-ratelimit-reset-tokens` in Go's duration form (`1s`, `6m0s`,
//!      `20ms`, `1h2m3.5s`).
//!    - Anthropic: `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-reset`,
//!      RFC 3339 dates.
//!
//!    Of several resets, those of an exhausted window (its `...-remaining`
//!    header is `0`) count; if none says so, all do. The largest counts:
//!    coming back when one window has refilled but the other has not earns
//!    another 429.
//!
//! Unparseable values are ignored (a header is a hint, never a reason to
//! fail). Results round up to whole milliseconds and saturate.
//!
//! [`AttemptError::retry_after_ms`]: windtunnel_core::AttemptError

use std::time::{SystemTime, UNIX_EPOCH};

/// A bare number in a reset header at least this large is a Unix time in
/// seconds (2001-09-09 onwards), not a duration: no window lasts 30 years.
const UNIX_SECONDS_FLOOR: f64 = 1e9;

/// Retry-After in ms for an answer with `status` and these headers.
pub(crate) fn retry_after_ms(status: u16, header: &dyn Fn(&str) -> Option<String>, now: SystemTime) -> Option<u64> {
    if let Some(ms) = header("retry-after-ms").and_then(|v| parse_number(&v)).and_then(ms_from_f64) {
        return Some(ms);
    }
    if let Some(v) = header("retry-after") {
        if let Some(secs) = parse_number(&v) {
            if let Some(ms) = ms_from_f64(secs * 1000.0) {
                return Some(ms);
            }
        } else if let Ok(at) = httpdate::parse_http_date(v.trim()) {
            return Some(ms_until(at, now));
        }
    }
    if status != 429 {
        return None;
    }
    let openai = [
        ("x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"),
        ("x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"),
    ];
    if let Some(ms) = largest_reset(header, &openai, |v| parse_reset_duration(v, now)) {
        return Some(ms);
    }
    let anthropic = [
        ("anthropic-ratelimit-requests-remaining", "anthropic-ratelimit-requests-reset"),
        ("anthropic-ratelimit-tokens-remaining", "anthropic-ratelimit-tokens-reset"),
        ("anthropic-ratelimit-input-tokens-remaining", "anthropic-ratelimit-input-tokens-reset"),
        ("anthropic-ratelimit-output-tokens-remaining", "anthropic-ratelimit-output-tokens-reset"),
    ];
    largest_reset(header, &anthropic, |v| {
        let at = parse_rfc3339_ms(v)?;
        Some(u64::try_from(at.saturating_sub(unix_ms(now))).unwrap_or(0))
    })
}

/// The largest reset among the exhausted windows (or among all when none is
/// marked exhausted).
fn largest_reset(
    header: &dyn Fn(&str) -> Option<String>,
    pairs: &[(&str, &str)],
    parse: impl Fn(&str) -> Option<u64>,
) -> Option<u64> {
    let mut all = None;
    let mut exhausted = None;
    for (remaining, reset) in pairs {
        let Some(ms) = header(reset).and_then(|v| parse(&v)) else { continue };
        all = all.max(Some(ms));
        if header(remaining).is_some_and(|r| r.trim() == "0") {
            exhausted = exhausted.max(Some(ms));
        }
    }
    exhausted.or(all)
}

/// A plain non-negative decimal number (`"2"`, `"1.5"`); not `inf`, `nan`
/// or exponents, which `f64::from_str` would take.
fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    s.parse().ok()
}

/// Whole milliseconds, rounded up; `None` for a negative or non-finite value.
fn ms_from_f64(ms: f64) -> Option<u64> {
    // `as` saturates for finite values beyond u64.
    (ms.is_finite() && ms >= 0.0).then(|| ms.ceil() as u64)
}

fn ms_until(at: SystemTime, now: SystemTime) -> u64 {
    match at.duration_since(now) {
        Ok(d) => u64::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX),
        Err(_) => 0,
    }
}

fn unix_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

/// An `x-ratelimit-reset-*` value: a Go duration (`6m0s`), or a bare number
/// of seconds (a Unix time in seconds when huge, see [`UNIX_SECONDS_FLOOR`]).
fn parse_reset_duration(s: &str, now: SystemTime) -> Option<u64> {
    if let Some(n) = parse_number(s) {
        if n >= UNIX_SECONDS_FLOOR {
            let at_ms = ms_from_f64(n * 1000.0)?;
            return Some(u64::try_from(i64::try_from(at_ms).ok()?.saturating_sub(unix_ms(now))).unwrap_or(0));
        }
        return ms_from_f64(n * 1000.0);
    }
    parse_go_duration_ms(s).and_then(ms_from_f64)
}

/// Go's `time.Duration` text (`1h2m3.5s`, `20ms`, `0s`) in milliseconds.
pub(crate) fn parse_go_duration_ms(s: &str) -> Option<f64> {
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_end == 0 {
            return None;
        }
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "h" => 3_600_000.0,
            "m" => 60_000.0,
            "s" => 1_000.0,
            "ms" => 1.0,
            "us" | "µs" | "μs" => 1e-3,
            "ns" => 1e-6,
            // Go accepts a bare "0" only.
            "" if n == 0.0 && rest.is_empty() => 0.0,
            _ => return None,
        };
        total += n * scale;
        rest = &rest[unit_end..];
    }
    Some(total)
}

/// An RFC 3339 date-time (`2024-05-01T12:00:30Z`, `...30.25+02:00`) as Unix
/// milliseconds.
pub(crate) fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    let digits = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        part.iter().try_fold(0i64, |acc, &d| d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0')))
    };
    let sep = |at: usize, allowed: &[u8]| b.get(at).is_some_and(|c| allowed.contains(c));
    let (year, month, day) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
    let (hour, minute, second) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut i = 19;
    let mut millis = 0;
    if sep(i, b".") {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            if i - start < 3 {
                millis = millis * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in (i - start)..3 {
            millis *= 10;
        }
    }
    let offset_min = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && sep(i + 3, b":") => {
            let m = digits(i + 1, 2)? * 60 + digits(i + 4, 2)?;
            if *sign == b'-' { -m } else { m }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_min * 60;
    Some(secs * 1_000 + millis)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(unix_s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(unix_s)
    }

    fn headers(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_lowercase(), v.to_string())).collect();
        move |name: &str| pairs.iter().find(|(k, _)| *k == name.to_lowercase()).map(|(_, v)| v.clone())
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration_ms("1s"), Some(1_000.0));
        assert_eq!(parse_go_duration_ms("6m0s"), Some(360_000.0));
        assert_eq!(parse_go_duration_ms("20ms"), Some(20.0));
        assert_eq!(parse_go_duration_ms("1h2m3.5s"), Some(3_723_500.0));
        assert_eq!(parse_go_duration_ms("0"), Some(0.0));
        assert_eq!(parse_go_duration_ms("5"), None);
        assert_eq!(parse_go_duration_ms("1d"), None);
        assert_eq!(parse_go_duration_ms(""), None);
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339_ms("2024-05-01T12:00:30Z"), Some(1_714_564_830_000));
        assert_eq!(parse_rfc3339_ms("2024-05-01T12:00:30.25Z"), Some(1_714_564_830_250));
        assert_eq!(parse_rfc3339_ms("2024-05-01T14:00:30+02:00"), Some(1_714_564_830_000));
        assert_eq!(parse_rfc3339_ms("2024-02-29T00:00:00Z"), Some(1_709_164_800_000));
        assert_eq!(parse_rfc3339_ms("2024-05-01 12:00:30"), None);
        assert_eq!(parse_rfc3339_ms("2024-13-01T12:00:30Z"), None);
        assert_eq!(parse_rfc3339_ms("soon"), None);
    }

    #[test]
    fn retry_after_ms_header_wins() {
        let h = headers(&[("retry-after-ms", "1500.2"), ("retry-after", "9")]);
        assert_eq!(retry_after_ms(429, &h, at(0)), Some(1_501));
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(retry_after_ms(503, &headers(&[("Retry-After", "3")]), at(0)), Some(3_000));
        let date = headers(&[("retry-after", "Wed, 01 May 2024 12:00:30 GMT")]);
        assert_eq!(retry_after_ms(429, &date, at(1_714_564_800)), Some(30_000));
        // A date in the past means now.
        assert_eq!(retry_after_ms(429, &date, at(1_714_564_900)), Some(0));
        assert_eq!(retry_after_ms(429, &headers(&[("retry-after", "-5")]), at(0)), None);
        assert_eq!(retry_after_ms(429, &headers(&[("retry-after", "inf")]), at(0)), None);
    }

    #[test]
    fn openai_resets_take_the_exhausted_window() {
        let h = headers(&[
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-reset-requests", "20ms"),
            ("x-ratelimit-remaining-tokens", "149000"),
            ("x-ratelimit-reset-tokens", "6m0s"),
        ]);
        assert_eq!(retry_after_ms(429, &h, at(0)), Some(20));
        // Resets only on a 429.
        assert_eq!(retry_after_ms(500, &h, at(0)), None);
    }

    #[test]
    fn unix_seconds_in_a_reset_header_count_from_now() {
        let h = headers(&[("x-ratelimit-reset-requests", "1714564830")]);
        assert_eq!(retry_after_ms(429, &h, at(1_714_564_800)), Some(30_000));
    }
}
