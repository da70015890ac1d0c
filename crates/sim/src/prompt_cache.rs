//! A simulated endpoint's prompt cache (`prompt_cache`): which prompt blocks
//! (`hash_ids`) the provider has seen recently, so that a prompt whose
//! leading blocks it holds is billed, for those tokens, at the cached-input
//! price, as providers bill prefix caching.
//!
//! It owns the blocks and their expiry; the endpoint decides when an attempt
//! reaches the model (after refusals, faults and rate limits) and bills.
//!
//! Memory: one entry per distinct block sent to this endpoint within `ttl`
//! (two tree nodes, about 80 bytes); blocks older than that are dropped as
//! time passes, so a long trace holds only its last `ttl` of blocks.

use std::collections::{BTreeMap, BTreeSet};
use windtunnel_config::PromptCacheSpec;

/// The blocks an endpoint holds.
#[derive(Clone, Debug)]
pub(crate) struct PromptCache {
    spec: PromptCacheSpec,
    /// Block hash → when it was last sent.
    last_sent: BTreeMap<u64, u64>,
    /// (last sent, block hash), oldest first, for expiry.
    by_time: BTreeSet<(u64, u64)>,
}

impl PromptCache {
    pub(crate) fn new(spec: PromptCacheSpec) -> PromptCache {
        PromptCache { spec, last_sent: BTreeMap::new(), by_time: BTreeSet::new() }
    }

    /// A prompt of `input` tokens (as counted here) with these `blocks`
    /// reaches the model at `now`: the number of its leading blocks this
    /// endpoint still held, after which all its blocks are held anew. A
    /// prompt under `min_tokens` is neither served from nor written to the
    /// cache.
    pub(crate) fn send(&mut self, now: u64, input: u32, blocks: &[u64]) -> u32 {
        if input < self.spec.min_tokens || blocks.is_empty() {
            return 0;
        }
        self.expire(now);
        let held = blocks.iter().take_while(|b| self.last_sent.contains_key(b)).count() as u32;
        for &b in blocks {
            if let Some(old) = self.last_sent.insert(b, now) {
                self.by_time.remove(&(old, b));
            }
            self.by_time.insert((now, b));
        }
        held
    }

    /// Reference tokens per block.
    pub(crate) fn block_tokens(&self) -> u32 {
        self.spec.block_tokens
    }

    /// Blocks held now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.last_sent.len()
    }

    /// Drops the blocks last sent `ttl` or more ago.
    fn expire(&mut self, now: u64) {
        while let Some(&(at, b)) = self.by_time.first() {
            if now.saturating_sub(at) < self.spec.ttl_ms {
                break;
            }
            self.by_time.pop_first();
            self.last_sent.remove(&b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> PromptCache {
        PromptCache::new(PromptCacheSpec { ttl_ms: 1_000, min_tokens: 100, block_tokens: 10 })
    }

    #[test]
    fn leading_blocks_seen_within_the_ttl_are_held() {
        let mut c = cache();
        assert_eq!(c.send(0, 500, &[1, 2, 3]), 0);
        // Shares the first two blocks, then differs.
        assert_eq!(c.send(10, 500, &[1, 2, 9, 3]), 2);
        // A shared block after a differing one is not a prefix.
        assert_eq!(c.send(20, 500, &[7, 2, 3]), 0);
        // Sending refreshes: block 1 was last sent at 10, so at 1,009 it is held.
        assert_eq!(c.send(1_009, 500, &[1]), 1);
        // Blocks 7 (sent at 20) are gone at 1,020; 1 was refreshed at 1,009.
        assert_eq!(c.send(1_020, 500, &[1, 7]), 1);
        assert_eq!(c.send(5_000, 500, &[1]), 0);
        assert_eq!(c.len(), 1, "expired blocks are dropped");
    }

    #[test]
    fn short_prompts_are_never_cached() {
        let mut c = cache();
        assert_eq!(c.send(0, 99, &[1]), 0);
        assert_eq!(c.send(1, 100, &[1]), 0);
        assert_eq!(c.send(2, 99, &[1]), 0);
        assert_eq!(c.send(3, 100, &[1]), 1);
    }
}
