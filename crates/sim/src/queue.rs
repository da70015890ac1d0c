//! Queueing above `concurrency`: a FIFO multi-server queue.
//!
//! Attempts start in time order, so giving each the server that frees first
//! is exactly FIFO with `c` servers. Each slot remembers which attempt holds
//! it, so a cancelled attempt (timeout, hedge loser) frees its slot early; an
//! attempt already queued behind it keeps its computed start (a small,
//! documented pessimism that keeps the queue O(c) per attempt with no
//! per-attempt storage).

use crate::adapter::SlotHold;

/// The servers of one endpoint.
#[derive(Clone, Debug)]
pub struct Slots {
    free_at: Vec<u64>,
    owner: Vec<u64>,
    next_owner: u64,
}

/// A place in the queue: when service starts and how to release it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Admission {
    /// When service starts (>= the arrival).
    pub start: u64,
    /// The slot index.
    pub slot: u32,
    /// The owner token for early release.
    pub owner: u64,
}

impl Slots {
    /// `concurrency` servers, all free.
    pub fn new(concurrency: u32) -> Slots {
        let c = concurrency.max(1) as usize;
        Slots { free_at: vec![0; c], owner: vec![0; c], next_owner: 1 }
    }

    /// Queues an attempt arriving at `now`; the caller then calls `occupy`.
    pub fn admit(&mut self, now: u64) -> Admission {
        let (slot, free) = self.free_at.iter().copied().enumerate().min_by_key(|&(i, t)| (t, i)).unwrap_or((0, 0));
        let owner = self.next_owner;
        self.next_owner += 1;
        Admission { start: free.max(now), slot: slot as u32, owner }
    }

    /// Holds the admitted slot until `until` (`u64::MAX` for a hang).
    pub fn occupy(&mut self, a: Admission, until: u64) {
        let i = a.slot as usize;
        self.free_at[i] = until;
        self.owner[i] = a.owner;
    }

    /// Frees a slot at `now` if `owner` still holds it. An attempt still
    /// queued frees it when its service would have started, since the attempt
    /// ahead of it still holds the server until then.
    pub fn release(&mut self, hold: SlotHold, now: u64) {
        let i = hold.slot as usize;
        let free = now.max(hold.since);
        if self.owner.get(i) == Some(&hold.owner) && self.free_at[i] > free {
            self.free_at[i] = free;
        }
    }

    /// Attempts in service or queued at `now`.
    pub fn busy(&self, now: u64) -> usize {
        self.free_at.iter().filter(|&&t| t > now).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queues_fifo_when_all_servers_are_busy() {
        let mut s = Slots::new(2);
        let a = s.admit(0);
        s.occupy(a, 100);
        let b = s.admit(0);
        s.occupy(b, 50);
        let c = s.admit(10);
        assert_eq!(c.start, 50, "third waits for the first server to free");
        s.occupy(c, 80);
        assert_eq!(s.admit(10).start, 80);
    }

    #[test]
    fn a_cancelled_attempt_frees_its_slot() {
        let mut s = Slots::new(1);
        let a = s.admit(0);
        s.occupy(a, u64::MAX);
        s.release(SlotHold { slot: a.slot, owner: a.owner, since: a.start }, 30);
        assert_eq!(s.admit(40).start, 40);
    }
}
