//! What building the report adds to a 1 M-request replay, as a ratio.
//!
//! `cargo bench -p windtunnel-harness --bench report_overhead`
//!
//! Replays `scenarios/bench/bench-1m.toml` bare (the event log goes nowhere),
//! whole (`run`: the aggregator and the invariant checker on the log, the
//! report built, assertions evaluated; relayed to a second core when there
//! is one) and whole inline (the same on the replay's thread), in a rotated
//! order round by round, and prints each round's ratios and the medians.
//! Interleaving matters on a shared machine: the speed of the same binary
//! drifts by several percent from minute to minute, which criterion's
//! one-group-after-another timing folds into the difference; runs of one
//! round see the same drift. It also prints the ratio of each kind's fastest
//! run: load from elsewhere only adds time, so on a busy machine the fastest
//! runs are the steadiest estimate. Issue 4's target: `run` as it is by
//! default (relayed, on a machine with two cores) under 1.10. `replay.rs` has the criterion view of
//! the same runs (`report_overhead_1m`).
//!
//! Under `cargo test --benches` it runs one round, as a smoke test.
//! `WT_PARTS=1` times the aggregator and the checker each alone;
//! `WT_ONLY=bare|whole|inline` runs one kind only, for a profiler
//! (`inline`: the report folded on the replay's thread, not relayed).

#![expect(
    clippy::expect_used,
    clippy::unreachable,
    clippy::print_stdout,
    clippy::disallowed_types,
    reason = "a benchmark: it times the replay by the wall clock"
)]

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};
use windtunnel_config::{PolicySpec, Scenario};
use windtunnel_core::{NullSink, PerKind};
use windtunnel_harness::{Fold, RunOptions, replay, run};
use windtunnel_invariants::{InvariantChecker, World};
use windtunnel_report::Aggregator;

fn bare(s: &Scenario) -> Duration {
    with_sink(s, &mut NullSink)
}

fn with_sink(s: &Scenario, sink: &mut impl windtunnel_core::EventSink) -> Duration {
    let PolicySpec::Chain(chain) = &s.policy else { unreachable!("bench-1m is a chain") };
    let t = Instant::now();
    black_box(replay(s, s.chain_limits.planner(chain), sink, None).expect("replay"));
    t.elapsed()
}

// Each sink alone, wrapped as `run` wraps the two (their per-kind work is
// inlined, for `PerKind` to outline once per kind).
fn aggregator_only(s: &Scenario) -> Duration {
    with_sink(s, &mut PerKind(Aggregator::new(s)))
}

fn checker_only(s: &Scenario) -> Duration {
    let facts: Vec<_> = s.endpoints.iter().map(|e| e.facts()).collect();
    with_sink(s, &mut PerKind(InvariantChecker::new(World::from_facts(&facts))))
}

/// `run` with the report folded on the replay's own thread (no relay).
fn whole_inline(s: &Scenario) -> Duration {
    let t = Instant::now();
    black_box(run(s, RunOptions { fold: Fold::Inline, ..RunOptions::default() }).expect("run"));
    t.elapsed()
}

fn whole(s: &Scenario) -> Duration {
    let t = Instant::now();
    black_box(run(s, RunOptions::default()).expect("run"));
    t.elapsed()
}

/// One kind of timed run.
type Timed = fn(&Scenario) -> Duration;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let rounds = if benching { 15 } else { 1 };
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/bench/bench-1m.toml");
    let s = windtunnel_config::load_scenario(&path, &[]).expect("scenarios/bench/bench-1m.toml loads");
    // `WT_ONLY=bare|whole|inline [WT_N=n]`: one kind of run only, n times (default
    // 1), for profilers (`valgrind --tool=callgrind` counts instructions,
    // which this machine's drift does not touch).
    if let Ok(only) = std::env::var("WT_ONLY") {
        let run = match only.as_str() {
            "bare" => bare,
            "whole" => whole,
            "inline" => whole_inline,
            other => unreachable!("WT_ONLY={other}: expected bare, whole or inline"),
        };
        let n: usize = std::env::var("WT_N").ok().and_then(|n| n.parse().ok()).unwrap_or(1);
        for _ in 0..n {
            println!("{only} {:.1} ms", ms(run(&s)));
        }
        return;
    }
    if benching {
        bare(&s);
        whole(&s);
    }
    if std::env::var_os("WT_PARTS").is_some() {
        parts(&s, rounds);
        return;
    }
    // Each round times the three kinds in a rotated order, so no kind always
    // runs first (or right after another) and drift falls on all alike.
    let kinds: [Timed; 3] = [bare, whole, whole_inline];
    let mut ms_of: [Vec<f64>; 3] = Default::default();
    let (mut relayed, mut inline) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let mut t = [0.0; 3];
        for k in 0..3 {
            let i = (round + k) % 3;
            t[i] = ms(kinds[i](&s));
        }
        println!(
            "round {round:2}: bare {:7.1} ms  whole {:7.1} ms ({:.3})  whole inline {:7.1} ms ({:.3})",
            t[0],
            t[1],
            t[1] / t[0],
            t[2],
            t[2] / t[0]
        );
        for (v, x) in ms_of.iter_mut().zip(t) {
            v.push(x);
        }
        relayed.push(t[1] / t[0]);
        inline.push(t[2] / t[0]);
    }
    let spread = |v: &[f64]| (v.iter().copied().fold(f64::INFINITY, f64::min), v.iter().copied().fold(0.0, f64::max));
    // Another machine's load only ever adds time, so each kind's fastest run
    // is the best estimate of its own cost.
    let [fb, fw, fi] = ms_of.each_ref().map(|v| spread(v).0);
    let [b, w, i] = ms_of.map(median);
    let (r, ri) = (median(relayed.clone()), median(inline.clone()));
    let ((rlo, rhi), (ilo, ihi)) = (spread(&relayed), spread(&inline));
    println!(
        "report_overhead: median bare {b:.1} ms, whole {w:.1} ms, whole inline {i:.1} ms; ratio median \
         {r:.3} (min {rlo:.3}, max {rhi:.3}) = +{:.1}%; inline {ri:.3} (min {ilo:.3}, max {ihi:.3}) = +{:.1}%",
        (r - 1.0) * 100.0,
        (ri - 1.0) * 100.0
    );
    println!(
        "report_overhead: fastest of {rounds}: bare {fb:.1} ms, whole {fw:.1} ms = +{:.1}%, whole inline {fi:.1} ms = +{:.1}%",
        (fw / fb - 1.0) * 100.0,
        (fi / fb - 1.0) * 100.0
    );
}

/// `WT_PARTS=1`: the aggregator and the checker each on their own, against
/// the bare replay of the same round.
fn parts(s: &Scenario, rounds: usize) {
    let (mut agg, mut inv, mut inl) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let b = bare(s).as_secs_f64();
        agg.push(aggregator_only(s).as_secs_f64() / b);
        inv.push(checker_only(s).as_secs_f64() / b);
        inl.push(whole_inline(s).as_secs_f64() / b);
    }
    println!(
        "report_overhead parts, ratio medians on one thread: aggregator {:.3}, checker {:.3}, whole {:.3}",
        median(agg),
        median(inv),
        median(inl)
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
