//! An endpoint's prompt cache (`prompt_cache`): which prompt blocks
//! (`hash_ids`) it has been sent recently, so that a prompt whose leading
//! blocks it holds is billed, for those tokens, at the cached-input price, as
//! providers bill prefix caching.
//!
//! Two users, one bookkeeping: the simulated endpoint (the provider's cache,
//! written when an attempt reaches the model, and billed) and the executor
//! (the gateway's estimate of it, written when it sends an attempt, which
//! `cached_tokens(req)` and `est_cost` show policies). It owns the blocks
//! and their expiry, never the billing.
//!
//! Memory: one entry per distinct block sent to this endpoint within the
//! last two TTLs (a hash-map slot, about 24 bytes); older blocks are swept
//! out once a TTL, so a long trace holds only its last two TTLs of blocks.

use crate::{Request, TokenRatio};

/// `prompt_cache = { ttl, min_tokens, block_tokens }`: an endpoint keeps the
/// prompt blocks (`hash_ids`) it was sent for `ttl_ms`; a prompt's leading
/// blocks seen within that time are cached input, billed at
/// `cached_input_per_mtok`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PromptCacheSpec {
    /// `ttl` (default 5 min): how long a block stays cached after it was last sent.
    pub ttl_ms: u64,
    /// `min_tokens` (default 1,024): shorter prompts (as counted here) are never cached.
    pub min_tokens: u32,
    /// `block_tokens` (default 512): reference tokens per `hash_ids` block.
    pub block_tokens: u32,
}

impl Default for PromptCacheSpec {
    fn default() -> PromptCacheSpec {
        PromptCacheSpec { ttl_ms: 300_000, min_tokens: 1024, block_tokens: 512 }
    }
}

/// The blocks of `req`'s prompt: its `hash_ids`, or a one-block prompt of
/// the older `prefix_hash`; `None` without either.
fn prompt_blocks(req: &Request) -> Option<std::borrow::Cow<'_, [u64]>> {
    match (&req.hash_ids, req.prefix_hash) {
        (Some(ids), _) => Some(std::borrow::Cow::Borrowed(ids)),
        (None, Some(p)) => Some(std::borrow::Cow::Owned(vec![p])),
        (None, None) => None,
    }
}

/// A map from block hash to when it was last sent: std's hash map with a
/// fixed-key hasher, so the same run behaves the same on every machine. It
/// is never iterated in an order that matters (only `retain`, for expiry).
#[expect(clippy::disallowed_types, reason = "lookups and retain only; a B-tree made caching 9x slower")]
type LastSent = std::collections::HashMap<u64, u64, std::hash::BuildHasherDefault<BlockHasher>>;

/// Hashes a block id (already a hash) by mixing it once: cheap and
/// deterministic.
#[derive(Default)]
pub(crate) struct BlockHasher(u64);

impl std::hash::Hasher for BlockHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_u64(&mut self, x: u64) {
        // splitmix64's finaliser: ids of a trace are often small and dense.
        let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        self.0 = z ^ (z >> 31);
    }
}

/// The blocks an endpoint holds.
#[derive(Clone, Debug)]
pub struct PromptCache {
    spec: PromptCacheSpec,
    /// Block hash → when it was last sent; entries older than the TTL count
    /// as gone and are swept out as time passes.
    last_sent: LastSent,
    /// When the last sweep ran.
    swept_at: u64,
}

impl PromptCache {
    /// An empty cache.
    pub fn new(spec: PromptCacheSpec) -> PromptCache {
        PromptCache { spec, last_sent: LastSent::default(), swept_at: 0 }
    }

    /// A prompt of `input` tokens (as counted here) with these `blocks`
    /// reaches the model at `now`: the number of its leading blocks this
    /// endpoint still held, after which all its blocks are held anew. A
    /// prompt under `min_tokens` is neither served from nor written to the
    /// cache.
    fn send_blocks(&mut self, now: u64, input: u32, blocks: &[u64]) -> u32 {
        if input < self.spec.min_tokens || blocks.is_empty() {
            return 0;
        }
        // Sweep once a TTL: memory holds at most two TTLs of blocks.
        if now.saturating_sub(self.swept_at) >= self.spec.ttl_ms {
            let ttl = self.spec.ttl_ms;
            self.last_sent.retain(|_, at| now.saturating_sub(*at) < ttl);
            self.swept_at = now;
        }
        let held = self.held_unchecked(now, blocks);
        for &b in blocks {
            self.last_sent.insert(b, now);
        }
        held
    }

    /// `req`'s prompt, of `input` tokens as this endpoint counts them
    /// (`ratio` per reference token), reaches it at `now`: the input tokens
    /// of its leading blocks the cache held (at most `input`), after which
    /// all its blocks are held anew.
    pub fn send(&mut self, now: u64, req: &Request, input: u32, ratio: f64) -> u32 {
        let Some(blocks) = prompt_blocks(req) else { return 0 };
        let held = self.send_blocks(now, input, &blocks);
        self.tokens(held, ratio, input)
    }

    /// What [`PromptCache::send`] would answer at `now`, without sending.
    pub fn held_tokens(&self, now: u64, req: &Request, input: u32, ratio: f64) -> u32 {
        let Some(blocks) = prompt_blocks(req) else { return 0 };
        if input < self.spec.min_tokens {
            return 0;
        }
        self.tokens(self.held_unchecked(now, &blocks), ratio, input)
    }

    fn held_unchecked(&self, now: u64, blocks: &[u64]) -> u32 {
        let live = |b: &u64| self.last_sent.get(b).is_some_and(|&at| now.saturating_sub(at) < self.spec.ttl_ms);
        blocks.iter().take_while(|b| live(b)).count() as u32
    }

    /// `held` blocks as input tokens counted with `ratio`, at most `input`.
    fn tokens(&self, held: u32, ratio: f64, input: u32) -> u32 {
        let reference = u64::from(held) * u64::from(self.spec.block_tokens);
        TokenRatio::count(ratio, u32::try_from(reference).unwrap_or(u32::MAX)).min(input)
    }

    /// Blocks held now (counting any not yet swept).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.last_sent.len()
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
        assert_eq!(c.send_blocks(0, 500, &[1, 2, 3]), 0);
        // Shares the first two blocks, then differs.
        assert_eq!(c.send_blocks(10, 500, &[1, 2, 9, 3]), 2);
        // A shared block after a differing one is not a prefix.
        assert_eq!(c.send_blocks(20, 500, &[7, 2, 3]), 0);
        // Sending refreshes: block 1 was last sent at 10, so at 1,009 it is held.
        assert_eq!(c.send_blocks(1_009, 500, &[1]), 1);
        // Blocks 7 (sent at 20) are gone at 1,020; 1 was refreshed at 1,009.
        assert_eq!(c.send_blocks(1_020, 500, &[1, 7]), 1);
        assert_eq!(c.send_blocks(5_000, 500, &[1]), 0);
        assert_eq!(c.len(), 1, "expired blocks are dropped");
    }

    #[test]
    fn short_prompts_are_never_cached() {
        let mut c = cache();
        assert_eq!(c.send_blocks(0, 99, &[1]), 0);
        assert_eq!(c.send_blocks(1, 100, &[1]), 0);
        assert_eq!(c.send_blocks(2, 99, &[1]), 0);
        assert_eq!(c.send_blocks(3, 100, &[1]), 1);
    }
}
