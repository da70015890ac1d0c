//! `whatif`: several variants of one scenario (policies, `--set` edits, the
//! points of a parameter sweep) run on the same seeds, and per metric each
//! variant's mean and its difference to the first variant with a 95%
//! confidence interval.
//!
//! It owns the fan-out (variants × seeds, optionally on several threads), the
//! statistics (means, paired and Welch intervals, the Student t quantile),
//! sweep expansion and the Pareto marks of the frontier. What a metric reads
//! from a report, the output's shape and its rendering belong to
//! `windtunnel-report` ([`WhatifReport`]).
//!
//! # Why paired differences
//! SPEC's randomness contract makes a seed fix the world a run meets:
//! arrivals, fault windows and every draw a request makes on an endpoint come
//! from streams named by seed and purpose, never by policy (common random
//! numbers). Variant k and the baseline run under one seed therefore face the
//! same busy minutes, the same outage and the same slow answers, and their
//! difference `d_i = x_k,i − x_0,i` within seed i is a *pair* from which that
//! seed's luck cancels. Its variance is
//! `Var(x_k) + Var(x_0) − 2 Cov(x_k, x_0)`, and the covariance is large and
//! positive: a seed with a longer trace costs more under every policy. The
//! unpaired (Welch) interval treats the runs as independent and keeps the
//! covariance in, so it is wider, often by an order of magnitude, and needs
//! the square of that ratio more seeds to tell the same two policies apart.
//! Both are reported, so the gain is visible.
//!
//! # Statistics
//! - Mean over the n seeds; sample standard deviation (n − 1 in the denominator).
//! - Paired: `d̄ ± t(0.975, n − 1) · s_d / √n`.
//! - Unpaired (Welch): `(x̄_k − x̄_0) ± t(0.975, ν) · √(s_k²/n + s_0²/n)`, ν by
//!   Welch–Satterthwaite (fractional).
//! - One seed: no spread to estimate, so intervals are absent (`null`), never NaN.
//! - [`t_quantile`]: Hill's approximation (CACM Algorithm 396, 1970) as a
//!   start, polished by Newton steps on the exact Student t distribution
//!   (a regularized incomplete beta function), so small and fractional degrees
//!   of freedom are exact to about 1e-12, not just Hill's 1e-4.
//!
//! # Memory
//! A run's report (tens of kilobytes with its chart series) is dropped as
//! soon as its [`Metric`] figures are read: the comparison keeps eight
//! numbers per (variant, seed), which `whatif.json` lists anyway (each
//! metric's `values`). That is linear in variants × seeds, so their product
//! is capped at `MAX_RUNS` (a million runs: tens of megabytes, and days of
//! replay).
//!
//! # Determinism
//! Every run is a pure function of its scenario and seed, results are stored
//! by (seed, variant) index whatever thread produced them, and the statistics
//! are computed afterwards in a fixed order: the output does not depend on
//! `jobs`.

use crate::{Fold, RunError, RunOptions};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use thiserror::Error;
use windtunnel_config::Scenario;
use windtunnel_report::{
    Difference, Frontier, FrontierPoint, Interval, Metric, MetricResult, SweepAxis, VariantStats,
    WHATIF_SCHEMA_VERSION, WhatifReport, WhatifVariant,
};

/// Confidence level of every interval.
pub const CONFIDENCE: f64 = 0.95;

/// Most points a sweep may expand to: each point is a variant run on every
/// seed, and a chart with more labels than this is unreadable anyway.
pub const MAX_SWEEP_POINTS: usize = 100;

/// Most runs (variants × seeds) a comparison may make: each keeps its
/// figures in memory and in `whatif.json`.
pub(crate) const MAX_RUNS: u64 = 1_000_000;

/// Most decimals a sweep bound or step may have: sweep values are computed in
/// integers scaled by 10^decimals (exact, no float drift), and 12 keeps every
/// product far inside i128.
const MAX_SWEEP_DECIMALS: u32 = 12;

/// One column of the comparison.
#[derive(Clone, Debug)]
pub struct Variant {
    /// Column title (policy file stem, `--set` text); unique among the variants.
    pub label: String,
    /// The scenario as this variant runs it (policy and overrides applied).
    /// Its seed is ignored: every variant runs on the first variant's seeds.
    pub scenario: Scenario,
    /// The `KEY=VALUE` edits that make this variant, for the report.
    pub sets: Vec<String>,
}

/// Options of [`whatif`].
#[derive(Default)]
pub struct WhatifOptions<'a> {
    /// Runs at a time; 0 and 1 both mean one. The result does not depend on it.
    pub jobs: usize,
    /// The sweep the variants came from, recorded in the report.
    pub sweep: Option<&'a Sweep>,
    /// Called after every run with (runs finished, runs in all), on the calling thread.
    pub progress: Option<&'a mut dyn FnMut(u64, u64)>,
}

/// Why a comparison could not be carried out.
#[derive(Debug, Error)]
pub enum WhatifError {
    /// Fewer than two variants: nothing to compare.
    #[error("whatif needs at least two variants, found {found}")]
    TooFewVariants {
        /// How many were given.
        found: usize,
    },
    /// Zero seeds.
    #[error("whatif needs at least one seed, found 0")]
    NoSeeds,
    /// More than a million runs (variants × seeds): each keeps its figures.
    #[error(
        "{variants} variants × {seeds} seeds make more than {MAX_RUNS} runs, the most one comparison keeps; \
         use fewer seeds"
    )]
    TooManyRuns {
        /// Variants.
        variants: usize,
        /// Seeds.
        seeds: u64,
    },
    /// One run failed (a policy that does not load, a bad trace line).
    #[error("variant `{variant}`, seed {seed}")]
    Run {
        /// The variant's label.
        variant: String,
        /// The seed.
        seed: u64,
        /// What went wrong (boxed: a run error is large, and this one is rare).
        #[source]
        source: Box<RunError>,
    },
}

/// Runs every variant on `seeds` seeds (the first variant's seed and the
/// `seeds − 1` after it, the same for all) and compares them to the first.
pub fn whatif(variants: &[Variant], seeds: u64, opts: WhatifOptions<'_>) -> Result<WhatifReport, WhatifError> {
    let Some(first) = variants.first().filter(|_| variants.len() >= 2) else {
        return Err(WhatifError::TooFewVariants { found: variants.len() });
    };
    if seeds == 0 {
        return Err(WhatifError::NoSeeds);
    }
    if (variants.len() as u64).saturating_mul(seeds) > MAX_RUNS {
        return Err(WhatifError::TooManyRuns { variants: variants.len(), seeds });
    }
    let seed_list: Vec<u64> = (0..seeds).map(|i| first.scenario.seed.wrapping_add(i)).collect();
    let runs = run_all(variants, &seed_list, opts.jobs, opts.progress)?;
    let n_variants = variants.len();
    // runs[s * n_variants + v][metric]: one vector per (variant, metric), in seed order.
    let series =
        |v: usize, m: usize| -> Vec<f64> { (0..seed_list.len()).map(|s| runs[s * n_variants + v][m]).collect() };
    let metrics: Vec<MetricResult> = Metric::ALL
        .iter()
        .enumerate()
        .map(|(m, &metric)| {
            let base = series(0, m);
            let stats = variants
                .iter()
                .enumerate()
                .map(|(v, variant)| {
                    let values = series(v, m);
                    let diff = (v > 0).then(|| Difference {
                        mean: mean(&differences(&base, &values)),
                        paired: paired_interval(&base, &values),
                        unpaired: welch_interval(&base, &values),
                    });
                    VariantStats { variant: variant.label.clone(), mean: mean(&values), sd: sd(&values), values, diff }
                })
                .collect();
            MetricResult { metric, better: metric.better(), variants: stats }
        })
        .collect();
    let frontier = frontier(variants, &metrics);
    Ok(WhatifReport {
        schema_version: WHATIF_SCHEMA_VERSION,
        scenario: first.scenario.name.clone(),
        seeds: seed_list,
        confidence: CONFIDENCE,
        variants: variants
            .iter()
            .map(|v| WhatifVariant {
                label: v.label.clone(),
                policy: crate::policy_description(&v.scenario),
                sets: v.sets.clone(),
            })
            .collect(),
        sweep: opts.sweep.map(|s| SweepAxis { key: s.key.clone(), values: s.values.clone() }),
        metrics,
        frontier,
    })
}

// === Fan-out ===

type Figures = [f64; Metric::ALL.len()];

/// Runs task `i` = (seed `i / variants`, variant `i % variants`): seed-major,
/// so the first tasks try every variant once and a policy that does not load
/// fails the comparison at once.
/// `fold`: [`Fold::Auto`] when the workers leave a core free for each run's
/// relay, else [`Fold::Inline`] (see [`fold_for`]).
fn run_one(variants: &[Variant], seeds: &[u64], i: usize, fold: Fold) -> Result<Figures, WhatifError> {
    let (seed, variant) = (seeds[i / variants.len()], &variants[i % variants.len()]);
    let mut scenario = variant.scenario.clone();
    scenario.seed = seed;
    let report = crate::run(&scenario, RunOptions { fold, ..RunOptions::default() })
        .map_err(|source| WhatifError::Run { variant: variant.label.clone(), seed, source: Box::new(source) })?;
    Ok(Metric::ALL.map(|m| m.of(&report)))
}

/// Where `jobs` parallel runs fold their reports: each relays to a core of
/// its own while two cores per run remain, else on its worker's thread.
fn fold_for(jobs: usize) -> Fold {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if jobs.saturating_mul(2) <= cores { Fold::Auto } else { Fold::Inline }
}

/// Every (seed, variant) run's figures, indexed seed-major. On failure, the
/// error of the earliest failed task (the same one whatever `jobs` is, as
/// long as runs fail for reasons of their own).
fn run_all(
    variants: &[Variant],
    seeds: &[u64],
    jobs: usize,
    mut progress: Option<&mut dyn FnMut(u64, u64)>,
) -> Result<Vec<Figures>, WhatifError> {
    let total = variants.len() * seeds.len();
    let mut report = |done: usize| {
        if let Some(p) = progress.as_mut() {
            p(done as u64, total as u64);
        }
    };
    let jobs = jobs.max(1).min(total);
    let fold = fold_for(jobs);
    if jobs == 1 {
        let mut out = Vec::with_capacity(total);
        for i in 0..total {
            out.push(run_one(variants, seeds, i, fold)?);
            report(i + 1);
        }
        return Ok(out);
    }
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<(usize, Result<Figures, WhatifError>)>();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let (next, stop) = (&next, &stop);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    let result = run_one(variants, seeds, i, fold);
                    if result.is_err() {
                        stop.store(true, Ordering::Relaxed);
                    }
                    if tx.send((i, result)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut out: Vec<Option<Figures>> = vec![None; total];
        let mut failed: Option<(usize, WhatifError)> = None;
        let mut done = 0;
        for (i, result) in rx {
            match result {
                Ok(figures) => {
                    out[i] = Some(figures);
                    done += 1;
                    report(done);
                }
                Err(e) if failed.as_ref().is_none_or(|(j, _)| i < *j) => failed = Some((i, e)),
                Err(_) => {}
            }
        }
        if let Some((_, e)) = failed {
            return Err(e);
        }
        // Every task ran and succeeded: no worker stops early without a failure.
        Ok(out.into_iter().flatten().collect())
    })
}

// === Frontier ===

fn frontier(variants: &[Variant], metrics: &[MetricResult]) -> Frontier {
    let means = |metric: Metric| -> Vec<f64> {
        metrics
            .iter()
            .find(|m| m.metric == metric)
            .map(|m| m.variants.iter().map(|v| v.mean).collect())
            .unwrap_or_default()
    };
    let cost = means(Metric::CostUsd);
    let points = |values: Vec<f64>, higher_is_better: bool| -> Vec<FrontierPoint> {
        let marks = pareto(&cost, &values, higher_is_better);
        variants
            .iter()
            .zip(cost.iter().zip(values.iter()).zip(marks))
            .map(|(v, ((&cost_usd, &value), pareto))| FrontierPoint {
                variant: v.label.clone(),
                cost_usd,
                value,
                pareto,
            })
            .collect()
    };
    Frontier {
        quality: points(means(Metric::Quality), true),
        sla_violation_rate: points(means(Metric::SlaViolationRate), false),
    }
}

/// For each point (cost, value): whether no other point is at least as cheap
/// and at least as good, and strictly better in one. Equal points keep each
/// other on the frontier.
fn pareto(cost: &[f64], value: &[f64], higher_is_better: bool) -> Vec<bool> {
    let good = |v: f64| if higher_is_better { v } else { -v };
    (0..cost.len())
        .map(|i| {
            !(0..cost.len()).any(|j| {
                let (cj, ci, vj, vi) = (cost[j], cost[i], good(value[j]), good(value[i]));
                cj <= ci && vj >= vi && (cj < ci || vj > vi)
            })
        })
        .collect()
}

// === Statistics ===

fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() { 0.0 } else { xs.iter().sum::<f64>() / xs.len() as f64 }
}

/// Sample variance (n − 1); `None` below two values.
fn variance(xs: &[f64]) -> Option<f64> {
    if xs.len() < 2 {
        return None;
    }
    let m = mean(xs);
    Some(xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (xs.len() - 1) as f64)
}

fn sd(xs: &[f64]) -> Option<f64> {
    variance(xs).map(f64::sqrt)
}

fn differences(base: &[f64], other: &[f64]) -> Vec<f64> {
    other.iter().zip(base).map(|(x, b)| x - b).collect()
}

fn interval(center: f64, half_width: f64, df: Option<f64>) -> Interval {
    Interval { low: center - half_width, high: center + half_width, half_width, df }
}

/// The paired interval of `other − base`, seed by seed; `None` below two seeds.
fn paired_interval(base: &[f64], other: &[f64]) -> Option<Interval> {
    let d = differences(base, other);
    let n = d.len() as f64;
    let var = variance(&d)?;
    let df = n - 1.0;
    Some(interval(mean(&d), t_quantile(0.5 + CONFIDENCE / 2.0, df) * (var / n).sqrt(), Some(df)))
}

/// Welch's interval of `mean(other) − mean(base)`, ignoring the pairing;
/// `None` below two seeds. With no spread at all the interval is the point
/// and has no degrees of freedom.
fn welch_interval(base: &[f64], other: &[f64]) -> Option<Interval> {
    let (vb, vo) = (variance(base)?, variance(other)?);
    let (nb, no) = (base.len() as f64, other.len() as f64);
    let (sb, so) = (vb / nb, vo / no);
    let se2 = sb + so;
    let center = mean(other) - mean(base);
    if se2 <= 0.0 {
        return Some(interval(center, 0.0, None));
    }
    let df = se2 * se2 / (sb * sb / (nb - 1.0) + so * so / (no - 1.0));
    Some(interval(center, t_quantile(0.5 + CONFIDENCE / 2.0, df) * se2.sqrt(), Some(df)))
}

/// The `p` quantile of Student's t distribution with `df` degrees of freedom
/// (`df` may be fractional; below 1 it is taken as 1; infinite gives the
/// normal quantile). `t_quantile(0.975, 19)` is 2.093.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    if p.is_nan() || df.is_nan() {
        return f64::NAN;
    }
    if p < 0.5 {
        return -t_quantile(1.0 - p, df);
    }
    if p == 0.5 {
        return 0.0;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    if df.is_infinite() {
        return normal_quantile(p);
    }
    let df = df.max(1.0);
    let mut t = hill(2.0 * (1.0 - p), df);
    // Above this Hill is exact to ~1e-12 already and the continued fraction
    // of the incomplete beta needs ~√df terms.
    if df <= NEWTON_MAX_DF {
        for _ in 0..NEWTON_STEPS {
            let step = (t_upper_tail(t, df) - (1.0 - p)) / t_density(t, df);
            let next = t + step;
            if !(next.is_finite() && next > 0.0) {
                break;
            }
            t = next;
            if step.abs() <= 1e-14 * t {
                break;
            }
        }
    }
    t
}

/// Degrees of freedom up to which [`t_quantile`] polishes Hill's value.
const NEWTON_MAX_DF: f64 = 1000.0;

/// Newton steps at most: Hill starts within 1% (within 1e-4 from 3 df up),
/// so three reach machine precision; two more are a margin.
const NEWTON_STEPS: usize = 5;

/// Hill's Algorithm 396: the t quantile for the two-tailed probability `p2`
/// (exact for 1 and 2 degrees of freedom).
fn hill(p2: f64, n: f64) -> f64 {
    use std::f64::consts::{FRAC_PI_2, PI};
    if n == 1.0 {
        let a = p2 * FRAC_PI_2;
        return a.cos() / a.sin();
    }
    if n == 2.0 {
        return (2.0 / (p2 * (2.0 - p2)) - 2.0).sqrt();
    }
    let a = 1.0 / (n - 0.5);
    let b = 48.0 / (a * a);
    let mut c = ((20700.0 * a / b - 98.0) * a - 16.0) * a + 96.36;
    let d = ((94.5 / (b + c) - 3.0) / b + 1.0) * (a * PI / 2.0).sqrt() * n;
    let x = d * p2;
    let mut y = x.powf(2.0 / n);
    if y > 0.05 + a {
        // Asymptotic inverse expansion about the normal quantile.
        let x = normal_quantile(1.0 - p2 / 2.0);
        y = x * x;
        if n < 5.0 {
            c += 0.3 * (n - 4.5) * (x + 0.6);
        }
        c += (((0.05 * d * x - 5.0) * x - 7.0) * x - 2.0) * x + b;
        y = (((((0.4 * y + 6.3) * y + 36.0) * y + 94.5) / c - y - 3.0) / b + 1.0) * x;
        y = a * y * y;
        y = if y > 0.002 { y.exp() - 1.0 } else { 0.5 * y * y + y };
    } else {
        y = ((1.0 / (((n + 6.0) / (n * y) - 0.089 * d - 0.822) * (n + 2.0) * 3.0) + 0.5 / (n + 4.0)) * y - 1.0)
            * (n + 1.0)
            / (n + 2.0)
            + 1.0 / y;
    }
    (n * y).sqrt()
}

/// The standard normal quantile: Acklam's rational approximation, relative
/// error below 1.2e-9 over (0, 1).
fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e+01,
        2.209460984245205e+02,
        -2.759285104469687e+02,
        1.38357751867269e+02,
        -3.066479806614716e+01,
        2.506628277459239e+00,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e+01,
        1.615858368580409e+02,
        -1.556989798598866e+02,
        6.680131188771972e+01,
        -1.328068155288572e+01,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-03,
        -3.223964580411365e-01,
        -2.400758277161838e+00,
        -2.549732539343734e+00,
        4.374664141464968e+00,
        2.938163982698783e+00,
    ];
    const D: [f64; 4] = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00];
    /// Where the central rational function hands over to the tail one.
    const P_LOW: f64 = 0.02425;
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p <= 0.0 {
        f64::NEG_INFINITY
    } else if p >= 1.0 {
        f64::INFINITY
    } else if p < P_LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p <= 1.0 - P_LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    }
}

/// P(T > t) for t ≥ 0: `I_x(df/2, 1/2) / 2` with `x = df / (df + t²)`.
fn t_upper_tail(t: f64, df: f64) -> f64 {
    0.5 * regularized_beta(df / 2.0, 0.5, df / (df + t * t))
}

/// The density of Student's t.
fn t_density(t: f64, df: f64) -> f64 {
    (ln_gamma((df + 1.0) / 2.0)
        - ln_gamma(df / 2.0)
        - 0.5 * (df * std::f64::consts::PI).ln()
        - (df + 1.0) / 2.0 * (t * t / df).ln_1p())
    .exp()
}

/// ln Γ(x) for x > 0: Lanczos (g = 7, nine terms), relative error ~1e-15.
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    use std::f64::consts::PI;
    if x < 0.5 {
        // Reflection: Γ(x) Γ(1 − x) = π / sin(πx).
        return (PI / (PI * x).sin().abs()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let a = G.iter().enumerate().skip(1).fold(G[0], |a, (i, g)| a + g / (x + i as f64));
    0.5 * (2.0 * PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The regularized incomplete beta function I_x(a, b), by its continued
/// fraction on whichever side converges fast.
fn regularized_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front = (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (-x).ln_1p()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_fraction(b, a, 1.0 - x) / b
    }
}

/// The continued fraction of the incomplete beta function (modified Lentz).
fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    /// Terms at most: convergence takes about √max(a, b) terms, and a is at
    /// most [`NEWTON_MAX_DF`] / 2 here.
    const MAX_TERMS: u32 = 10_000;
    /// Stands in for a zero denominator, as Lentz's method prescribes.
    const TINY: f64 = 1e-300;
    let nonzero = |v: f64| if v.abs() < TINY { TINY } else { v };
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 / nonzero(1.0 - qab * x / qap);
    let mut h = d;
    for m in 1..=MAX_TERMS {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 / nonzero(1.0 + aa * d);
        c = nonzero(1.0 + aa / c);
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 / nonzero(1.0 + aa * d);
        c = nonzero(1.0 + aa / c);
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

// === Sweep ===

/// `KEY=A..B:STEP`: one variant per value `A, A + STEP, …` up to `B`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sweep {
    key: String,
    values: Vec<String>,
}

/// A `--sweep` argument that cannot be expanded.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SweepError {
    /// Not `KEY=A..B:STEP`.
    #[error("sweep `{arg}`: expected KEY=A..B:STEP, e.g. policy.min_quality=0.6..0.9:0.05")]
    Syntax {
        /// The argument.
        arg: String,
    },
    /// A bound or the step is not a plain decimal number.
    #[error(
        "sweep `{arg}`: `{found}` is not a decimal number (expected digits with an optional sign and point, at most {MAX_SWEEP_DECIMALS} decimals)"
    )]
    Number {
        /// The argument.
        arg: String,
        /// The part that is not a number.
        found: String,
    },
    /// STEP is zero or negative.
    #[error("sweep `{arg}`: STEP must be above 0, found `{found}`")]
    Step {
        /// The argument.
        arg: String,
        /// The step as given.
        found: String,
    },
    /// B below A.
    #[error("sweep `{arg}`: the range ends at `{end}`, below its start `{start}`")]
    Reversed {
        /// The argument.
        arg: String,
        /// A.
        start: String,
        /// B.
        end: String,
    },
    /// More than [`MAX_SWEEP_POINTS`] values.
    #[error("sweep `{arg}`: {count} values, at most {MAX_SWEEP_POINTS}; use a larger STEP")]
    TooMany {
        /// The argument.
        arg: String,
        /// How many values it makes.
        count: u128,
    },
}

impl Sweep {
    /// Parses and expands `KEY=A..B:STEP`. Values are computed exactly in
    /// decimal (`0.6..0.9:0.05` gives `0.6, 0.65, …, 0.9`, never
    /// `0.6500000000000001`) and printed without trailing zeros.
    pub fn parse(arg: &str) -> Result<Sweep, SweepError> {
        let syntax = || SweepError::Syntax { arg: arg.to_string() };
        let (key, range) = arg.split_once('=').ok_or_else(syntax)?;
        let (start, rest) = range.split_once("..").ok_or_else(syntax)?;
        let (end, step) = rest.split_once(':').ok_or_else(syntax)?;
        let key = key.trim();
        if key.is_empty() {
            return Err(syntax());
        }
        let number = |s: &str| {
            Decimal::parse(s.trim()).ok_or_else(|| SweepError::Number { arg: arg.to_string(), found: s.to_string() })
        };
        let (a, b, s) = (number(start)?, number(end)?, number(step)?);
        let scale = a.scale.max(b.scale).max(s.scale);
        let (a_i, b_i, s_i) = (a.at_scale(scale), b.at_scale(scale), s.at_scale(scale));
        if s_i <= 0 {
            return Err(SweepError::Step { arg: arg.to_string(), found: step.trim().to_string() });
        }
        if b_i < a_i {
            return Err(SweepError::Reversed {
                arg: arg.to_string(),
                start: start.trim().to_string(),
                end: end.trim().to_string(),
            });
        }
        let count = (b_i - a_i) / s_i + 1;
        if count > MAX_SWEEP_POINTS as i128 {
            return Err(SweepError::TooMany { arg: arg.to_string(), count: count.unsigned_abs() });
        }
        let values = (0..count).map(|i| format_decimal(a_i + i * s_i, scale)).collect();
        Ok(Sweep { key: key.to_string(), values })
    }

    /// The swept key (`policy.min_quality`).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The values, in order, as they go to `--set`.
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// The `KEY=VALUE` override of each value, in order.
    pub fn sets(&self) -> Vec<String> {
        self.values.iter().map(|v| format!("{}={v}", self.key)).collect()
    }
}

/// A decimal number as an integer and a power of ten: `-0.65` is (−65, 2).
#[derive(Clone, Copy, Debug)]
struct Decimal {
    digits: i128,
    scale: u32,
}

impl Decimal {
    /// `[+-]digits[.digits]`, at most [`MAX_SWEEP_DECIMALS`] decimals and 18 integer digits.
    fn parse(s: &str) -> Option<Decimal> {
        let (negative, body) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        let all_digits = |t: &str| t.chars().all(|c| c.is_ascii_digit());
        if int.is_empty() && frac.is_empty()
            || !all_digits(int)
            || !all_digits(frac)
            || int.len() > 18
            || frac.len() > MAX_SWEEP_DECIMALS as usize
        {
            return None;
        }
        let digits = int.chars().chain(frac.chars()).fold(0i128, |n, c| n * 10 + i128::from(c as u8 - b'0'));
        Some(Decimal { digits: if negative { -digits } else { digits }, scale: frac.len() as u32 })
    }

    fn at_scale(self, scale: u32) -> i128 {
        self.digits * 10i128.pow(scale - self.scale)
    }
}

/// `v / 10^scale` in plain decimal, without trailing zeros: (650, 3) → `0.65`, (1000, 3) → `1`.
fn format_decimal(v: i128, scale: u32) -> String {
    let unit = 10i128.pow(scale);
    let (int, frac) = (v.abs() / unit, v.abs() % unit);
    let sign = if v < 0 { "-" } else { "" };
    if frac == 0 {
        return format!("{sign}{int}");
    }
    let frac = format!("{frac:0width$}", width = scale as usize);
    format!("{sign}{int}.{}", frac.trim_end_matches('0'))
}

#[cfg(test)]
mod tests;
