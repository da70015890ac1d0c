//! A trace's clock: absolute timestamps become offsets from the first
//! request, and a request earlier than the one before it is refused (traces
//! are ordered by time). Shared by the Azure (microseconds), BurstGPT and
//! Mooncake (milliseconds) importers; each turns the [`Problem`] into an
//! error at its own line and column.

use crate::error::Problem;

/// Offsets from the first timestamp, in the file's own unit.
#[derive(Debug)]
pub(crate) struct RelativeClock {
    first: Option<i64>,
    prev: i64,
    prev_text: String,
    /// [`MAX_SPAN_MS`](crate::MAX_SPAN_MS) in the file's unit.
    max_span: i64,
}

impl RelativeClock {
    /// A clock whose unit is `units_per_ms` per millisecond (1 for ms, 1000 for µs).
    pub(crate) fn new(units_per_ms: i64) -> RelativeClock {
        RelativeClock {
            first: None,
            prev: 0,
            prev_text: String::new(),
            max_span: (crate::MAX_SPAN_MS as i64).saturating_mul(units_per_ms),
        }
    }
}

impl RelativeClock {
    /// The offset of `t` (as written: `text`) from the first timestamp, or
    /// why it is refused: it is before the previous one. A refused `t` does
    /// not move the clock.
    pub(crate) fn accept(&mut self, field: &'static str, t: i64, text: &str) -> Result<i64, Problem> {
        if self.first.is_some() && t < self.prev {
            return Err(Problem::OutOfOrder { field, found: text.to_string(), previous: self.prev_text.clone() });
        }
        let first = *self.first.get_or_insert(t);
        if t.saturating_sub(first) > self.max_span {
            return Err(Problem::TooLate { field, found: text.to_string() });
        }
        self.prev = t;
        self.prev_text.clear();
        self.prev_text.push_str(text);
        Ok(t - first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_more_than_ten_years_on_is_refused() {
        let mut c = RelativeClock::new(1);
        assert_eq!(c.accept("t", 5, "5"), Ok(0));
        let epoch_ms = 1_700_000_000_000i64;
        assert_eq!(
            c.accept("t", epoch_ms, "1700000000000"),
            Err(Problem::TooLate { field: "t", found: "1700000000000".into() })
        );
        assert_eq!(c.accept("t", 6, "6"), Ok(1), "a refused time does not move the clock");
    }

    #[test]
    fn offsets_count_from_the_first_and_going_back_is_refused() {
        let mut c = RelativeClock::new(1);
        assert_eq!(c.accept("t", 100, "100"), Ok(0));
        assert_eq!(c.accept("t", 150, "150"), Ok(50));
        assert_eq!(c.accept("t", 150, "150"), Ok(50), "ties are fine");
        assert_eq!(
            c.accept("t", 120, "120"),
            Err(Problem::OutOfOrder { field: "t", found: "120".into(), previous: "150".into() })
        );
        // The refused time did not move the clock: 130 is still before 150.
        assert_eq!(
            c.accept("t", 130, "130"),
            Err(Problem::OutOfOrder { field: "t", found: "130".into(), previous: "150".into() })
        );
    }
}
