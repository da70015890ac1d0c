//! The one trait every invariant implements, and the tally it reports into.
//!
//! Why a trait and not one big `match` in the checker: each invariant keeps
//! its own state and sees only the events, so the checks stay independent
//! (one cannot mask another) and each can be read, and tested, on its own.

use crate::result::{Example, InvariantResult, MAX_EXAMPLES};
use crate::world::World;
use std::fmt;
use windtunnel_core::Event;

/// One invariant, fed the event log in time order.
pub(crate) trait Check: fmt::Debug {
    /// Looks at one event; reports each violation it reveals.
    fn observe(&mut self, event: &Event<'_>, world: &World, tally: &mut Tally);

    /// The log has ended: reports what only the end reveals.
    fn finish(&mut self, _world: &World, _tally: &mut Tally) {}

    /// Entries of per-request state still held, for constant-memory tests.
    #[cfg(test)]
    fn open_entries(&self) -> usize {
        0
    }
}

/// The violations of one invariant: a count, and the first few examples.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    violations: u64,
    examples: Vec<Example>,
}

impl Tally {
    /// Counts one violation. The example is built only while fewer than
    /// [`MAX_EXAMPLES`] are kept, so a flood of violations costs no allocation.
    pub(crate) fn report(&mut self, example: impl FnOnce() -> Example) {
        self.violations += 1;
        if self.examples.len() < MAX_EXAMPLES {
            self.examples.push(example());
        }
    }

    /// The result under `name`.
    pub(crate) fn into_result(self, name: &'static str) -> InvariantResult {
        InvariantResult { name, violations: self.violations, examples: self.examples }
    }
}
