//! The one trait every invariant implements, and the tally it reports into.
//!
//! Why a trait and not one big `match` in the checker: each invariant keeps
//! its own state and sees only the events, so the checks stay independent
//! (one cannot mask another) and each can be read, and tested, on its own.

use crate::open::{OpenRequest, OpenRequests};
use crate::result::{Example, InvariantResult, MAX_EXAMPLES};
use crate::world::World;
use std::fmt;
use windtunnel_core::Event;

/// The kinds of event, as bits: a check names the kinds it reads, and the
/// checker hands it only those (most events concern two or three checks).
/// The checker's `record` maps each event to its bit.
/// The bits are core's one numbering of kinds ([`windtunnel_core::event_kind`]), shifted.
pub(crate) mod kind {
    use windtunnel_core::event_kind;
    pub(crate) const ARRIVED: u8 = 1 << event_kind::ARRIVED;
    pub(crate) const ATTEMPT_STARTED: u8 = 1 << event_kind::ATTEMPT_STARTED;
    pub(crate) const ATTEMPT_FINISHED: u8 = 1 << event_kind::ATTEMPT_FINISHED;
    pub(crate) const ATTEMPT_CANCELLED: u8 = 1 << event_kind::ATTEMPT_CANCELLED;
    pub(crate) const BREAKER: u8 = 1 << event_kind::BREAKER;
    pub(crate) const FINISHED: u8 = 1 << event_kind::FINISHED;
}

/// One invariant, fed the event log in time order.
pub(crate) trait Check: fmt::Debug {
    /// The event kinds it reads ([`kind`] bits). Events of other kinds are
    /// not passed to it.
    fn reads(&self) -> u8;

    /// Looks at one event; reports each violation it reveals. Per-request
    /// state lives in `open`, in the fields of [`OpenRequest`] the check owns.
    fn observe(&mut self, event: &Event<'_>, open: &mut OpenRequests, world: &World, tally: &mut Tally);

    /// The log has ended with `still_open` never finished: reports what only
    /// the end reveals.
    fn finish(&mut self, _still_open: &[(u64, OpenRequest)], _world: &World, _tally: &mut Tally) {}
}

/// The violations of one invariant: a count, and the first few examples.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tally {
    violations: u64,
    examples: Vec<Example>,
}

impl Tally {
    /// Counts one violation. The example is built only while fewer than
    /// [`MAX_EXAMPLES`] are kept, so a flood of violations costs no allocation.
    #[cold]
    #[inline(never)]
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
