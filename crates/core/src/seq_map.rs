//! `SeqMap`: per-request state keyed by the request's position in the trace.
//!
//! Requests open and close in a sliding window of consecutive `seq`s, so a
//! power-of-two table indexed by `seq & mask` finds each in O(1) with no
//! hashing and no tree rebalancing. That matters: the invariant checker, the
//! report's fault-window tracker and the report relay keep per-request state
//! and see every event of multi-million request replays. When two live requests would share a slot (the window
//! outgrew the table) the table doubles. Memory stays proportional to the
//! requests in flight, never to the trace.

/// A map from request `seq` to `V`.
#[derive(Clone, Debug)]
pub struct SeqMap<V> {
    slots: Vec<Option<(u64, V)>>,
}

impl<V> Default for SeqMap<V> {
    fn default() -> SeqMap<V> {
        SeqMap { slots: Vec::new() }
    }
}

/// The first table size: enough for most replays' requests in flight.
const INITIAL: usize = 1024;

impl<V> SeqMap<V> {
    fn index(&self, seq: u64) -> usize {
        (seq as usize) & (self.slots.len() - 1)
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(INITIAL);
        let old = std::mem::replace(&mut self.slots, (0..size).map(|_| None).collect());
        for (seq, v) in old.into_iter().flatten() {
            self.place(seq, v);
        }
    }

    /// Puts an entry whose slot is known to be free or its own.
    fn place(&mut self, seq: u64, v: V) {
        loop {
            if self.slots.is_empty() {
                self.grow();
                continue;
            }
            let i = self.index(seq);
            match &self.slots[i] {
                Some((s, _)) if *s != seq => self.grow(),
                _ => {
                    self.slots[i] = Some((seq, v));
                    return;
                }
            }
        }
    }

    /// The entry of `seq`.
    #[inline]
    pub fn get(&self, seq: u64) -> Option<&V> {
        if self.slots.is_empty() {
            return None;
        }
        match &self.slots[self.index(seq)] {
            Some((s, v)) if *s == seq => Some(v),
            _ => None,
        }
    }

    /// The entry of `seq`, to change.
    #[inline]
    pub fn get_mut(&mut self, seq: u64) -> Option<&mut V> {
        if self.slots.is_empty() {
            return None;
        }
        let i = self.index(seq);
        match &mut self.slots[i] {
            Some((s, v)) if *s == seq => Some(v),
            _ => None,
        }
    }

    /// The entry of `seq`, created with `Default` when absent.
    #[inline]
    pub fn entry_or_default(&mut self, seq: u64) -> &mut V
    where
        V: Default,
    {
        loop {
            if !self.slots.is_empty() {
                let i = self.index(seq);
                match &self.slots[i] {
                    Some((s, _)) if *s == seq => break,
                    None => {
                        self.slots[i] = Some((seq, V::default()));
                        break;
                    }
                    // Another live request holds the slot: the window outgrew the table.
                    Some(_) => {}
                }
            }
            self.grow();
        }
        let i = self.index(seq);
        match &mut self.slots[i] {
            Some((_, v)) => v,
            // The loop above left it there.
            None => unreachable_slot(),
        }
    }

    /// Sets the entry of `seq`, replacing any it had.
    #[inline]
    pub fn insert(&mut self, seq: u64, v: V) {
        self.place(seq, v);
    }

    /// Removes and returns the entry of `seq`.
    #[inline]
    pub fn remove(&mut self, seq: u64) -> Option<V> {
        if self.slots.is_empty() {
            return None;
        }
        let i = self.index(seq);
        match &self.slots[i] {
            Some((s, _)) if *s == seq => {}
            _ => return None,
        }
        self.slots[i].take().map(|(_, v)| v)
    }

    /// Entries held, counted over the whole table (for memory tests, not
    /// hot paths).
    pub fn count_entries(&self) -> usize {
        self.slots.iter().flatten().count()
    }

    /// Takes every entry, in `seq` order.
    pub fn take_sorted(&mut self) -> Vec<(u64, V)> {
        let mut all: Vec<(u64, V)> = std::mem::take(&mut self.slots).into_iter().flatten().collect();
        all.sort_by_key(|(s, _)| *s);
        all
    }
}

#[expect(clippy::panic, reason = "unreachable: the slot was filled on the line before")]
fn unreachable_slot() -> ! {
    panic!("SeqMap slot emptied between insertion and lookup")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    proptest! {
        #[test]
        fn behaves_like_a_btree_map(ops in proptest::collection::vec((0u8..6, 0u64..5000), 0..2000)) {
            let mut m: SeqMap<u64> = SeqMap::default();
            let mut model: BTreeMap<u64, u64> = BTreeMap::new();
            for (op, seq) in ops {
                match op {
                    0 => { *m.entry_or_default(seq) = seq * 2; model.insert(seq, seq * 2); }
                    1 => prop_assert_eq!(m.remove(seq), model.remove(&seq)),
                    4 => { m.insert(seq, seq + 7); model.insert(seq, seq + 7); }
                    2 => { *m.entry_or_default(seq) += 1; *model.entry(seq).or_default() += 1; }
                    3 => prop_assert_eq!(m.get_mut(seq).map(|v| { *v += 3; *v }), model.get_mut(&seq).map(|v| { *v += 3; *v })),
                    _ => prop_assert_eq!(m.get(seq), model.get(&seq)),
                }
            }
            prop_assert_eq!(m.count_entries(), model.len());
            prop_assert_eq!(m.take_sorted(), model.into_iter().collect::<Vec<_>>());
        }
    }
}
