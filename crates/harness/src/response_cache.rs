//! The gateway's exact-match response cache (`[cache]`): a request whose
//! prompt was answered within `ttl` is served from the cache, never reaching
//! the policy or an endpoint. The simulator keys it by the trace's
//! `prompt_hash` and keeps which endpoint answered; the proxy keys it by the
//! request body and keeps the answer itself.
//!
//! It owns the entries (which prompt was answered, with what, when) and
//! their eviction: an entry older than `ttl` is gone, and beyond
//! `max_entries` the least recently used one goes first. It must not touch
//! the executor or the event log; the replay loop and the proxy's driver
//! decide what a hit means.
//!
//! Memory: one entry per distinct `prompt_hash` answered, at most
//! `max_entries` of them (about 100 bytes each with the recency index), so a
//! long trace does not grow it past that bound. Entries stored with a size
//! (the proxy's answer bodies) also count against `max_bytes`.
//!
//! What it does not model: an answer is stored when it completes, so a
//! second request for the same prompt arriving while the first is still in
//! flight misses (no request coalescing), as with most gateway caches.

use std::collections::BTreeMap;
use windtunnel_config::CacheSpec;
use windtunnel_core::EndpointIdx;

/// One answered prompt.
#[derive(Clone, Copy, Debug)]
struct Entry<V> {
    /// When the answer was stored.
    stored_at: u64,
    /// What answered it (the simulator: the endpoint).
    answer: V,
    /// Its position in the recency order.
    stamp: u64,
    /// Its size against `max_bytes` (0 for the simulator's).
    bytes: u64,
}

/// The cache's entries and their recency; `V` is what a hit gives back.
#[derive(Debug)]
pub struct ResponseCache<V = EndpointIdx> {
    spec: CacheSpec,
    entries: BTreeMap<u64, Entry<V>>,
    /// Last use → prompt hash: the first is the least recently used.
    recency: BTreeMap<u64, u64>,
    next_stamp: u64,
    /// The entries' sizes, summed.
    bytes: u64,
}

impl<V: Clone> ResponseCache<V> {
    /// An empty cache.
    pub fn new(spec: CacheSpec) -> ResponseCache<V> {
        ResponseCache { spec, entries: BTreeMap::new(), recency: BTreeMap::new(), next_stamp: 0, bytes: 0 }
    }

    /// How long a hit takes.
    pub fn latency_ms(&self) -> u64 {
        self.spec.latency_ms
    }

    /// Entries held now.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The sizes of the entries held now, summed (see
    /// [`ResponseCache::store_sized`]).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The answer to `hash` that can be served at `now`, if any; a hit
    /// becomes the most recently used entry, an expired entry is dropped.
    pub fn lookup(&mut self, hash: u64, now: u64) -> Option<V> {
        let e = self.entries.get(&hash)?;
        let (stored_at, stamp) = (e.stored_at, e.stamp);
        if now.saturating_sub(stored_at) >= self.spec.ttl_ms {
            self.remove(hash);
            return None;
        }
        self.recency.remove(&stamp);
        let stamp = self.stamp();
        self.recency.insert(stamp, hash);
        let entry = self.entries.get_mut(&hash)?;
        entry.stamp = stamp;
        Some(entry.answer.clone())
    }

    /// Stores `answer` to `hash` at `now` (replacing an older one), evicting
    /// the least recently used entries beyond `max_entries`.
    pub fn store(&mut self, hash: u64, answer: V, now: u64) {
        self.store_sized(hash, answer, now, 0);
    }

    /// [`ResponseCache::store`] of an answer of `bytes`, which also count
    /// against `max_bytes`: the least recently used entries go until both
    /// bounds hold. An answer larger than `max_bytes` is not kept.
    pub fn store_sized(&mut self, hash: u64, answer: V, now: u64, bytes: u64) {
        if bytes > self.spec.max_bytes {
            return;
        }
        self.remove(hash);
        let stamp = self.stamp();
        self.entries.insert(hash, Entry { stored_at: now, answer, stamp, bytes });
        self.recency.insert(stamp, hash);
        self.bytes += bytes;
        while self.entries.len() as u64 > self.spec.max_entries || self.bytes > self.spec.max_bytes {
            let Some(&oldest) = self.recency.values().next() else { break };
            self.remove(oldest);
        }
    }

    /// Drops the entry of `hash`, if any.
    fn remove(&mut self, hash: u64) {
        if let Some(e) = self.entries.remove(&hash) {
            self.recency.remove(&e.stamp);
            self.bytes -= e.bytes;
        }
    }

    fn stamp(&mut self) -> u64 {
        self.next_stamp += 1;
        self.next_stamp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cache(ttl_ms: u64, max_entries: u64) -> ResponseCache {
        ResponseCache::new(CacheSpec { ttl_ms, max_entries, ..CacheSpec::default() })
    }

    #[test]
    fn an_answer_is_served_until_its_ttl_and_not_after() {
        let mut c = cache(1_000, 10);
        assert_eq!(c.lookup(7, 0), None);
        c.store(7, EndpointIdx(2), 100);
        assert_eq!(c.lookup(7, 100), Some(EndpointIdx(2)));
        assert_eq!(c.lookup(7, 1_099), Some(EndpointIdx(2)));
        // A hit does not extend the TTL: it counts from the answer.
        assert_eq!(c.lookup(7, 1_100), None);
        assert_eq!(c.len(), 0);
        assert_eq!(c.lookup(8, 100), None);
    }

    #[test]
    fn beyond_max_entries_the_least_recently_used_goes() {
        let mut c = cache(u64::MAX, 2);
        c.store(1, EndpointIdx(0), 0);
        c.store(2, EndpointIdx(0), 1);
        // 1 is used, so 2 is now the least recently used.
        assert!(c.lookup(1, 2).is_some());
        c.store(3, EndpointIdx(0), 3);
        assert_eq!(c.len(), 2);
        assert!(c.lookup(2, 4).is_none());
        assert!(c.lookup(1, 4).is_some() && c.lookup(3, 4).is_some());
        // Storing a prompt again replaces it, never duplicates it.
        c.store(3, EndpointIdx(1), 5);
        assert_eq!((c.len(), c.lookup(3, 6)), (2, Some(EndpointIdx(1))));
    }

    #[test]
    fn sized_answers_are_held_within_max_bytes() {
        let mut c = ResponseCache::new(CacheSpec { max_bytes: 100, ..CacheSpec::default() });
        c.store_sized(1, EndpointIdx(0), 0, 60);
        c.store_sized(2, EndpointIdx(0), 1, 30);
        assert!(c.lookup(1, 2).is_some());
        // 60 + 30 + 10 = 100: all fit.
        c.store_sized(3, EndpointIdx(0), 3, 10);
        assert_eq!((c.len(), c.bytes), (3, 100));
        c.store_sized(4, EndpointIdx(0), 4, 40);
        assert!(c.lookup(2, 5).is_none(), "least recently used");
        assert!(c.lookup(1, 5).is_none(), "next least recently used");
        assert_eq!((c.len(), c.bytes), (2, 50));
        // Replacing an answer counts its new size only.
        c.store_sized(4, EndpointIdx(1), 6, 20);
        assert_eq!((c.len(), c.bytes), (2, 30));
        // An answer larger than the budget is not kept, and evicts nothing.
        c.store_sized(5, EndpointIdx(0), 7, 101);
        assert!(c.lookup(5, 8).is_none());
        assert_eq!((c.len(), c.bytes), (2, 30));
        // Expiry gives its bytes back.
        let mut c = ResponseCache::new(CacheSpec { ttl_ms: 10, max_bytes: 100, ..CacheSpec::default() });
        c.store_sized(1, EndpointIdx(0), 0, 70);
        assert!(c.lookup(1, 10).is_none());
        assert_eq!(c.bytes, 0);
    }

    proptest! {
        /// Whatever the sequence, the cache never holds more than
        /// `max_entries` nor `max_bytes`, its recency index and byte count
        /// match its entries, and a hit is always an answer stored within
        /// the TTL.
        #[test]
        fn bounded_consistent_and_fresh(ops in prop::collection::vec((any::<bool>(), 0u64..20, 0u64..50), 1..300)) {
            let mut c = ResponseCache::new(CacheSpec { ttl_ms: 100, max_entries: 5, max_bytes: 60, ..CacheSpec::default() });
            let mut now = 0;
            let mut stored: BTreeMap<u64, u64> = BTreeMap::new();
            for (store, hash, dt) in ops {
                now += dt;
                if store {
                    // Sizes from the draws: some over the budget, never kept.
                    let bytes = (hash * 7 + dt) % 70;
                    c.store_sized(hash, EndpointIdx(0), now, bytes);
                    if bytes <= 60 {
                        stored.insert(hash, now);
                    }
                } else if c.lookup(hash, now).is_some() {
                    let at = stored[&hash];
                    prop_assert!(now - at < 100, "hit on an answer stored at {at}, now {now}");
                }
                prop_assert!(c.entries.len() <= 5);
                prop_assert_eq!(c.entries.len(), c.recency.len());
                prop_assert!(c.bytes <= 60);
                prop_assert_eq!(c.bytes, c.entries.values().map(|e| e.bytes).sum::<u64>());
            }
        }
    }
}
