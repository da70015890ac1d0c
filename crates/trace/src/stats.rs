//! [`TraceStats`]: what `windtunnel trace stats` prints, gathered one request
//! at a time in constant memory.
//!
//! - Token percentiles come from a fixed-size integer histogram (0.1%
//!   resolution), not from a sorted copy of the trace.
//! - The peak per-minute rate needs only the current minute's count, because
//!   traces are ordered by arrival (a request earlier than the previous one
//!   is counted in the current minute).
//! - Counts by class, tenant, model and language keep at most
//!   [`MAX_KEYS`] distinct names each; later names are counted under
//!   `(other)`, so a trace with a user id per tenant cannot grow them without
//!   bound. Requests without a model or language count under `(none)`.

use crate::error::escape_for_display;
use crate::histogram::TokenHistogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use windtunnel_core::{Request, Sym, format_duration_ms};

/// Distinct names counted per breakdown before the rest go to `(other)`.
pub const MAX_KEYS: usize = 1000;
/// One minute, the unit of the rates.
const MINUTE_MS: u64 = 60_000;
/// Rows of a breakdown the table prints before summing up the rest.
const TABLE_ROWS: usize = 10;
/// Key for requests beyond [`MAX_KEYS`] distinct names.
const OTHER: &str = "(other)";
/// Key for requests without a model or language.
const NONE: &str = "(none)";

/// Running statistics of a trace.
#[derive(Clone, Debug, Default)]
pub struct TraceStats {
    requests: u64,
    first_at_ms: Option<u64>,
    last_at_ms: u64,
    minute: u64,
    minute_count: u64,
    peak_per_min: u64,
    input: TokenHistogram,
    output: TokenHistogram,
    streamed: u64,
    by_class: Counts,
    by_tenant: Counts,
    by_model: Counts,
    by_lang: Counts,
}

impl TraceStats {
    /// Empty statistics.
    pub fn new() -> TraceStats {
        TraceStats::default()
    }

    /// Adds one request.
    pub fn record(&mut self, req: &Request) {
        let minute = req.at_ms / MINUTE_MS;
        if self.first_at_ms.is_none() {
            self.first_at_ms = Some(req.at_ms);
            self.minute = minute;
        }
        if minute > self.minute {
            self.minute = minute;
            self.minute_count = 0;
        }
        self.minute_count += 1;
        self.peak_per_min = self.peak_per_min.max(self.minute_count);
        self.last_at_ms = self.last_at_ms.max(req.at_ms);
        self.requests += 1;
        self.input.record(req.input_tokens);
        self.output.record(req.output_tokens);
        self.streamed += u64::from(req.stream);
        self.by_class.add(Some(&req.class));
        self.by_tenant.add(Some(&req.tenant));
        self.by_model.add(req.model.as_ref());
        self.by_lang.add(req.lang.as_ref());
    }

    /// Requests recorded.
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// Time from the first arrival to the last.
    pub fn span_ms(&self) -> u64 {
        self.first_at_ms.map_or(0, |first| self.last_at_ms.saturating_sub(first))
    }

    /// The statistics as plain data (what `Serialize` and `Display` show).
    pub fn summary(&self) -> TraceSummary {
        let minutes = self.first_at_ms.map_or(0, |first| self.last_at_ms / MINUTE_MS - first / MINUTE_MS + 1);
        TraceSummary {
            requests: self.requests,
            span_ms: self.span_ms(),
            rate_per_min: RateSummary {
                mean: if minutes == 0 { 0.0 } else { self.requests as f64 / minutes as f64 },
                peak: self.peak_per_min,
            },
            input_tokens: TokenSummary::of(&self.input),
            output_tokens: TokenSummary::of(&self.output),
            stream_share: if self.requests == 0 { 0.0 } else { self.streamed as f64 / self.requests as f64 },
            by_class: self.by_class.to_map(),
            by_tenant: self.by_tenant.to_map(),
            by_model: self.by_model.to_map(),
            by_lang: self.by_lang.to_map(),
        }
    }
}

impl<'a> Extend<&'a Request> for TraceStats {
    fn extend<I: IntoIterator<Item = &'a Request>>(&mut self, iter: I) {
        for req in iter {
            self.record(req);
        }
    }
}

impl Serialize for TraceStats {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.summary().serialize(s)
    }
}

impl fmt::Display for TraceStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.summary().fmt(f)
    }
}

/// Counts per name, bounded by [`MAX_KEYS`].
#[derive(Clone, Debug, Default)]
struct Counts {
    named: BTreeMap<Sym, u64>,
    other: u64,
    none: u64,
}

impl Counts {
    fn add(&mut self, name: Option<&Sym>) {
        let Some(name) = name else {
            self.none += 1;
            return;
        };
        if let Some(n) = self.named.get_mut(&**name) {
            *n += 1;
        } else if self.named.len() < MAX_KEYS {
            self.named.insert(name.clone(), 1);
        } else {
            self.other += 1;
        }
    }

    fn to_map(&self) -> BTreeMap<String, u64> {
        let mut map: BTreeMap<String, u64> = self.named.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        for (key, n) in [(OTHER, self.other), (NONE, self.none)] {
            if n > 0 {
                *map.entry(key.to_string()).or_default() += n;
            }
        }
        map
    }
}

/// Characters of a name the table shows; longer names end in `...`.
const NAME_CHARS: usize = 48;

/// A class, tenant, model or language name as the table shows it: control
/// and invisible characters escaped, at most [`NAME_CHARS`] characters (the
/// JSON output keeps names whole).
fn display_name(name: &str) -> String {
    escape_for_display(name, NAME_CHARS)
}

// === TraceSummary ===

/// A trace's statistics as data: the JSON of `trace stats --json` and the
/// table of `trace stats`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TraceSummary {
    /// Requests.
    pub requests: u64,
    /// From the first arrival to the last.
    pub span_ms: u64,
    /// Arrivals per minute.
    pub rate_per_min: RateSummary,
    /// Prompt tokens.
    pub input_tokens: TokenSummary,
    /// Response tokens.
    pub output_tokens: TokenSummary,
    /// Share of streamed requests, 0..=1.
    pub stream_share: f64,
    /// Requests per class.
    pub by_class: BTreeMap<String, u64>,
    /// Requests per tenant.
    pub by_tenant: BTreeMap<String, u64>,
    /// Requests per model (`(none)` for none).
    pub by_model: BTreeMap<String, u64>,
    /// Requests per language (`(none)` for none).
    pub by_lang: BTreeMap<String, u64>,
}

/// Arrival rate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RateSummary {
    /// Requests over the minutes from the first arrival's to the last's.
    pub mean: f64,
    /// The busiest calendar minute of the trace clock.
    pub peak: u64,
}

/// Token count distribution (percentiles within 0.1%).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct TokenSummary {
    /// Median.
    pub p50: u32,
    /// 90th percentile.
    pub p90: u32,
    /// 99th percentile.
    pub p99: u32,
    /// Largest, exact.
    pub max: u32,
    /// Mean, exact.
    pub mean: f64,
}

impl TokenSummary {
    fn of(h: &TokenHistogram) -> TokenSummary {
        TokenSummary { p50: h.quantile(0.5), p90: h.quantile(0.9), p99: h.quantile(0.99), max: h.max(), mean: h.mean() }
    }
}

impl fmt::Display for TraceSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:<15}{}", "requests", self.requests)?;
        writeln!(f, "{:<15}{} ({} ms)", "span", format_duration_ms(self.span_ms), self.span_ms)?;
        writeln!(f, "{:<15}mean {:.1}, peak {}", "rate per min", self.rate_per_min.mean, self.rate_per_min.peak)?;
        writeln!(f, "{:<15}{:>9}{:>9}{:>9}{:>9}{:>10}", "tokens", "p50", "p90", "p99", "max", "mean")?;
        for (name, t) in [("  input", &self.input_tokens), ("  output", &self.output_tokens)] {
            writeln!(f, "{name:<15}{:>9}{:>9}{:>9}{:>9}{:>10.1}", t.p50, t.p90, t.p99, t.max, t.mean)?;
        }
        writeln!(f, "{:<15}{:.1}%", "streamed", self.stream_share * 100.0)?;
        for (name, map) in
            [("class", &self.by_class), ("tenant", &self.by_tenant), ("model", &self.by_model), ("lang", &self.by_lang)]
        {
            breakdown(f, name, map, self.requests)?;
        }
        Ok(())
    }
}

/// One breakdown, largest first (ties by name), at most [`TABLE_ROWS`] rows.
/// Names are shown as [`display_name`] makes them, so the column stays
/// narrow whatever the trace holds.
fn breakdown(f: &mut fmt::Formatter<'_>, name: &str, map: &BTreeMap<String, u64>, total: u64) -> fmt::Result {
    let mut rows: Vec<(&String, &u64)> = map.iter().collect();
    rows.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    let keys: Vec<String> = rows.iter().take(TABLE_ROWS).map(|(k, _)| display_name(k)).collect();
    let more = (rows.len() > TABLE_ROWS).then(|| format!("({} more)", rows.len() - TABLE_ROWS));
    let width = keys.iter().map(String::as_str).chain(more.as_deref());
    let width = width.map(|k| k.chars().count()).max().unwrap_or(0);
    let pct = |n: u64| if total == 0 { 0.0 } else { n as f64 * 100.0 / total as f64 };
    for (i, (key, (_, n))) in keys.iter().zip(&rows).enumerate() {
        let label = if i == 0 { name } else { "" };
        writeln!(f, "{label:<15}{key:<width$}  {n:>9}  {:>5.1}%", pct(**n))?;
    }
    if let Some(more) = more {
        let rest: u64 = rows.iter().skip(TABLE_ROWS).map(|(_, n)| **n).sum();
        writeln!(f, "{:<15}{more:<width$}  {rest:>9}  {:>5.1}%", "", pct(rest))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
