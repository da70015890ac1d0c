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
//! Memory: one entry (80 bytes) per run of 16 consecutive block ids any of
//! which was sent to this endpoint within the last two TTLs; older runs are
//! swept out once a TTL, so a long trace holds only its last two TTLs of
//! blocks. Traces number blocks densely (a few bytes a block); ids
//! scattered at random cost a whole entry each.

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

impl PromptCacheSpec {
    /// The longest `ttl`: 7 days (providers keep prompts minutes to a day).
    pub const MAX_TTL_MS: u64 = 7 * 24 * 3_600_000;
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

/// Block ids a [`Run`] covers: ids `k * RUN .. (k + 1) * RUN`.
const RUN: u64 = 16;

/// Until when each block of a run of [`RUN`] consecutive ids stays cached,
/// in milliseconds after the cache's `base` (0: never sent). Traces number
/// a prompt's new blocks consecutively (Mooncake, the synthetic
/// conversations), so a prompt's blocks fall in few runs: one hash lookup a
/// run, not one a block, and 32-bit times keep a run within about a cache
/// line. The figures behind the layout are in
/// `crates/harness/benches/README.md`.
#[derive(Clone, Copy, Debug)]
struct Run {
    /// Block `id % RUN` is held while `now - base < expiry[id % RUN]`.
    expiry: [u32; RUN as usize],
}

impl Run {
    const EMPTY: Run = Run { expiry: [0; RUN as usize] };

    /// When the run's last held block expires: the run can go once it passed.
    fn last_expiry(&self) -> u32 {
        self.expiry.iter().copied().max().unwrap_or(0)
    }
}

/// A map from `id / RUN` to its run: std's hash map with a fixed-key
/// hasher, so the same run behaves the same on every machine. It is never
/// iterated in an order that matters (only `retain`, for expiry).
#[expect(clippy::disallowed_types, reason = "lookups and retain only; a B-tree made caching 9x slower")]
type Runs = std::collections::HashMap<u64, Run, std::hash::BuildHasherDefault<BlockHasher>>;

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

/// What an endpoint's prompt cache does with one prompt, in input tokens as
/// the endpoint counts them: `read` from the cache (its leading blocks the
/// cache held, billed at the cached-input price) and `written` to it (the
/// rest of its blocks, billed at the cache-write price). Both 0 for a
/// prompt under `min_tokens` or without blocks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheUse {
    /// Tokens served from the cache.
    pub read: u32,
    /// Tokens written to the cache.
    pub written: u32,
}

/// The blocks an endpoint holds.
#[derive(Clone, Debug)]
pub struct PromptCache {
    spec: PromptCacheSpec,
    /// Runs of block ids with when each block expires; runs whose blocks
    /// all expired are swept out as time passes.
    runs: Runs,
    /// What the runs' times count from; moved on before they could overflow.
    base: u64,
    /// When the last sweep ran.
    swept_at: u64,
}

impl PromptCache {
    /// An empty cache. A `ttl_ms` over [`PromptCacheSpec::MAX_TTL_MS`] is
    /// taken as that.
    pub fn new(mut spec: PromptCacheSpec) -> PromptCache {
        spec.ttl_ms = spec.ttl_ms.min(PromptCacheSpec::MAX_TTL_MS);
        PromptCache { spec, runs: Runs::default(), base: 0, swept_at: 0 }
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
        if now.saturating_sub(self.base) + self.spec.ttl_ms > u64::from(u32::MAX) {
            self.rebase(now);
        }
        let since_base = now.saturating_sub(self.base);
        // Sweep once a TTL: memory holds at most two TTLs of blocks.
        if now.saturating_sub(self.swept_at) >= self.spec.ttl_ms {
            self.runs.retain(|_, run| since_base < u64::from(run.last_expiry()));
            self.swept_at = now;
        }
        // Fits: `rebase` keeps `since_base + ttl` within 32 bits.
        let expiry = (since_base + self.spec.ttl_ms) as u32;
        // One pass, a lookup per run of consecutive ids: count the leading
        // blocks still held while marking every block sent now (a block
        // after the first one not held no longer counts, whatever it held).
        let mut held = 0;
        let mut leading = true;
        let mut rest = blocks;
        while let Some(&first) = rest.first() {
            let key = first / RUN;
            let in_run = rest.iter().take_while(|&&b| b / RUN == key).count();
            let run = self.runs.entry(key).or_insert(Run::EMPTY);
            for &b in &rest[..in_run] {
                let until = &mut run.expiry[(b % RUN) as usize];
                leading &= since_base < u64::from(*until);
                held += u32::from(leading);
                *until = expiry;
            }
            rest = &rest[in_run..];
        }
        held
    }

    /// Counts the runs' times from `now` instead of `base`: blocks expired
    /// by `now` become unsent, runs without a held block go.
    fn rebase(&mut self, now: u64) {
        let shift = now.saturating_sub(self.base);
        let moved = |until: &mut u32| *until = u64::from(*until).saturating_sub(shift) as u32;
        self.runs.retain(|_, run| {
            run.expiry.iter_mut().for_each(moved);
            run.last_expiry() > 0
        });
        self.base = now;
    }

    /// `req`'s prompt, of `input` tokens as this endpoint counts them
    /// (`ratio` per reference token), reaches it at `now`: the input tokens
    /// of its leading blocks the cache held (at most `input`) are read, the
    /// rest of its blocks written, after which all its blocks are held anew.
    pub fn send(&mut self, now: u64, req: &Request, input: u32, ratio: f64) -> CacheUse {
        let Some(blocks) = prompt_blocks(req) else { return CacheUse::default() };
        if input < self.spec.min_tokens {
            return CacheUse::default();
        }
        let held = self.send_blocks(now, input, &blocks);
        self.used(held, blocks.len(), ratio, input)
    }

    /// What [`PromptCache::send`] would answer at `now`, without sending.
    pub fn peek(&self, now: u64, req: &Request, input: u32, ratio: f64) -> CacheUse {
        let Some(blocks) = prompt_blocks(req) else { return CacheUse::default() };
        if input < self.spec.min_tokens {
            return CacheUse::default();
        }
        self.used(self.held_unchecked(now, &blocks), blocks.len(), ratio, input)
    }

    /// `held` of a prompt's `blocks` blocks as read and written tokens.
    fn used(&self, held: u32, blocks: usize, ratio: f64, input: u32) -> CacheUse {
        let read = self.tokens(held, ratio, input);
        let all = self.tokens(u32::try_from(blocks).unwrap_or(u32::MAX), ratio, input);
        CacheUse { read, written: all.saturating_sub(read) }
    }

    fn held_unchecked(&self, now: u64, blocks: &[u64]) -> u32 {
        let since_base = now.saturating_sub(self.base);
        let live = |b: &u64| {
            self.runs.get(&(b / RUN)).is_some_and(|run| since_base < u64::from(run.expiry[(b % RUN) as usize]))
        };
        blocks.iter().take_while(|b| live(b)).count() as u32
    }

    /// `blocks` blocks as input tokens counted with `ratio`, at most `input`.
    fn tokens(&self, blocks: u32, ratio: f64, input: u32) -> u32 {
        let reference = u64::from(blocks) * u64::from(self.spec.block_tokens);
        TokenRatio::count(ratio, u32::try_from(reference).unwrap_or(u32::MAX)).min(input)
    }

    /// Blocks held now (counting any not yet swept).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.runs.values().map(|r| r.expiry.iter().filter(|&&until| until > 0).count()).sum()
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
    fn a_send_reads_the_held_blocks_and_writes_the_rest() {
        let mut c = cache();
        let req = |ids: &[u64]| {
            let mut r = Request::new(0, 0, 500, 1);
            r.hash_ids = Some(ids.into());
            r
        };
        // Nothing held: the whole prompt's blocks are written (3 × 10 tokens).
        assert_eq!(c.send(0, &req(&[1, 2, 3]), 500, 1.0), CacheUse { read: 0, written: 30 });
        // Two blocks held, two new ones written; counted at the ratio.
        assert_eq!(c.peek(5, &req(&[1, 2, 8, 9]), 500, 1.5), CacheUse { read: 30, written: 30 });
        assert_eq!(c.send(5, &req(&[1, 2, 8, 9]), 500, 1.0), CacheUse { read: 20, written: 20 });
        // Never more than the input: 3 blocks of 10 for a 25-token prompt
        // (over `min_tokens` only with a 0 minimum).
        let mut c = PromptCache::new(PromptCacheSpec { ttl_ms: 1_000, min_tokens: 0, block_tokens: 10 });
        assert_eq!(c.send(0, &req(&[4, 5, 6]), 25, 1.0), CacheUse { read: 0, written: 25 });
        assert_eq!(c.send(1, &req(&[4, 5, 6]), 25, 1.0), CacheUse { read: 25, written: 0 });
        // Under `min_tokens`: neither.
        assert_eq!(cache().send(0, &req(&[1]), 99, 1.0), CacheUse::default());
    }

    #[test]
    fn short_prompts_are_never_cached() {
        let mut c = cache();
        assert_eq!(c.send_blocks(0, 99, &[1]), 0);
        assert_eq!(c.send_blocks(1, 100, &[1]), 0);
        assert_eq!(c.send_blocks(2, 99, &[1]), 0);
        assert_eq!(c.send_blocks(3, 100, &[1]), 1);
    }

    /// Blocks far apart (`u64` hashes) and dense ids, ids repeated within a
    /// prompt, runs split across [`RUN`] boundaries.
    fn prompt() -> impl proptest::strategy::Strategy<Value = Vec<u64>> {
        use proptest::prelude::*;
        prop_oneof![
            proptest::collection::vec(0u64..40, 0..12),
            proptest::collection::vec(any::<u64>().prop_map(|x| x % 5 * (u64::MAX / 5)), 0..6),
            (0u64..100, 1usize..40).prop_map(|(start, len)| (start..start + len as u64).collect()),
        ]
    }

    fn gap() -> impl proptest::strategy::Strategy<Value = u64> {
        use proptest::prelude::*;
        prop_oneof![0u64..700, Just(999u64), Just(1_000), Just(1_001)]
    }

    proptest::proptest! {
        /// The cache answers as a plain map from block to when it was last
        /// sent would, whatever the ids, the spacing of sends and the sweeps.
        #[test]
        fn answers_as_a_map_of_last_sends(
            // Gaps at the TTL's edge too: held at 999 ms, gone at 1,000.
            sends in proptest::collection::vec((gap(), 50u32..300, prompt()), 1..60),
            // From the start, or where the runs' 32-bit times must move on.
            start in proptest::prop_oneof![proptest::strategy::Just(0), proptest::strategy::Just(u64::from(u32::MAX) - 9_000)],
        ) {
            let mut c = cache();
            let mut model: std::collections::BTreeMap<u64, u64> = Default::default();
            let mut now = start;
            for (gap, input, blocks) in sends {
                now += gap;
                let model_held =
                    blocks.iter().take_while(|b| model.get(b).is_some_and(|&at| now - at < 1_000)).count() as u32;
                proptest::prop_assert_eq!(c.held_unchecked(now, &blocks), model_held);
                let expected = if input < 100 { 0 } else { model_held };
                if input >= 100 {
                    for &b in &blocks {
                        model.insert(b, now);
                    }
                }
                proptest::prop_assert_eq!(c.send_blocks(now, input, &blocks), expected);
            }
        }
    }
}
