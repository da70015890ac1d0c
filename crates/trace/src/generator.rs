//! [`Generator`]: a synthetic trace from a [`SyntheticSpec`], deterministic
//! by seed.
//!
//! # Randomness
//! Every draw comes from a stream of the scenario's [`Streams`], one stream
//! per purpose:
//!
//! | stream | draws |
//! |---|---|
//! | `trace:arrivals` | gaps (and diurnal thinning, burst states) |
//! | `trace:input_tokens`, `trace:output_tokens` | token counts |
//! | `trace:class`, `trace:tenant`, `trace:lang` | mix picks |
//! | `trace:stream` | the stream flag |
//! | `trace:conversation` | new conversation or which one goes on (with `conversations`) |
//! | `trace:repeats` | repeated or not, and which popular prompt (with `repeats`) |
//!
//! Why so many: request *k* takes the *k*-th draws of each purpose, so
//! changing the class mix, a token distribution or the stream share leaves
//! every arrival time (and every other field) where it was. A what-if on one
//! knob changes only that knob.
//!
//! # Speed
//! The generator feeds simulations of millions of requests, so a request
//! costs its draws and nothing else: names are interned once and cloned as
//! `Arc`s, mixes pick from precomputed cumulative tables, and a mix with a
//! single entry (or none) draws nothing.
//!
//! # Fields
//! Arrivals per [`ArrivalPattern`] (see `arrivals`) in `[0, duration_ms)`;
//! token counts are the distributions' draws rounded, at least 1;
//! `max_tokens` = `output_tokens`; `stream` is true with probability
//! `stream_share`; `id`, `model`, deadline, tags and prefix stay unset.
//!
//! # Conversations
//! With `conversations`, each request is a turn: it goes on one of the
//! active conversations (a geometric number of turns with mean `turns`) or
//! starts one. Its prompt is the system prompt, the conversation so far
//! (earlier prompts and answers) and a new message of the drawn
//! `input_tokens`; `hash_ids` name its full 512-token blocks, so the turns
//! of a conversation share their history's ids and every prompt shares the
//! system prompt's. At most [`MAX_ACTIVE`] conversations are open (a new one
//! then replaces a random one), and one whose prompt would pass
//! [`MAX_CONVERSATION_TOKENS`] ends: memory stays bounded however long the
//! trace.
//!
//! # Repeated prompts
//! With `repeats`, each request draws whether it asks one of the popular
//! prompts again and which (Zipf, exponent 1); a repeated one carries
//! `prompt_hash` (the popular prompt's rank) and the token counts that
//! prompt was first asked with, so a response cache in front of the policy
//! can answer it. The draws are made for every request, repeated or not.
//!
//! [`ArrivalPattern`]: crate::ArrivalPattern

use crate::arrivals::Arrivals;
use crate::mix::Mix;
use crate::synthetic_spec::{ConversationSpec, RepeatSpec, SyntheticSpec};
use windtunnel_core::{ChaCha8Rng, Dist, Request, Rng, Streams, Sym};

/// SPEC's name for an unset tenant or class.
const DEFAULT: &str = "default";

/// An endless-until-`duration_ms` stream of synthetic requests.
#[derive(Clone, Debug)]
pub struct Generator {
    arrivals: Arrivals,
    duration_ms: u64,
    input: Dist,
    output: Dist,
    input_rng: ChaCha8Rng,
    output_rng: ChaCha8Rng,
    classes: Picker,
    tenants: Picker,
    langs: Option<Picker>,
    stream: StreamFlag,
    conversations: Option<Conversations>,
    repeats: Option<Repeats>,
    seq: u64,
    done: bool,
}

/// Tokens per `hash_ids` block, as in the Mooncake traces.
pub const BLOCK_TOKENS: u32 = 512;
/// Conversations open at once, at most.
pub const MAX_ACTIVE: usize = 1024;
/// A conversation whose next prompt would pass this many tokens ends.
pub const MAX_CONVERSATION_TOKENS: u32 = 100_000;

/// The open conversations.
#[derive(Clone, Debug)]
struct Conversations {
    spec: ConversationSpec,
    rng: ChaCha8Rng,
    /// The system prompt's full blocks (ids 0..).
    system: Vec<u64>,
    open: Vec<Conversation>,
    next_id: u64,
}

/// One conversation: its tokens so far and the ids of their full blocks.
#[derive(Clone, Debug)]
struct Conversation {
    tokens: u32,
    blocks: Vec<u64>,
}

impl Conversations {
    fn new(spec: ConversationSpec, rng: ChaCha8Rng) -> Conversations {
        let system: Vec<u64> = (0..u64::from(spec.system_tokens / BLOCK_TOKENS)).collect();
        let next_id = system.len() as u64;
        Conversations { spec, rng, system, open: Vec::new(), next_id }
    }

    /// A turn with a new message of `message` tokens and an answer of
    /// `answer`: its prompt tokens and `hash_ids`.
    fn turn(&mut self, message: u32, answer: u32) -> (u32, Box<[u64]>) {
        // Two draws a turn, whatever happens: goes on? and which.
        let go_on = self.rng.random::<f64>() >= 1.0 / self.spec.turns.max(1.0);
        let pick = self.rng.random::<u64>();
        let idx = if go_on && !self.open.is_empty() {
            let i = (pick % self.open.len() as u64) as usize;
            if self.open[i].tokens.saturating_add(message) > MAX_CONVERSATION_TOKENS {
                self.open[i] = self.fresh();
            }
            i
        } else if self.open.len() < MAX_ACTIVE {
            let c = self.fresh();
            self.open.push(c);
            self.open.len() - 1
        } else {
            let i = (pick % self.open.len() as u64) as usize;
            self.open[i] = self.fresh();
            i
        };
        let mut next_id = self.next_id;
        let c = &mut self.open[idx];
        let prompt = c.tokens.saturating_add(message);
        let mut extend = |blocks: &mut Vec<u64>, tokens: u32| {
            while (blocks.len() as u64) < u64::from(tokens / BLOCK_TOKENS) {
                blocks.push(next_id);
                next_id += 1;
            }
        };
        extend(&mut c.blocks, prompt);
        let ids: Box<[u64]> = c.blocks.clone().into_boxed_slice();
        // The answer joins the history of the next turn.
        c.tokens = prompt.saturating_add(answer);
        extend(&mut c.blocks, c.tokens);
        self.next_id = next_id;
        (prompt, ids)
    }

    fn fresh(&self) -> Conversation {
        Conversation { tokens: self.spec.system_tokens, blocks: self.system.clone() }
    }
}

/// The popular prompts of `repeats`.
#[derive(Clone, Debug)]
struct Repeats {
    share: f64,
    popularity: rand_distr::Zipf<f64>,
    rng: ChaCha8Rng,
    /// Each popular prompt's (input, output) tokens, from its first asking;
    /// (0, 0) until then.
    tokens: Vec<(u32, u32)>,
}

impl Repeats {
    fn new(spec: RepeatSpec, rng: ChaCha8Rng) -> Repeats {
        let prompts = spec.prompts.max(1);
        // `n` ≥ 1 and `s` = 1 are always valid.
        let popularity = rand_distr::Zipf::new(f64::from(prompts), 1.0).unwrap_or_else(|_| unreachable!());
        Repeats { share: spec.share, popularity, rng, tokens: vec![(0, 0); prompts as usize] }
    }

    /// Whether this request repeats a popular prompt, and which: its
    /// `prompt_hash` and token counts (the drawn `input`/`output` when it is
    /// the prompt's first asking).
    fn pick(&mut self, input: u32, output: u32) -> Option<(u64, u32, u32)> {
        use rand_distr::Distribution;
        // Both draws for every request, whatever happens (the stream is this one's alone).
        let repeats = self.rng.random::<f64>() < self.share;
        let rank = self.popularity.sample(&mut self.rng) as u64;
        if !repeats {
            return None;
        }
        let slot = &mut self.tokens[(rank.max(1) - 1) as usize];
        if *slot == (0, 0) {
            *slot = (input, output);
        }
        Some((rank, slot.0, slot.1))
    }
}

/// A mix with its stream, or a fixed name when there is no mix (then the
/// stream is never drawn from).
#[derive(Clone, Debug)]
struct Picker {
    mix: Option<Mix>,
    fixed: Sym,
    rng: ChaCha8Rng,
}

impl Picker {
    fn new(entries: &[(String, f64)], streams: &Streams, stream: &str) -> Picker {
        Picker { mix: Mix::new(entries), fixed: Sym::from(DEFAULT), rng: streams.stream(stream) }
    }

    fn pick(&mut self) -> Sym {
        match &self.mix {
            Some(mix) => mix.pick(&mut self.rng).clone(),
            None => self.fixed.clone(),
        }
    }
}

/// The stream flag: drawn only when the share is strictly between 0 and 1.
#[derive(Clone, Debug)]
struct StreamFlag {
    share: f64,
    rng: ChaCha8Rng,
}

impl StreamFlag {
    fn pick(&mut self) -> bool {
        if self.share >= 1.0 {
            true
        } else if self.share > 0.0 {
            self.rng.random::<f64>() < self.share
        } else {
            false
        }
    }
}

impl Generator {
    /// The generator of `spec`, drawing from `streams`. A spec whose rate is
    /// not a positive number generates nothing (configuration validates it
    /// before this point).
    pub fn new(spec: &SyntheticSpec, streams: &Streams) -> Generator {
        Generator {
            arrivals: Arrivals::new(spec.pattern, spec.rate_per_s, streams.stream("trace:arrivals")),
            duration_ms: spec.duration_ms,
            input: spec.input_tokens,
            output: spec.output_tokens,
            input_rng: streams.stream("trace:input_tokens"),
            output_rng: streams.stream("trace:output_tokens"),
            classes: Picker::new(&spec.classes, streams, "trace:class"),
            tenants: Picker::new(&spec.tenants, streams, "trace:tenant"),
            langs: Mix::new(&spec.langs).is_some().then(|| Picker::new(&spec.langs, streams, "trace:lang")),
            stream: StreamFlag { share: spec.stream_share, rng: streams.stream("trace:stream") },
            conversations: spec.conversations.map(|c| Conversations::new(c, streams.stream("trace:conversation"))),
            repeats: spec.repeats.map(|r| Repeats::new(r, streams.stream("trace:repeats"))),
            seq: 0,
            done: false,
        }
    }
}

impl Iterator for Generator {
    type Item = Request;

    fn next(&mut self) -> Option<Request> {
        if self.done {
            return None;
        }
        let Some(t_ms) = self.arrivals.next(self.duration_ms as f64) else {
            self.done = true;
            return None;
        };
        let at_ms = t_ms as u64;
        if at_ms >= self.duration_ms {
            self.done = true;
            return None;
        }
        let input_tokens = tokens(self.input.sample(&mut self.input_rng));
        let output_tokens = tokens(self.output.sample(&mut self.output_rng));
        let class = self.classes.pick();
        let tenant = self.tenants.pick();
        let lang = self.langs.as_mut().map(Picker::pick);
        let stream = self.stream.pick();
        let (input_tokens, hash_ids) = match self.conversations.as_mut() {
            Some(c) => {
                let (prompt, ids) = c.turn(input_tokens, output_tokens);
                (prompt, Some(ids))
            }
            None => (input_tokens, None),
        };
        // A repeated prompt is the popular one, not this turn's (configuration
        // refuses `repeats` beside `conversations`; the generator stays consistent).
        let (prompt_hash, input_tokens, output_tokens, hash_ids) =
            match self.repeats.as_mut().and_then(|r| r.pick(input_tokens, output_tokens)) {
                Some((hash, input, output)) => (Some(hash), input, output, None),
                None => (None, input_tokens, output_tokens, hash_ids),
            };
        let req = Request {
            seq: self.seq,
            id: None,
            at_ms,
            tenant,
            class,
            model: None,
            input_tokens,
            output_tokens,
            max_tokens: output_tokens,
            stream,
            lang,
            deadline_ms: None,
            tags: None,
            prefix_hash: None,
            hash_ids,
            prompt_hash,
            messages: None,
        };
        self.seq += 1;
        Some(req)
    }
}

/// A drawn token count: rounded, at least 1 (`as` saturates huge values and
/// maps NaN to 0).
fn tokens(x: f64) -> u32 {
    (x.round() as u32).max(1)
}

#[cfg(test)]
mod tests;
