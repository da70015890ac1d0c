//! A trace's clock: absolute timestamps become offsets from the first
//! request, and a request earlier than the one before it is refused (traces
//! are ordered by time). Shared by the Azure (microseconds), BurstGPT and
//! Mooncake (milliseconds) importers; each turns the [`Problem`] into an
//! error at its own line and column.

use crate::error::Problem;

/// Offsets from the first timestamp, in the file's own unit.
#[derive(Debug, Default)]
pub(crate) struct RelativeClock {
    first: Option<i64>,
    prev: i64,
    prev_text: String,
}

impl RelativeClock {
    /// Refuses `t` (as written: `text`) if it is before the previous one.
    pub(crate) fn check(&self, field: &'static str, t: i64, text: &str) -> Result<(), Problem> {
        if self.first.is_some() && t < self.prev {
            return Err(Problem::OutOfOrder { field, found: text.to_string(), previous: self.prev_text.clone() });
        }
        Ok(())
    }

    /// [`RelativeClock::check`] then [`RelativeClock::advance`]: the offset
    /// of `t`, or why it is refused.
    pub(crate) fn accept(&mut self, field: &'static str, t: i64, text: &str) -> Result<i64, Problem> {
        self.check(field, t, text)?;
        Ok(self.advance(t, text))
    }

    /// Accepts `t` and returns its offset from the first timestamp.
    pub(crate) fn advance(&mut self, t: i64, text: &str) -> i64 {
        let first = *self.first.get_or_insert(t);
        self.prev = t;
        self.prev_text.clear();
        self.prev_text.push_str(text);
        t - first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_count_from_the_first_and_going_back_is_refused() {
        let mut c = RelativeClock::default();
        assert_eq!(c.check("t", 100, "100"), Ok(()));
        assert_eq!(c.advance(100, "100"), 0);
        assert_eq!(c.advance(150, "150"), 50);
        assert_eq!(c.check("t", 150, "150"), Ok(()), "ties are fine");
        assert_eq!(
            c.check("t", 120, "120"),
            Err(Problem::OutOfOrder { field: "t", found: "120".into(), previous: "150".into() })
        );
    }
}
