//! What a synthetic trace looks like: the `[trace.synthetic]` table of a
//! scenario, or the options of `windtunnel trace gen`.

use windtunnel_core::Dist;

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
