//! Seeded, named random streams on a portable generator.
//!
//! Every draw in a run comes from `ChaCha8Rng` (rand_chacha), whose output is
//! specified and identical on every platform and rand version, unlike
//! `SmallRng`. A stream is named by a stable string (`"arrivals"`,
//! `"endpoint:openai/gpt-4o:attempt"`) and keyed by integers (request seq,
//! attempt on that endpoint). Re-keying a [`KeyedStream`] only moves
//! ChaCha's stream id and counter, so a fresh, independent sequence per
//! request costs no key setup.
//!
//! Because the keys are the request's position in the trace and the number of
//! the attempt *on that endpoint*, two policies run with one seed meet the same
//! world: common random numbers.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub use rand::Rng;

/// The root of all randomness of one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Streams {
    seed: u64,
}

impl Streams {
    /// Streams of the scenario seed.
    pub fn from_seed(seed: u64) -> Streams {
        Streams { seed }
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// A sequential generator for one named purpose.
    pub fn stream(&self, name: &str) -> ChaCha8Rng {
        ChaCha8Rng::from_seed(self.key(name))
    }

    /// A generator for one named purpose that is re-positioned per key.
    pub fn keyed(&self, name: &str) -> KeyedStream {
        KeyedStream { rng: self.stream(name) }
    }

    fn key(&self, name: &str) -> [u8; 32] {
        // FNV-1a over the name, then SplitMix64 to spread seed and name over
        // 256 bits. Both are fixed algorithms: the key never changes with a
        // compiler or platform.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in name.as_bytes() {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        let mut state = self.seed ^ h.rotate_left(29);
        let mut key = [0u8; 32];
        for chunk in key.chunks_exact_mut(8) {
            chunk.copy_from_slice(&splitmix64(&mut state).to_le_bytes());
        }
        key
    }
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One named generator, positioned by `(key, sub)` before each use.
#[derive(Clone, Debug)]
pub struct KeyedStream {
    rng: ChaCha8Rng,
}

/// Words of ChaCha output reserved for one `(key, sub)` position. A position
/// that needs more simply runs into the next sub-key's words, which only ever
/// happens for the same key, so independence across keys holds.
const WORDS_PER_SUB: u128 = 1 << 20;

impl KeyedStream {
    /// The generator for `key` (usually a request seq) and `sub` (usually the
    /// attempt number on one endpoint), from its first word.
    pub fn at(&mut self, key: u64, sub: u64) -> &mut ChaCha8Rng {
        self.rng.set_stream(key);
        self.rng.set_word_pos(u128::from(sub) * WORDS_PER_SUB);
        &mut self.rng
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_name_same_draws_other_name_other_draws() {
        let s = Streams::from_seed(42);
        let a: Vec<u64> = (0..4).map(|_| 0).scan(s.stream("x"), |r, _| Some(r.random::<u64>())).collect();
        let b: Vec<u64> = (0..4).map(|_| 0).scan(s.stream("x"), |r, _| Some(r.random::<u64>())).collect();
        let c: Vec<u64> = (0..4).map(|_| 0).scan(s.stream("y"), |r, _| Some(r.random::<u64>())).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let d: u64 = Streams::from_seed(43).stream("x").random();
        assert_ne!(a[0], d);
    }

    #[test]
    fn keyed_positions_are_repeatable_in_any_order() {
        let s = Streams::from_seed(7);
        let mut k = s.keyed("endpoint:a");
        let first: u64 = k.at(5, 1).random();
        let other: u64 = k.at(6, 1).random();
        let again: u64 = k.at(5, 1).random();
        let sub2: u64 = k.at(5, 2).random();
        assert_eq!(first, again);
        assert_ne!(first, other);
        assert_ne!(first, sub2);
    }

    /// Recorded once; a change means reports of old seeds no longer reproduce.
    const PINNED: u64 = 9_969_780_163_004_443_276;

    #[test]
    fn output_is_pinned() {
        // ChaCha8 is specified: this value must never change across builds.
        let v: u64 = Streams::from_seed(1).stream("pin").random();
        assert_eq!(v, PINNED);
    }
}
