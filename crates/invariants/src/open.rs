//! Per-request state while a request is open, in one table for all checks.
//!
//! A check that needs to remember something about every request between its
//! events owns fields of [`OpenRequest`] and reads or writes no others.
//! Keeping them in one small record, not one table per check, means an event
//! looks its request up once (the next check finds the record in cache), and
//! that lookup is most of what checking costs on long replays. The checker
//! creates the record at a request's first event and drops it after its
//! `Finished`, so memory follows the requests in flight, not the trace.
//! State only a few requests ever have (a fatal error, a late arrival) stays
//! in its check's own small map, so the record stays at 32 bytes (checked
//! at compile time below).

use windtunnel_core::{SeqMap, Sym};

/// What the checks remember of one open request.
#[derive(Clone, Debug, Default)]
pub(crate) struct OpenRequest {
    /// `conservation`: whether its `Arrived` was seen, ...
    pub(crate) arrived: bool,
    /// ... when, ...
    pub(crate) arrived_at: u64,
    /// ... and its trace id (for examples of requests never finished).
    pub(crate) id: Option<Sym>,
    /// `attempt_limit`: attempts started so far.
    pub(crate) attempts_started: u32,
}

const _: () = assert!(std::mem::size_of::<OpenRequest>() <= 32, "the open-request record grew");

/// The records of the open requests, by trace position.
#[derive(Clone, Debug, Default)]
pub(crate) struct OpenRequests {
    by_seq: SeqMap<OpenRequest>,
}

impl OpenRequests {
    /// The record of request `seq`, created empty at its first use.
    #[inline]
    pub(crate) fn of(&mut self, seq: u64) -> &mut OpenRequest {
        self.by_seq.entry_or_default(seq)
    }

    /// The record of request `seq`, if it has one.
    #[inline]
    pub(crate) fn get(&self, seq: u64) -> Option<&OpenRequest> {
        self.by_seq.get(seq)
    }

    /// Drops the record of a request that has finished.
    #[inline]
    pub(crate) fn close(&mut self, seq: u64) {
        self.by_seq.remove(seq);
    }

    /// Takes the records still open, in `seq` order (the log has ended).
    pub(crate) fn take_sorted(&mut self) -> Vec<(u64, OpenRequest)> {
        self.by_seq.take_sorted()
    }

    /// Records held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.by_seq.count_entries()
    }
}
