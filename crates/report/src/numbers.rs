//! Numbers as people read them in the Markdown and HTML reports. JSON keeps
//! exact values; these are for display only, and fixed-format so renders are
//! byte-identical.

use windtunnel_core::Nanodollars;

/// `1,234,567`.
pub(crate) fn int(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Dollars with as many decimals as a small amount needs: `$123.46`,
/// `$1.5900`, `$0.000001`.
pub(crate) fn usd(n: Nanodollars) -> String {
    let v = n.as_usd();
    let d = if v.abs() >= 100.0 {
        2
    } else if v.abs() >= 0.01 {
        4
    } else {
        6
    };
    format!("${v:.d$}")
}

/// A duration at a glance: `850 ms`, `30.5 s`, `12 min 5 s`, `2 h 10 min`.
pub(crate) fn human_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        let tenths = (ms + 50) / 100;
        if tenths.is_multiple_of(10) {
            format!("{} s", tenths / 10)
        } else {
            format!("{}.{} s", tenths / 10, tenths % 10)
        }
    } else if ms < 3_600_000 {
        let s = (ms + 500) / 1000;
        let (m, s) = (s / 60, s % 60);
        if s == 0 { format!("{m} min") } else { format!("{m} min {s} s") }
    } else {
        let m = (ms + 30_000) / 60_000;
        let (h, m) = (m / 60, m % 60);
        if m == 0 { format!("{h} h") } else { format!("{h} h {m} min") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(int(0), "0");
        assert_eq!(int(1_234_567), "1,234,567");
        assert_eq!(int(100), "100");
        assert_eq!(usd(Nanodollars(1_590_000_000)), "$1.5900");
        assert_eq!(usd(Nanodollars(123_456_000_000)), "$123.46");
        assert_eq!(usd(Nanodollars(1_234)), "$0.000001");
        assert_eq!(human_ms(850), "850 ms");
        assert_eq!(human_ms(30_505), "30.5 s");
        assert_eq!(human_ms(3_000), "3 s");
        assert_eq!(human_ms(59_999), "60 s");
        assert_eq!(human_ms(725_000), "12 min 5 s");
        assert_eq!(human_ms(3_599_500), "60 min");
        assert_eq!(human_ms(7_800_000), "2 h 10 min");
    }
}
