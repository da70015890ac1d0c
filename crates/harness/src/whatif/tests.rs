//! Unit tests of `whatif`: the t quantile against tables, paired and Welch
//! intervals on synthetic numbers, Pareto marks, sweep expansion, and a small
//! real comparison.

use super::*;
use std::path::Path;
use windtunnel_config::parse_scenario;
use windtunnel_report::to_whatif_json;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn t_quantile_matches_tables() {
    // Two-sided 95% (p = 0.975) and 99% (p = 0.995), from standard tables.
    for (df, t) in [
        (1.0, 12.706_204_736),
        (2.0, 4.302_652_730),
        (3.0, 3.182_446_305),
        (4.0, 2.776_445_105),
        (5.0, 2.570_581_836),
        (10.0, 2.228_138_852),
        (19.0, 2.093_024_054),
        (30.0, 2.042_272_456),
        (120.0, 1.979_930_405),
    ] {
        let got = t_quantile(0.975, df);
        assert!(close(got, t, 1e-8), "t(0.975, {df}) = {got}, expected {t}");
    }
    assert!(close(t_quantile(0.995, 5.0), 4.032_142_984, 1e-8));
    assert!(close(t_quantile(0.995, 19.0), 2.860_934_606, 1e-8));
    assert!(close(t_quantile(0.9995, 1.0), 636.619_248_8, 1e-5));
    // The brief's three-decimal values, and the normal limit.
    assert_eq!(format!("{:.3}", t_quantile(0.975, 1.0)), "12.706");
    assert_eq!(format!("{:.3}", t_quantile(0.975, 5.0)), "2.571");
    assert_eq!(format!("{:.3}", t_quantile(0.975, 19.0)), "2.093");
    assert_eq!(format!("{:.3}", t_quantile(0.975, 1e7)), "1.960");
    assert!(close(t_quantile(0.975, f64::INFINITY), 1.959_963_985, 1e-8));
    assert!(close(normal_quantile(0.995), 2.575_829_304, 1e-8));
    assert!(close(normal_quantile(0.001), -3.090_232_306, 1e-8));
}

#[test]
fn t_quantile_handles_fractional_df_and_symmetry() {
    // Welch's degrees of freedom are fractional: between the neighbours, and
    // exact by the distribution function itself.
    for df in [1.3, 2.5, 3.7, 17.25] {
        let t = t_quantile(0.975, df);
        assert!(t < t_quantile(0.975, df.floor()) && t > t_quantile(0.975, df.ceil()), "df {df}: {t}");
        assert!(close(t_upper_tail(t, df), 0.025, 1e-12), "df {df}");
    }
    assert!(close(t_quantile(0.975, 2.5), 3.574_654_842, 1e-8));
    // Student's t table: t(0.025, 7) = -2.364624.
    assert!(close(t_quantile(0.025, 7.0), -2.364_624_252, 1e-8));
    assert_eq!(t_quantile(0.5, 3.0), 0.0);
}

#[test]
fn paired_interval_is_narrower_when_the_noise_is_shared() {
    // A world that varies a lot from seed to seed, and a variant that is
    // steadily 0.1 dearer with a little noise of its own.
    let base = [10.0, 14.0, 9.0, 12.5, 11.0, 13.0];
    let noise = [0.01, -0.02, 0.015, 0.0, -0.01, 0.005];
    let other: Vec<f64> = base.iter().zip(noise).map(|(b, e)| b + 0.1 + e).collect();
    let paired = paired_interval(&base, &other).unwrap();
    let welch = welch_interval(&base, &other).unwrap();
    assert!(close(paired.low + paired.half_width, 0.1 + mean(&noise), 1e-12));
    assert!(paired.low > 0.0, "the paired interval sees the difference: {paired:?}");
    assert!(welch.low < 0.0, "the unpaired one does not: {welch:?}");
    assert!(paired.half_width * 50.0 < welch.half_width);
    assert_eq!(paired.df, Some(5.0));
    // By hand: s_d of the noise, t(0.975, 5) = 2.5706.
    let s_d = variance(&noise).unwrap().sqrt();
    assert!(close(paired.half_width, 2.570_581_836 * s_d / 6f64.sqrt(), 1e-9));
    // Welch with equal n and equal variances: df = 2(n − 1).
    let shifted: Vec<f64> = base.iter().map(|b| b + 1.0).collect();
    let w = welch_interval(&base, &shifted).unwrap();
    assert!(close(w.df.unwrap(), 10.0, 1e-9), "{w:?}");
}

#[test]
fn one_seed_has_no_interval_and_no_spread_a_point_interval() {
    assert_eq!(paired_interval(&[1.0], &[2.0]), None);
    assert_eq!(welch_interval(&[1.0], &[2.0]), None);
    assert_eq!(sd(&[1.0]), None);
    let w = welch_interval(&[1.0, 1.0], &[2.0, 2.0]).unwrap();
    assert_eq!((w.low, w.high, w.df), (1.0, 1.0, None));
    let p = paired_interval(&[1.0, 3.0], &[2.0, 4.0]).unwrap();
    assert_eq!((p.low, p.high, p.half_width), (1.0, 1.0, 0.0));
}

#[test]
fn pareto_keeps_the_undominated_points() {
    let cost = [1.0, 2.0, 3.0, 2.5, 1.0];
    let quality = [0.80, 0.90, 0.95, 0.85, 0.80];
    assert_eq!(pareto(&cost, &quality, true), [true, true, true, false, true]);
    let sla = [0.05, 0.01, 0.02, 0.01, 0.05];
    assert_eq!(pareto(&cost, &sla, false), [true, true, false, false, true]);
}

#[test]
fn sweeps_expand_exactly() {
    let s = Sweep::parse("policy.min_quality=0.6..0.9:0.05").unwrap();
    assert_eq!(s.key(), "policy.min_quality");
    assert_eq!(s.values(), ["0.6", "0.65", "0.7", "0.75", "0.8", "0.85", "0.9"]);
    let s = Sweep::parse("policy.min_quality=0.7..0.9:0.1").unwrap();
    assert_eq!(s.sets(), ["policy.min_quality=0.7", "policy.min_quality=0.8", "policy.min_quality=0.9"]);
    assert_eq!(Sweep::parse("p.x=0..1:0.3").unwrap().values(), ["0", "0.3", "0.6", "0.9"]);
    assert_eq!(Sweep::parse("p.n=1000..3000:1000").unwrap().values(), ["1000", "2000", "3000"]);
    assert_eq!(Sweep::parse("p.x=-1..1:1").unwrap().values(), ["-1", "0", "1"]);
    assert_eq!(Sweep::parse("p.x=2..2:1").unwrap().values(), ["2"]);
    assert_eq!(Sweep::parse("p.x=1.10..1.3:.1").unwrap().values(), ["1.1", "1.2", "1.3"]);
}

#[test]
fn bad_sweeps_say_what_is_wrong() {
    let err = |a: &str| Sweep::parse(a).unwrap_err().to_string();
    assert_eq!(
        err("policy.x=0.6-0.9"),
        "sweep `policy.x=0.6-0.9`: expected KEY=A..B:STEP, e.g. policy.min_quality=0.6..0.9:0.05"
    );
    assert!(err("p.x=0.6..0.9:1e-2").starts_with("sweep `p.x=0.6..0.9:1e-2`: `1e-2` is not a decimal number"));
    assert_eq!(err("p.x=1..2:0"), "sweep `p.x=1..2:0`: STEP must be above 0, found `0`");
    assert_eq!(err("p.x=2..1:0.5"), "sweep `p.x=2..1:0.5`: the range ends at `1`, below its start `2`");
    assert_eq!(err("p.x=0..1000:1"), "sweep `p.x=0..1000:1`: 1001 values, at most 100; use a larger STEP");
    assert!(matches!(Sweep::parse("=1..2:1"), Err(SweepError::Syntax { .. })));
}

/// Two endpoints with faults; the policy is a fixed chain, set per variant.
const SCENARIO: &str = r#"
name = "pairs"
seed = 11
policy = { chain = ["a/x", "b/y"] }

[trace.synthetic]
rate_per_s = 2
duration = "5m"

[sla.default]
latency_ms = 4000

[[endpoints]]
name = "a/x"
price = { input_per_mtok = 1.0, output_per_mtok = 2.0 }
quality = { mean = 0.8, sd = 0.05 }

[[endpoints.faults]]
kind = "outage"
every = "2m"
lasting = "20s"

[[endpoints]]
name = "b/y"
price = { input_per_mtok = 3.0, output_per_mtok = 6.0 }
quality = { mean = 0.9, sd = 0.03 }
"#;

fn variant(label: &str, sets: &[&str]) -> Variant {
    let overrides: Vec<_> = sets.iter().map(|s| windtunnel_config::Override::parse(s).unwrap()).collect();
    Variant {
        label: label.to_string(),
        scenario: parse_scenario(SCENARIO, Path::new("pairs.toml"), &overrides).unwrap(),
        sets: sets.iter().map(|s| s.to_string()).collect(),
    }
}

#[test]
fn comparison_pairs_seeds_and_does_not_depend_on_jobs() {
    let variants = [
        variant("a first", &[]),
        variant("b first", &[r#"policy={ chain = ["b/y", "a/x"] }"#]),
        variant("a again", &[]),
    ];
    let mut calls = Vec::new();
    let mut progress = |done, total| calls.push((done, total));
    let opts = WhatifOptions { jobs: 1, sweep: None, progress: Some(&mut progress) };
    let one = whatif(&variants, 4, opts).unwrap();
    assert_eq!(calls.last(), Some(&(12, 12)));
    let two = whatif(&variants, 4, WhatifOptions { jobs: 3, ..WhatifOptions::default() }).unwrap();
    assert_eq!(to_whatif_json(&one).unwrap(), to_whatif_json(&two).unwrap(), "jobs change nothing");
    assert_eq!(one.seeds, [11, 12, 13, 14]);
    let cost = &one.metrics[0];
    assert_eq!(cost.metric, Metric::CostUsd);
    // The dearer endpoint first costs more, and the pairs see it.
    let dearer = cost.variants[1].diff.as_ref().unwrap();
    assert!(dearer.paired.as_ref().unwrap().low > 0.0, "{dearer:?}");
    // The same variant again: same world, same runs, a zero-width difference.
    let same = cost.variants[2].diff.as_ref().unwrap();
    assert_eq!((same.mean, same.paired.as_ref().unwrap().half_width), (0.0, 0.0));
    // Frontier: the cheap variant and its twin tie (both stay on it); the dearer
    // one buys quality with its money, so it is on it too.
    let q = &one.frontier.quality;
    assert!(q[1].cost_usd > q[0].cost_usd && q[1].value > q[0].value, "{q:?}");
    assert!(q.iter().all(|p| p.pareto), "{q:?}");
}

#[test]
fn a_failing_run_names_its_variant_and_seed() {
    let mut bad = variant("missing policy", &[]);
    bad.scenario.policy = windtunnel_config::PolicySpec::Script("no/such/policy.rhai".into());
    let err =
        whatif(&[variant("base", &[]), bad], 2, WhatifOptions { jobs: 2, ..WhatifOptions::default() }).unwrap_err();
    assert!(matches!(&err, WhatifError::Run { variant, seed: 11, .. } if variant == "missing policy"), "{err}");
    assert_eq!(err.to_string(), "variant `missing policy`, seed 11");
}

#[test]
fn too_few_variants_or_seeds_are_refused() {
    assert!(matches!(whatif(&[], 3, WhatifOptions::default()), Err(WhatifError::TooFewVariants { found: 0 })));
    let two = [variant("a", &[]), variant("b", &[])];
    assert!(matches!(whatif(&two, 0, WhatifOptions::default()), Err(WhatifError::NoSeeds)));
}

/// Each (variant, seed) keeps its figures: a comparison past a million runs is
/// refused before any run, instead of growing without bound.
#[test]
fn too_many_runs_are_refused_before_running() {
    let two = [variant("a", &[]), variant("b", &[])];
    let mut calls = 0;
    let mut progress = |_, _| calls += 1;
    let opts = WhatifOptions { jobs: 1, sweep: None, progress: Some(&mut progress) };
    let err = whatif(&two, MAX_RUNS / 2 + 1, opts).unwrap_err();
    assert!(matches!(err, WhatifError::TooManyRuns { variants: 2, seeds } if seeds == MAX_RUNS / 2 + 1), "{err}");
    assert_eq!(
        err.to_string(),
        "2 variants × 500001 seeds make more than 1000000 runs, the most one comparison keeps; use fewer seeds"
    );
    assert_eq!(calls, 0, "nothing ran");
    let err = whatif(&two, u64::MAX, WhatifOptions::default()).unwrap_err();
    assert!(matches!(err, WhatifError::TooManyRuns { .. }), "{err}");
}
