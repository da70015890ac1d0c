//! What a synthetic trace looks like: the `[trace.synthetic]` table of a
//! scenario, or the options of `windtunnel trace gen`.

use windtunnel_core::{Dist, format_duration_ms};

/// The fastest mean rate of a synthetic trace: a million requests per second.
pub const MAX_RATE_PER_S: f64 = 1e6;
/// The longest synthetic trace: 366 days. It also bounds the generator's work
/// when the rate is tiny (a bursty process switches state every 75 s on
/// average, arrivals or not).
pub const MAX_DURATION_MS: u64 = 366 * 86_400_000;
/// The most requests a synthetic trace may hold on average (rate × duration):
/// 100 million, about 10 GB of JSON lines and minutes of replay.
pub const MAX_REQUESTS: u64 = 100_000_000;

/// A synthetic trace that would be too big (or empty by mistake): what
/// [`SyntheticSpec::check_limits`] refuses.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SpecError {
    /// The rate is not a number above 0, or above [`MAX_RATE_PER_S`].
    #[error("invalid rate: found {found} requests per second, expected a number greater than 0 and at most 1000000")]
    Rate {
        /// The rate given.
        found: f64,
    },
    /// The duration is 0 or above [`MAX_DURATION_MS`].
    #[error("invalid duration: found {}, expected more than 0 and at most 366 days (8784h)", format_duration_ms(*.found_ms))]
    Duration {
        /// The duration given.
        found_ms: u64,
    },
    /// Rate × duration is above [`MAX_REQUESTS`].
    #[error(
        "too many requests: {rate} per second for {} is about {expected:.0} requests, expected at most 100000000; lower the rate or the duration",
        format_duration_ms(*.duration_ms)
    )]
    TooManyRequests {
        /// The rate.
        rate: f64,
        /// The duration.
        duration_ms: u64,
        /// Rate × duration.
        expected: f64,
    },
}

/// How arrivals are spread in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArrivalPattern {
    /// Exponential gaps at a constant rate.
    Poisson,
    /// Poisson with a rate that follows a day: a sine with its trough at 04:00
    /// and peak at 16:00, from 20% to 180% of the mean rate.
    Diurnal,
    /// Poisson with on/off bursts: short windows at several times the mean
    /// rate, quiet in between, with the same mean rate overall.
    Bursty,
}

/// A generator's whole description.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntheticSpec {
    /// Mean arrivals per second.
    pub rate_per_s: f64,
    /// How long the trace lasts.
    pub duration_ms: u64,
    /// Arrival pattern.
    pub pattern: ArrivalPattern,
    /// Prompt tokens.
    pub input_tokens: Dist,
    /// Response tokens.
    pub output_tokens: Dist,
    /// Class mix, weights (normalised by the generator); empty = all `default`.
    pub classes: Vec<(String, f64)>,
    /// Tenant mix; empty = all `default`.
    pub tenants: Vec<(String, f64)>,
    /// Language mix; empty = no language.
    pub langs: Vec<(String, f64)>,
    /// Share of streamed requests, 0..=1.
    pub stream_share: f64,
    /// Conversations sharing prompt prefixes (`hash_ids`); `None`: every
    /// request stands alone, without `hash_ids`.
    pub conversations: Option<ConversationSpec>,
    /// Repeated prompts (`prompt_hash`), for a gateway response cache;
    /// `None`: no request carries a `prompt_hash`.
    pub repeats: Option<RepeatSpec>,
}

/// `repeats = { share, prompts }`: a `share` of requests asks one of
/// `prompts` popular prompts again, picked by popularity (Zipf, exponent 1:
/// the k-th most asked is asked 1/k as often as the first), as FAQ-like
/// traffic does. A repeated prompt carries `prompt_hash` and the token
/// counts of its first asking; the other requests carry no `prompt_hash`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RepeatSpec {
    /// Share of requests that repeat a popular prompt, 0..=1.
    pub share: f64,
    /// How many distinct popular prompts, 1..=[`MAX_REPEATED_PROMPTS`].
    pub prompts: u32,
}

/// The most distinct popular prompts `repeats` takes (each keeps its token
/// counts: 8 bytes).
pub const MAX_REPEATED_PROMPTS: u32 = 1_000_000;

/// `conversations = { turns, system_tokens }`: requests are the turns of
/// conversations. A turn's prompt is the conversation so far (earlier
/// prompts and answers) plus a new message of `input_tokens`; every prompt
/// starts with a system prompt of `system_tokens` shared by all
/// conversations. Prompts carry `hash_ids` of their 512-token blocks, so
/// turns of one conversation share their history's blocks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConversationSpec {
    /// Mean turns per conversation (geometric), at least 1.
    pub turns: f64,
    /// Tokens of the shared system prompt.
    pub system_tokens: u32,
}

impl SyntheticSpec {
    /// Checks the size of the trace: a rate above 0 and at most
    /// [`MAX_RATE_PER_S`], a duration above 0 and at most [`MAX_DURATION_MS`],
    /// and at most [`MAX_REQUESTS`] requests on average. Whoever builds a
    /// spec from user input calls this before [`Generator::new`], which
    /// trusts its spec (and would write for hours on `rate = 1e12`).
    ///
    /// [`Generator::new`]: crate::Generator::new
    pub fn check_limits(&self) -> Result<(), SpecError> {
        if !(self.rate_per_s > 0.0 && self.rate_per_s <= MAX_RATE_PER_S) {
            return Err(SpecError::Rate { found: self.rate_per_s });
        }
        if self.duration_ms == 0 || self.duration_ms > MAX_DURATION_MS {
            return Err(SpecError::Duration { found_ms: self.duration_ms });
        }
        let expected = self.rate_per_s * self.duration_ms as f64 / 1000.0;
        if expected > MAX_REQUESTS as f64 {
            return Err(SpecError::TooManyRequests { rate: self.rate_per_s, duration_ms: self.duration_ms, expected });
        }
        Ok(())
    }
}

/// The file formats a trace can be read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceFormat {
    /// windtunnel's own JSON lines.
    Jsonl,
    /// Azure LLM inference trace CSV (TIMESTAMP, ContextTokens, GeneratedTokens).
    Azure,
    /// BurstGPT CSV, columns by header name.
    Burstgpt,
    /// Mooncake JSON lines (timestamp, input_length, output_length, hash_ids).
    Mooncake,
}

impl TraceFormat {
    /// Every format, in SPEC order.
    pub const ALL: [TraceFormat; 4] =
        [TraceFormat::Jsonl, TraceFormat::Azure, TraceFormat::Burstgpt, TraceFormat::Mooncake];

    /// SPEC's name.
    pub fn as_str(self) -> &'static str {
        match self {
            TraceFormat::Jsonl => "jsonl",
            TraceFormat::Azure => "azure",
            TraceFormat::Burstgpt => "burstgpt",
            TraceFormat::Mooncake => "mooncake",
        }
    }

    /// Parses SPEC's name.
    pub fn from_name(s: &str) -> Option<TraceFormat> {
        TraceFormat::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(rate_per_s: f64, duration_ms: u64) -> SyntheticSpec {
        SyntheticSpec {
            conversations: None,
            repeats: None,
            rate_per_s,
            duration_ms,
            pattern: ArrivalPattern::Poisson,
            input_tokens: Dist::Fixed(1.0),
            output_tokens: Dist::Fixed(1.0),
            classes: Vec::new(),
            tenants: Vec::new(),
            langs: Vec::new(),
            stream_share: 0.0,
        }
    }

    #[test]
    fn limits_bound_rate_duration_and_requests() {
        assert_eq!(spec(10.0, 3_600_000).check_limits(), Ok(()));
        assert_eq!(spec(MAX_RATE_PER_S, 100_000).check_limits(), Ok(()), "100 M requests exactly");
        assert_eq!(spec(1e-6, MAX_DURATION_MS).check_limits(), Ok(()));
        assert_eq!(
            spec(1e12, 1000).check_limits().unwrap_err().to_string(),
            "invalid rate: found 1000000000000 requests per second, expected a number greater than 0 and at most 1000000"
        );
        for bad in [0.0, -5.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(spec(bad, 1000).check_limits(), Err(SpecError::Rate { .. })), "{bad}");
        }
        assert_eq!(
            spec(1.0, u64::MAX).check_limits().unwrap_err(),
            SpecError::Duration { found_ms: u64::MAX },
            "a duration of u64::MAX ms is refused, not generated"
        );
        assert!(matches!(spec(1.0, 0).check_limits(), Err(SpecError::Duration { found_ms: 0 })));
        assert_eq!(
            spec(1e6, 101_000).check_limits().unwrap_err().to_string(),
            "too many requests: 1000000 per second for 1m41s is about 101000000 requests, expected at most 100000000; lower the rate or the duration"
        );
    }
}
