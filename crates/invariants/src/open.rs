//! Per-request state while a request is open, in one table for all checks.
//!
//! A check that needs to remember something about a request between its
//! events owns one field of [`OpenRequest`] and reads or writes no other.
//! Keeping the fields in one record, not one table per check, means an event
//! looks its request up once (the next check finds the record in cache), which
//! is most of what checking costs on long replays. The checker creates the
//! record at a request's first event and drops it after its `Finished`, so
//! memory follows the requests in flight, not the trace.

use crate::seq_map::SeqMap;
use windtunnel_core::{EndpointIdx, ErrorKind, Sym};

/// What the checks remember of one open request: one field per check.
#[derive(Debug, Default)]
pub(crate) struct OpenRequest {
    /// `conservation`: when it arrived and its trace id; `None` until its `Arrived`.
    pub(crate) arrival: Option<(u64, Option<Sym>)>,
    /// `attempt_limit`: attempts started so far.
    pub(crate) attempts_started: u32,
    /// `no_retry_on_fatal`: endpoints a fatal error closed to it.
    pub(crate) dead_endpoints: Vec<DeadEndpoint>,
    /// `deadline`: its arrival time when that differs from the trace's `at_ms`.
    pub(crate) arrived_late_at: Option<u64>,
}

/// An endpoint closed to a request by a fatal error.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DeadEndpoint {
    pub(crate) endpoint: EndpointIdx,
    pub(crate) kind: ErrorKind,
    pub(crate) at: u64,
}

/// The records of the open requests, by trace position.
#[derive(Debug, Default)]
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
        self.by_seq.len()
    }
}
