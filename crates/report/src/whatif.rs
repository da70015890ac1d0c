//! What-if comparisons: the schema of `whatif.json` and its renderers,
//! `whatif.md` and `whatif.html`.
//!
//! `windtunnel whatif` runs several variants of one scenario (policies,
//! `--set` edits, the points of a parameter sweep) on the same seeds; the
//! harness folds the runs into a [`WhatifReport`]. This module owns what a
//! compared figure is ([`Metric`], read from each run's [`Report`]), the
//! report's shape, and how people read it. It computes no statistics: the
//! harness fills in means, paired differences and intervals.
//!
//! # Why the table shows paired differences
//! Every variant ran on the same seeds, and a seed fixes the simulated world
//! (arrivals, fault windows, each request's draws on each endpoint) whatever
//! the policy: SPEC's common random numbers. The difference of one variant to
//! the first within a seed is therefore a *pair* from which the shared luck of
//! that seed cancels, and its confidence interval is usually far narrower than
//! the unpaired (Welch) interval, which treats the runs as independent. The
//! tables lead with the paired interval and show the unpaired one beside it,
//! so the gain is visible rather than claimed.
//!
//! # Design
//! - Renderers are pure functions of the report and deterministic: fixed
//!   decimals per table row, metrics and variants in a fixed order, no
//!   timestamps. `whatif.json` keeps exact values.
//! - The HTML page is self-contained (no network, no JavaScript): the tables,
//!   and for sweeps or three or more variants the cost–quality and cost–SLA
//!   frontiers as inline SVG drawn with [`crate::chart`].
//! - All user text (scenario, labels, policy paths, `--set` texts) is escaped.

use crate::Report;
use crate::chart::{Chart, decimals, nice_step};
use crate::escape::{md, md_code, xml};
use crate::style::BASE_STYLE;
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use std::fmt::Write;

/// Bumped when a key of `whatif.json` changes meaning or goes away.
pub const WHATIF_SCHEMA_VERSION: u32 = 1;

// === Metric ===

/// A figure compared across variants, read from each run's [`Report`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Metric {
    /// `cost.total_usd`.
    CostUsd,
    /// `cost.per_success_usd`.
    CostPerSuccessUsd,
    /// `cache.saved_usd + cache.prompt_cache_saved_usd`: what the response
    /// cache and the providers' prompt caches saved.
    CacheSavedUsd,
    /// `cache.hit_rate`: the share of requests the response cache answered.
    CacheHitRate,
    /// `latency_ms.p50`.
    P50Ms,
    /// `latency_ms.p95`.
    P95Ms,
    /// `latency_ms.p99`.
    P99Ms,
    /// `sla.rate`: violations / requests.
    SlaViolationRate,
    /// `outcomes.failed / trace.requests`, as SPEC's `max_error_rate` reads it.
    ErrorRate,
    /// `quality.mean`.
    Quality,
}

/// Which way a metric improves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// Smaller is better (cost, latency, rates).
    Lower,
    /// Larger is better (quality).
    Higher,
}

/// How a metric's numbers read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unit {
    Usd,
    Ms,
    Rate,
    Score,
}

impl Metric {
    /// Every metric, in table order.
    pub const ALL: [Metric; 10] = [
        Metric::CostUsd,
        Metric::CostPerSuccessUsd,
        Metric::CacheSavedUsd,
        Metric::CacheHitRate,
        Metric::P50Ms,
        Metric::P95Ms,
        Metric::P99Ms,
        Metric::SlaViolationRate,
        Metric::ErrorRate,
        Metric::Quality,
    ];

    /// The key in `whatif.json` (`cost_usd`, `p95_ms`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::CostUsd => "cost_usd",
            Metric::CostPerSuccessUsd => "cost_per_success_usd",
            Metric::CacheSavedUsd => "cache_saved_usd",
            Metric::CacheHitRate => "cache_hit_rate",
            Metric::P50Ms => "p50_ms",
            Metric::P95Ms => "p95_ms",
            Metric::P99Ms => "p99_ms",
            Metric::SlaViolationRate => "sla_violation_rate",
            Metric::ErrorRate => "error_rate",
            Metric::Quality => "quality",
        }
    }

    /// The metric's value in one run.
    pub fn of(self, r: &Report) -> f64 {
        match self {
            Metric::CostUsd => r.cost.total_usd.as_usd(),
            Metric::CostPerSuccessUsd => r.cost.per_success_usd.as_usd(),
            Metric::CacheSavedUsd => (r.cache.saved_usd + r.cache.prompt_cache_saved_usd).as_usd(),
            Metric::CacheHitRate => r.cache.hit_rate,
            Metric::P50Ms => r.latency_ms.p50 as f64,
            Metric::P95Ms => r.latency_ms.p95 as f64,
            Metric::P99Ms => r.latency_ms.p99 as f64,
            Metric::SlaViolationRate => r.sla.rate,
            Metric::ErrorRate => {
                if r.trace.requests == 0 {
                    0.0
                } else {
                    r.outcomes.failed as f64 / r.trace.requests as f64
                }
            }
            Metric::Quality => r.quality.mean,
        }
    }

    /// Which way it improves.
    pub fn better(self) -> Better {
        if matches!(self, Metric::Quality | Metric::CacheSavedUsd | Metric::CacheHitRate) {
            Better::Higher
        } else {
            Better::Lower
        }
    }

    /// The row title in tables.
    fn title(self) -> &'static str {
        match self {
            Metric::CostUsd => "cost",
            Metric::CostPerSuccessUsd => "cost per success",
            Metric::CacheSavedUsd => "saved by caching",
            Metric::CacheHitRate => "response cache hit rate",
            Metric::P50Ms => "p50 latency",
            Metric::P95Ms => "p95 latency",
            Metric::P99Ms => "p99 latency",
            Metric::SlaViolationRate => "SLA violation rate",
            Metric::ErrorRate => "error rate",
            Metric::Quality => "quality",
        }
    }

    fn unit(self) -> Unit {
        match self {
            Metric::CostUsd | Metric::CostPerSuccessUsd | Metric::CacheSavedUsd => Unit::Usd,
            Metric::P50Ms | Metric::P95Ms | Metric::P99Ms => Unit::Ms,
            Metric::SlaViolationRate | Metric::ErrorRate | Metric::CacheHitRate => Unit::Rate,
            Metric::Quality => Unit::Score,
        }
    }
}

// === Schema ===

/// `whatif.json`: every variant of one scenario over the same seeds.
#[derive(Clone, Debug, Serialize)]
pub struct WhatifReport {
    /// [`WHATIF_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Scenario name.
    pub scenario: String,
    /// The seeds every variant ran on, in order; `values` arrays follow it.
    pub seeds: Vec<u64>,
    /// Confidence level of the intervals (0.95).
    pub confidence: f64,
    /// The variants; the first is the baseline every difference is taken to.
    pub variants: Vec<WhatifVariant>,
    /// The swept key and its values, when the variants are a sweep.
    pub sweep: Option<SweepAxis>,
    /// Per metric, keyed by [`Metric::as_str`] in [`Metric::ALL`] order.
    #[serde(serialize_with = "metrics_by_name")]
    pub metrics: Vec<MetricResult>,
    /// Mean cost against mean quality and mean SLA violation rate, per variant.
    pub frontier: Frontier,
}

/// One variant as run.
#[derive(Clone, Debug, Serialize)]
pub struct WhatifVariant {
    /// Column title: the policy file's stem, or the `--set` text.
    pub label: String,
    /// The policy (script path or `chain: a > b`).
    pub policy: String,
    /// `KEY=VALUE` edits that make this variant (beyond those shared by all).
    pub sets: Vec<String>,
}

/// A sweep's axis.
#[derive(Clone, Debug, Serialize)]
pub struct SweepAxis {
    /// The swept key (`policy.min_quality`).
    pub key: String,
    /// Its values, one per variant, as passed to `--set`.
    pub values: Vec<String>,
}

/// One metric across the variants.
#[derive(Clone, Debug, Serialize)]
pub struct MetricResult {
    /// The metric (the key it is serialized under).
    #[serde(skip)]
    pub metric: Metric,
    /// Which way it improves.
    pub better: Better,
    /// One entry per variant, in variant order.
    pub variants: Vec<VariantStats>,
}

/// One variant's figures for one metric.
#[derive(Clone, Debug, Serialize)]
pub struct VariantStats {
    /// The variant's label.
    pub variant: String,
    /// Mean over the seeds.
    pub mean: f64,
    /// Sample standard deviation over the seeds; `null` with one seed.
    pub sd: Option<f64>,
    /// The value under each seed, in `seeds` order.
    pub values: Vec<f64>,
    /// The difference to the first variant; `null` for the first variant.
    pub diff: Option<Difference>,
}

/// A variant minus the baseline.
#[derive(Clone, Debug, Serialize)]
pub struct Difference {
    /// Mean of the per-seed differences (equal to the difference of means).
    pub mean: f64,
    /// Interval from the per-seed differences (Student's t, n − 1 degrees of
    /// freedom); `null` with one seed.
    pub paired: Option<Interval>,
    /// Interval as if the runs were independent (Welch); `null` with one seed.
    pub unpaired: Option<Interval>,
}

/// A confidence interval of a difference.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Interval {
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
    /// Half its width: the ± around the mean difference.
    pub half_width: f64,
    /// Degrees of freedom of the t quantile (Welch's are fractional); `null`
    /// when the interval has no spread to estimate (every run gave the same value).
    pub df: Option<f64>,
}

/// The frontiers, one point per variant in variant order.
#[derive(Clone, Debug, Serialize)]
pub struct Frontier {
    /// Mean cost against mean quality (higher is better).
    pub quality: Vec<FrontierPoint>,
    /// Mean cost against mean SLA violation rate (lower is better).
    pub sla_violation_rate: Vec<FrontierPoint>,
}

/// One variant on a frontier.
#[derive(Clone, Debug, Serialize)]
pub struct FrontierPoint {
    /// The variant's label.
    pub variant: String,
    /// Mean cost in USD.
    pub cost_usd: f64,
    /// Mean quality or SLA violation rate.
    pub value: f64,
    /// Whether no other variant is at least as cheap and at least as good,
    /// and better in one of the two.
    pub pareto: bool,
}

fn metrics_by_name<S: Serializer>(metrics: &[MetricResult], s: S) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(metrics.len()))?;
    for m in metrics {
        map.serialize_entry(m.metric.as_str(), m)?;
    }
    map.end()
}

impl WhatifReport {
    /// Whether the frontier charts and table are worth showing: a sweep, or
    /// three variants or more (two points make no frontier to read).
    pub fn has_frontier(&self) -> bool {
        self.sweep.is_some() || self.variants.len() >= 3
    }

    fn baseline(&self) -> &str {
        self.variants.first().map_or("", |v| v.label.as_str())
    }
}

/// Renders `whatif.json`: pretty JSON with a trailing newline.
pub fn to_whatif_json(r: &WhatifReport) -> Result<String, serde_json::Error> {
    let mut s = serde_json::to_string_pretty(r)?;
    s.push('\n');
    Ok(s)
}

// === Number formatting ===

/// Decimals that show `x` with `sig` significant digits (0 for 0).
fn decimals_for(x: f64, sig: i32) -> usize {
    if !(x.is_finite() && x > 0.0) {
        return 0;
    }
    (sig - 1 - x.log10().floor() as i32).clamp(0, 9) as usize
}

/// How one table row prints its numbers: one unit and one number of decimals
/// for every cell, so the row lines up.
#[derive(Clone, Copy, Debug)]
struct Fmt {
    unit: Unit,
    decimals: usize,
}

impl Fmt {
    /// Enough decimals for the row's means at their usual precision and for
    /// its narrowest interval at two significant digits.
    fn for_row(m: &MetricResult) -> Fmt {
        let unit = m.metric.unit();
        let scale = if unit == Unit::Rate { 100.0 } else { 1.0 };
        let largest = m.variants.iter().map(|v| (v.mean * scale).abs()).fold(0.0, f64::max);
        let narrowest = m
            .variants
            .iter()
            .filter_map(|v| v.diff.as_ref())
            .flat_map(|d| [&d.paired, &d.unpaired])
            .filter_map(|i| i.as_ref().map(|i| i.half_width * scale))
            .filter(|h| *h > 0.0)
            .fold(f64::INFINITY, f64::min);
        let (base, max) = match unit {
            Unit::Usd if largest >= 100.0 => (2, 9),
            Unit::Usd if largest >= 0.01 => (4, 9),
            Unit::Usd => (decimals_for(largest, 3).max(4), 9),
            Unit::Ms => (0, 1),
            Unit::Rate => (2, 4),
            Unit::Score => (4, 6),
        };
        Fmt { unit, decimals: base.max(decimals_for(narrowest, 2)).min(max) }
    }

    /// The magnitude `v.abs()` in the row's unit, without sign.
    fn magnitude(&self, v: f64, diff: bool) -> String {
        let d = self.decimals;
        let v = v.abs();
        match self.unit {
            Unit::Usd => format!("${v:.d$}"),
            Unit::Ms => format!("{v:.d$} ms"),
            Unit::Rate if diff => format!("{:.d$} pp", v * 100.0),
            Unit::Rate => format!("{:.d$}%", v * 100.0),
            Unit::Score => format!("{v:.d$}"),
        }
    }

    /// A mean: `$1.6373`, `4203 ms`, `0.21%`, `0.8412`.
    fn value(&self, v: f64) -> String {
        let s = self.magnitude(v, false);
        if v < 0.0 && !is_zero(&s) { format!("-{s}") } else { s }
    }

    /// A difference, signed: `+$0.0060`, `-12 ms`, `+0.05 pp`; unsigned when it rounds to zero.
    fn signed(&self, v: f64) -> String {
        let s = self.magnitude(v, true);
        if is_zero(&s) {
            s
        } else if v < 0.0 {
            format!("-{s}")
        } else {
            format!("+{s}")
        }
    }

    /// `[-$0.0071, -$0.0049]`.
    fn interval(&self, i: &Interval) -> String {
        format!("[{}, {}]", self.signed(i.low), self.signed(i.high))
    }

    /// `±$0.0011`.
    fn half(&self, i: &Interval) -> String {
        format!("±{}", self.magnitude(i.half_width, true))
    }
}

/// Whether a formatted number has no nonzero digit.
fn is_zero(s: &str) -> bool {
    !s.chars().any(|c| c.is_ascii_digit() && c != '0')
}

/// `13.6×` (unpaired half-width over paired), `∞` when the paired one is 0.
fn width_ratio(paired: &Interval, unpaired: &Interval) -> String {
    if paired.half_width > 0.0 {
        format!("{:.1}×", unpaired.half_width / paired.half_width)
    } else if unpaired.half_width > 0.0 {
        "∞".to_string()
    } else {
        "—".to_string()
    }
}

/// `20 seeds (42–61)`.
fn seeds_text(seeds: &[u64]) -> String {
    match seeds {
        [] => "no seeds".to_string(),
        [one] => format!("1 seed ({one})"),
        [first, .., last] => format!("{} seeds ({first}–{last})", seeds.len()),
    }
}

/// The paragraph under the title: what was run and how to read Δ.
fn method_note(r: &WhatifReport) -> String {
    let n = r.seeds.len();
    let mut s = format!(
        "{}, the same for every variant: under one seed every variant meets the same arrivals, fault windows and \
         per-request draws (common random numbers), so each seed gives a pair and a difference is the variant's \
         doing. Δ is the mean per-seed difference to the first column",
        seeds_text(&r.seeds)
    );
    if n >= 2 {
        let _ = write!(
            s,
            ", with its {:.0}% confidence interval (Student's t, {} degrees of freedom).",
            r.confidence * 100.0,
            n - 1
        );
    } else {
        s.push_str("; one seed gives no confidence interval: run two or more.");
    }
    s
}

// === Markdown ===

/// The main table alone, as Markdown: one row per metric, one column per
/// variant, `Δ [CI]` beside every variant after the first. What the CLI prints.
pub fn to_whatif_markdown_table(r: &WhatifReport) -> String {
    let mut s = String::from("| metric |");
    for v in &r.variants {
        let _ = write!(s, " {} |", md_code(&v.label));
    }
    s.push_str("\n|---|");
    s.push_str(&"---:|".repeat(r.variants.len()));
    s.push('\n');
    for m in &r.metrics {
        let f = Fmt::for_row(m);
        let _ = write!(s, "| {} |", m.metric.title());
        for v in &m.variants {
            let _ = write!(s, " {}", f.value(v.mean));
            if let Some(d) = &v.diff {
                let _ = write!(s, " (Δ {}", f.signed(d.mean));
                if let Some(p) = &d.paired {
                    let _ = write!(s, " {}", f.interval(p));
                }
                s.push(')');
            }
            s.push_str(" |");
        }
        s.push('\n');
    }
    s
}

/// Renders `whatif.md`.
pub fn to_whatif_markdown(r: &WhatifReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# windtunnel what-if: {}\n", md(&r.scenario));
    let _ = writeln!(s, "{}\n", md(&method_note(r)));
    s.push_str(&to_whatif_markdown_table(r));
    md_variants(&mut s, r);
    md_paired_vs_unpaired(&mut s, r);
    if r.has_frontier() {
        md_frontier(&mut s, r);
    }
    s
}

fn md_variants(s: &mut String, r: &WhatifReport) {
    s.push_str("\n## Variants\n\n| variant | policy | settings |\n|---|---|---|\n");
    for v in &r.variants {
        let sets: Vec<String> = v.sets.iter().map(|x| md_code(x)).collect();
        let sets = if sets.is_empty() { "—".to_string() } else { sets.join(", ") };
        let _ = writeln!(s, "| {} | {} | {sets} |", md_code(&v.label), md_code(&v.policy));
    }
}

fn md_paired_vs_unpaired(s: &mut String, r: &WhatifReport) {
    if r.seeds.len() < 2 {
        return;
    }
    let _ = writeln!(
        s,
        "\n## Paired and unpaired intervals\n\n{:.0}% confidence intervals of each difference to {}: paired (per-seed \
         differences, common random numbers) and unpaired (Welch, as if the runs were independent). The ratio is how \
         much wider the unpaired interval is.\n\n| metric | variant | Δ | paired | unpaired | ratio |\n\
         |---|---|---:|---:|---:|---:|",
        r.confidence * 100.0,
        md_code(r.baseline())
    );
    for m in &r.metrics {
        let f = Fmt::for_row(m);
        for v in &m.variants {
            let Some(d) = &v.diff else { continue };
            let (Some(p), Some(u)) = (&d.paired, &d.unpaired) else { continue };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                m.metric.title(),
                md_code(&v.variant),
                f.signed(d.mean),
                f.half(p),
                f.half(u),
                width_ratio(p, u)
            );
        }
    }
}

fn md_frontier(s: &mut String, r: &WhatifReport) {
    let _ = writeln!(
        s,
        "\n## Frontier\n\nMean cost against mean quality and SLA violation rate. A Pareto-optimal variant has no \
         other that is at least as cheap and at least as good, and better in one.\n\n\
         | variant | cost | quality | Pareto (cost–quality) | SLA violation rate | Pareto (cost–SLA) |\n\
         |---|---:|---:|:-:|---:|:-:|"
    );
    let row = |metric: Metric| r.metrics.iter().find(|m| m.metric == metric).map(Fmt::for_row);
    let (Some(cost), Some(quality), Some(sla)) =
        (row(Metric::CostUsd), row(Metric::Quality), row(Metric::SlaViolationRate))
    else {
        return;
    };
    let mark = |p: bool| if p { "✓" } else { "" };
    for (q, l) in r.frontier.quality.iter().zip(&r.frontier.sla_violation_rate) {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            md_code(&q.variant),
            cost.value(q.cost_usd),
            quality.value(q.value),
            mark(q.pareto),
            sla.value(l.value),
            mark(l.pareto)
        );
    }
}

// === HTML ===

/// Series colours: Tableau 10, as in the run report.
const PALETTE: [&str; 10] =
    ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

/// Longest point label drawn on a chart; longer ones are cut with `…` (the
/// full label is in the point's tooltip and the tables).
const CHART_LABEL_CHARS: usize = 28;

const STYLE: &str = r#"
:root{--bg:#f6f7f9;--fg:#1b1f24;--muted:#5b6470;--card:#fff;--line:#e2e5e9;--grid:#eceef1;--soft:#f1f3f5;--good:#1a7f37;--bad:#cf222e}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9ba5b0;--card:#161b22;--line:#2a3038;--grid:#21272f;--soft:#1c2129;--good:#3fb950;--bad:#f85149}}
code{font-family:ui-monospace,SFMono-Regular,"SF Mono",Menlo,Consolas,"Liberation Mono",monospace;font-size:.88em;background:var(--soft);padding:1px 6px;border-radius:4px;overflow-wrap:anywhere}
svg text.point{fill:var(--fg)}
svg .path{stroke:var(--muted);stroke-dasharray:4 3}
svg .hollow{fill:var(--card)}
.key i{display:inline-block;width:12px;height:12px;border-radius:6px;margin-right:6px;vertical-align:-1px}
th.label{text-transform:none;letter-spacing:0;font-size:13px}
.delta{font-size:12.5px;color:var(--muted)}
.delta.good{color:var(--good)}
.delta.bad{color:var(--bad)}
"#;

fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// Renders `whatif.html`: one self-contained page.
pub fn to_whatif_html(r: &WhatifReport) -> String {
    let mut s = String::with_capacity(48 * 1024);
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light dark\">\n\
         <title>{} · windtunnel what-if</title>\n<style>{BASE_STYLE}{STYLE}</style>\n</head>\n<body>\n<main>\n\
         <header>\n<div class=\"brand\">windtunnel what-if</div>\n<h1>{}</h1>\n<p class=\"note\">{}</p>\n</header>\n",
        xml(&r.scenario),
        xml(&r.scenario),
        xml(&method_note(r))
    );
    html_table(&mut s, r);
    if r.has_frontier() {
        frontier_chart(&mut s, r, FrontierKind::Quality);
        frontier_chart(&mut s, r, FrontierKind::Sla);
    }
    html_paired_vs_unpaired(&mut s, r);
    html_variants(&mut s, r);
    let _ = write!(
        s,
        "<footer>windtunnel what-if · schema version {} · the same scenario, seeds and binary render this page \
         byte for byte.</footer>\n</main>\n</body>\n</html>\n",
        r.schema_version
    );
    s
}

/// `good` when the paired interval lies wholly on the better side of zero,
/// `bad` on the worse side, nothing when it holds zero (or is absent).
fn verdict_class(better: Better, d: &Difference) -> &'static str {
    let Some(p) = &d.paired else { return "" };
    let (below, above) = (p.high < 0.0, p.low > 0.0);
    match better {
        Better::Lower if below => " good",
        Better::Lower if above => " bad",
        Better::Higher if above => " good",
        Better::Higher if below => " bad",
        _ => "",
    }
}

fn html_table(s: &mut String, r: &WhatifReport) {
    let _ = write!(
        s,
        "<section><h2>Means and differences</h2><p class=\"note\">Mean over the seeds; under it, Δ to <code>{}</code> \
         and its paired {:.0}% interval, green when it is wholly on the better side of zero, red on the worse.</p>\
         <div class=\"scroll\"><table><thead><tr><th>metric</th>",
        xml(r.baseline()),
        r.confidence * 100.0
    );
    for (i, v) in r.variants.iter().enumerate() {
        let _ = write!(
            s,
            "<th class=\"num label\"><span class=\"key\"><i style=\"background:{}\"></i></span>{}</th>",
            colour(i),
            xml(&v.label)
        );
    }
    s.push_str("</tr></thead><tbody>");
    for m in &r.metrics {
        let f = Fmt::for_row(m);
        let _ = write!(s, "<tr><td>{}</td>", m.metric.title());
        for v in &m.variants {
            let _ = write!(s, "<td class=\"num\">{}", xml(&f.value(v.mean)));
            if let Some(d) = &v.diff {
                let ci = d.paired.as_ref().map(|p| format!(" {}", f.interval(p))).unwrap_or_default();
                let _ = write!(
                    s,
                    "<div class=\"delta{}\">Δ {}{}</div>",
                    verdict_class(m.better, d),
                    xml(&f.signed(d.mean)),
                    xml(&ci)
                );
            }
            s.push_str("</td>");
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table></div></section>\n");
}

fn html_paired_vs_unpaired(s: &mut String, r: &WhatifReport) {
    if r.seeds.len() < 2 {
        return;
    }
    let _ = write!(
        s,
        "<section><h2>Paired and unpaired intervals</h2><p class=\"note\">Half-widths of the {:.0}% intervals of each \
         difference to <code>{}</code>: paired (per-seed differences, common random numbers) and unpaired (Welch, as \
         if the runs were independent). The ratio is how much wider the unpaired interval is.</p>\
         <div class=\"scroll\"><table><thead><tr><th>metric</th><th>variant</th><th class=\"num\">Δ</th>\
         <th class=\"num\">paired</th><th class=\"num\">unpaired</th><th class=\"num\">ratio</th></tr></thead><tbody>",
        r.confidence * 100.0,
        xml(r.baseline())
    );
    for m in &r.metrics {
        let f = Fmt::for_row(m);
        for v in &m.variants {
            let Some(d) = &v.diff else { continue };
            let (Some(p), Some(u)) = (&d.paired, &d.unpaired) else { continue };
            let _ = write!(
                s,
                "<tr><td>{}</td><td><code>{}</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                m.metric.title(),
                xml(&v.variant),
                xml(&f.signed(d.mean)),
                xml(&f.half(p)),
                xml(&f.half(u)),
                width_ratio(p, u)
            );
        }
    }
    s.push_str("</tbody></table></div></section>\n");
}

fn html_variants(s: &mut String, r: &WhatifReport) {
    s.push_str(
        "<section><h2>Variants</h2><div class=\"scroll\"><table><thead><tr><th>variant</th><th>policy</th>\
         <th>settings</th></tr></thead><tbody>",
    );
    for (i, v) in r.variants.iter().enumerate() {
        let sets: Vec<String> = v.sets.iter().map(|x| format!("<code>{}</code>", xml(x))).collect();
        let sets = if sets.is_empty() { "—".to_string() } else { sets.join(" ") };
        let _ = write!(
            s,
            "<tr><td><span class=\"key\"><i style=\"background:{}\"></i></span>{}</td><td><code>{}</code></td>\
             <td>{sets}</td></tr>",
            colour(i),
            xml(&v.label),
            xml(&v.policy)
        );
    }
    s.push_str("</tbody></table></div></section>\n");
}

// === Frontier charts ===

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FrontierKind {
    Quality,
    Sla,
}

/// An axis over the data range `[lo, hi]` padded by a twentieth on each
/// side, on round ticks; never below zero when the data are not.
fn padded_axis(lo: f64, hi: f64, target: usize) -> (f64, f64, Vec<f64>) {
    let span = hi - lo;
    let pad = if span > 0.0 {
        span / 20.0
    } else if hi != 0.0 {
        hi.abs() / 20.0
    } else {
        0.5
    };
    let (mut a, b) = (lo - pad, hi + pad);
    if lo >= 0.0 && a < 0.0 {
        a = 0.0;
    }
    let step = nice_step((b - a) / target as f64);
    let first = (a / step + 1e-9).floor() as i64;
    let last = (b / step - 1e-9).ceil() as i64;
    let ticks = (first..=last).map(|i| i as f64 * step).collect();
    (first as f64 * step, last as f64 * step, ticks)
}

/// The smallest and largest of `values`.
fn extent(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)))
}

/// The label drawn beside a point: the swept value, or the variant's label.
fn point_label(r: &WhatifReport, i: usize, variant: &str) -> String {
    let text = r.sweep.as_ref().and_then(|s| s.values.get(i)).map_or(variant, String::as_str);
    if text.chars().count() > CHART_LABEL_CHARS {
        let cut: String = text.chars().take(CHART_LABEL_CHARS - 1).collect();
        format!("{cut}…")
    } else {
        text.to_string()
    }
}

fn frontier_chart(s: &mut String, r: &WhatifReport, kind: FrontierKind) {
    let (points, title, y_title, scale, class) = match kind {
        FrontierKind::Quality => (&r.frontier.quality, "Cost–quality frontier", "mean quality", 1.0, "quality"),
        FrontierKind::Sla => {
            (&r.frontier.sla_violation_rate, "Cost–SLA frontier", "SLA violation rate (%)", 100.0, "sla")
        }
    };
    if points.is_empty() {
        return;
    }
    // The chart is wide and short: more ticks across than up.
    let (lo, hi) = extent(points.iter().map(|p| p.cost_usd));
    let (x0, x1, x_ticks) = padded_axis(lo, hi, 8);
    let (lo, hi) = extent(points.iter().map(|p| p.value * scale));
    let (y0, y1, y_ticks) = padded_axis(lo, hi, 5);
    let mut c = Chart::new((x0, x1), (y0, y1), false);
    let yd = decimals(y_ticks.get(1).zip(y_ticks.first()).map_or(1.0, |(b, a)| b - a));
    let xd = decimals(x_ticks.get(1).zip(x_ticks.first()).map_or(1.0, |(b, a)| b - a));
    c.y_axis(&y_ticks, |v| format!("{v:.yd$}"), y_title);
    let mut g = String::new();
    // The sweep's path, in sweep order: how the swept value moves the point.
    if r.sweep.is_some() && points.len() >= 2 {
        let mut d = String::new();
        for (i, p) in points.iter().enumerate() {
            let _ = write!(d, "{}{:.1},{:.1}", if i == 0 { "M" } else { "L" }, c.px(p.cost_usd), c.py(p.value * scale));
        }
        let _ = write!(g, "<path class=\"path\" d=\"{d}\" fill=\"none\" stroke-width=\"1\"/>");
    }
    // The Pareto frontier, cheapest first.
    let mut front: Vec<&FrontierPoint> = points.iter().filter(|p| p.pareto).collect();
    front.sort_by(|a, b| a.cost_usd.total_cmp(&b.cost_usd).then(a.value.total_cmp(&b.value)));
    if front.len() >= 2 {
        let mut d = String::new();
        for (i, p) in front.iter().enumerate() {
            let _ = write!(d, "{}{:.1},{:.1}", if i == 0 { "M" } else { "L" }, c.px(p.cost_usd), c.py(p.value * scale));
        }
        let _ = write!(
            g,
            "<path d=\"{d}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2.5\" stroke-linejoin=\"round\" \
             stroke-opacity=\"0.55\"/>",
            PALETTE[0]
        );
    }
    let value_text = |v: f64| match kind {
        FrontierKind::Quality => format!("quality {v:.4}"),
        FrontierKind::Sla => format!("SLA violation rate {:.3}%", v * 100.0),
    };
    let mid = (c.px(x0) + c.px(x1)) / 2.0;
    for (i, p) in points.iter().enumerate() {
        let (x, y) = (c.px(p.cost_usd), c.py(p.value * scale));
        let fill = if p.pareto { format!("fill=\"{}\"", colour(i)) } else { "class=\"hollow\"".to_string() };
        let tip = format!(
            "{}: cost ${:.6}, {} ({})",
            p.variant,
            p.cost_usd,
            value_text(p.value),
            if p.pareto { "Pareto-optimal" } else { "dominated" }
        );
        let (anchor, dx) = if x > mid { ("end", -9.0) } else { ("start", 9.0) };
        // Neighbours (in a sweep, the next value) label on opposite sides, so close points stay legible.
        let dy = if i % 2 == 0 { -7.0 } else { 16.0 };
        let _ = write!(
            g,
            "<g><title>{}</title><circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"5.5\" {fill} stroke=\"{}\" \
             stroke-width=\"2\"/><text class=\"point\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{}</text></g>",
            xml(&tip),
            colour(i),
            x + dx,
            y + dy,
            xml(&point_label(r, i, &p.variant))
        );
    }
    c.push(&g);
    c.x_axis(&x_ticks, |v| format!("${v:.xd$}"), "mean cost (USD)");
    let better = match kind {
        FrontierKind::Quality => "up and to the left is better",
        FrontierKind::Sla => "down and to the left is better",
    };
    let swept = r
        .sweep
        .as_ref()
        .map(|sw| format!(" The dashed line follows <code>{}</code> in sweep order.", xml(&sw.key)))
        .unwrap_or_default();
    let _ = write!(
        s,
        "<section><h2>{title}</h2><p class=\"note\">Each variant's mean over the seeds; {better}. Filled points are \
         Pareto-optimal (no other variant is at least as cheap and at least as good), joined cheapest first; hollow \
         points are dominated.{swept}</p><div class=\"panel\">{}<div class=\"legend\">",
        c.finish(class, title)
    );
    for (i, v) in r.variants.iter().enumerate() {
        let _ = write!(s, "<span class=\"key\"><i style=\"background:{}\"></i>{}</span>", colour(i), xml(&v.label));
    }
    s.push_str("</div></div></section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interval(mean: f64, half: f64) -> Option<Interval> {
        Some(Interval { low: mean - half, high: mean + half, half_width: half, df: Some(4.0) })
    }

    fn sample() -> WhatifReport {
        let labels = ["base <b>", "cheap|er", "x=0.7"];
        let metrics = Metric::ALL
            .iter()
            .map(|&metric| MetricResult {
                metric,
                better: metric.better(),
                variants: labels
                    .iter()
                    .enumerate()
                    .map(|(i, l)| VariantStats {
                        variant: l.to_string(),
                        mean: 1.5 + i as f64 * 0.1,
                        sd: Some(0.2),
                        values: vec![1.5 + i as f64 * 0.1; 5],
                        diff: (i > 0).then(|| Difference {
                            mean: i as f64 * 0.1,
                            paired: interval(i as f64 * 0.1, 0.004),
                            unpaired: interval(i as f64 * 0.1, 0.25),
                        }),
                    })
                    .collect(),
            })
            .collect();
        let point = |i: usize, value: f64, pareto| FrontierPoint {
            variant: labels[i].to_string(),
            cost_usd: 1.5 + i as f64 * 0.1,
            value,
            pareto,
        };
        WhatifReport {
            schema_version: WHATIF_SCHEMA_VERSION,
            scenario: "s<1>".to_string(),
            seeds: vec![7, 8, 9, 10, 11],
            confidence: 0.95,
            variants: labels
                .iter()
                .map(|l| WhatifVariant { label: l.to_string(), policy: "p.rhai".into(), sets: vec![] })
                .collect(),
            sweep: None,
            metrics,
            frontier: Frontier {
                quality: vec![point(0, 0.8, true), point(1, 0.9, true), point(2, 0.85, false)],
                sla_violation_rate: vec![point(0, 0.01, true), point(1, 0.02, false), point(2, 0.03, false)],
            },
        }
    }

    #[test]
    fn rows_share_decimals_enough_for_the_narrowest_interval() {
        let r = sample();
        let cost = Fmt::for_row(&r.metrics[0]);
        assert_eq!(cost.decimals, 4);
        assert_eq!(cost.value(1.6), "$1.6000");
        assert_eq!(cost.signed(-0.0061), "-$0.0061");
        assert_eq!(cost.signed(0.00001), "$0.0000");
        let rate = Fmt { unit: Unit::Rate, decimals: 2 };
        assert_eq!(rate.value(0.0021), "0.21%");
        assert_eq!(rate.signed(0.0005), "+0.05 pp");
        assert_eq!(decimals_for(0.00041, 2), 5);
        assert_eq!(decimals_for(1234.0, 2), 0);
    }

    #[test]
    fn json_keys_metrics_by_name_in_table_order() {
        let json = to_whatif_json(&sample()).unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
        let names: Vec<&str> = v["metrics"].as_object().map(|m| m.keys().map(String::as_str).collect()).unwrap();
        // serde_json's map is sorted, so compare as sets and check the text order separately.
        assert_eq!(names.len(), Metric::ALL.len());
        let at = |k: &str| json.find(&format!("\"{k}\": {{")).unwrap();
        assert!(at("cost_usd") < at("cost_per_success_usd") && at("p99_ms") < at("quality"));
        assert_eq!(v["metrics"]["cost_usd"]["variants"][1]["diff"]["paired"]["half_width"], 0.004);
        assert!(v["metrics"]["quality"]["variants"][0]["diff"].is_null());
        assert_eq!(v["metrics"]["quality"]["better"], "higher");
    }

    #[test]
    fn markdown_escapes_labels_and_shows_paired_deltas() {
        let md = to_whatif_markdown(&sample());
        assert!(md.contains("| metric | `base <b>` | `cheap\\|er` | `x=0.7` |"), "{md}");
        assert!(md.contains("| cost | $1.5000 | $1.6000 (Δ +$0.1000 [+$0.0960, +$0.1040]) |"), "{md}");
        assert!(md.contains("| ±$0.0040 | ±$0.2500 | 62.5× |"), "{md}");
        assert!(md.contains("## Frontier"));
        assert!(md.contains("5 seeds (7–11)"));
    }

    #[test]
    fn html_is_escaped_and_draws_both_frontiers() {
        let html = to_whatif_html(&sample());
        assert!(!html.contains("<b>") && html.contains("base &lt;b&gt;"));
        assert!(!html.contains("s<1>"));
        assert_eq!(html.matches("<svg class=\"chart").count(), 2);
        assert!(!html.contains("http"), "no network");
        assert_eq!(to_whatif_html(&sample()), html, "deterministic");
        let mut two = sample();
        two.variants.truncate(2);
        assert_eq!(to_whatif_html(&two).matches("<svg").count(), 0, "two variants draw no frontier");
    }

    #[test]
    fn axes_are_padded_and_round() {
        let (lo, hi, ticks) = padded_axis(0.82, 0.93, 5);
        assert!((lo - 0.80).abs() < 1e-9 && (hi - 0.95).abs() < 1e-9, "{lo} {hi}");
        assert_eq!(ticks.len(), 4);
        let (lo, hi, _) = padded_axis(0.0, 0.0, 5);
        assert_eq!((lo, hi), (0.0, 0.5), "rates never go below zero");
    }
}
