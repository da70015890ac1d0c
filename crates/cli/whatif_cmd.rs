//! `windtunnel whatif`: one scenario, two or more variants, the same seeds.
//! Writes `whatif.json`, `whatif.md` and `whatif.html` and prints the table.
//!
//! Variants, in column order (the first is the baseline every Δ is taken to):
//! - each `--policy FILE` (repeatable), labelled by the file's stem;
//! - each `--variant KEY=VALUE`: the baseline policy (the first `--policy`, or
//!   the scenario's own, then labelled `base`) plus that override, labelled by it;
//! - or `--sweep KEY=A..B:STEP` alone: one variant per value on the baseline
//!   policy, labelled by its override.
//!
//! `--set`, `--trace` and `--seed` apply to every variant alike.

use crate::check_cmd::MAX_SEEDS;
use crate::progress::RunsProgress;
use crate::run_cmd::path_component;
use crate::scenario_args::ScenarioArgs;
use anyhow::{Context, bail};
use clap::Args;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use windtunnel_harness::{Sweep, Variant, WhatifOptions, whatif};
use windtunnel_report::{plain_line, to_whatif_html, to_whatif_json, to_whatif_markdown, to_whatif_markdown_table};

/// Seeds when `--seeds` is not given: enough for a t interval to be tight
/// (t(0.975, 9) = 2.26 against 1.96 for infinitely many) while staying quick.
const DEFAULT_SEEDS: u64 = 10;

/// Arguments of `windtunnel whatif`.
///
/// The shared scenario flags come from [`ScenarioArgs`], whose own `--policy`
/// takes one file; here `--policy` repeats, so that one is renamed out of the
/// way (hidden, unused) and `policies` takes the name.
#[derive(Debug, Args)]
#[command(mut_arg("policy", |a| a.long("scenario-policy").hide(true)))]
pub(crate) struct WhatifArgs {
    /// The scenario file (TOML).
    scenario: PathBuf,
    /// A policy to compare; repeat it. The first is the baseline.
    #[arg(long = "policy", id = "policies", value_name = "FILE")]
    policies: Vec<PathBuf>,
    #[command(flatten)]
    common: ScenarioArgs,
    /// One more variant: the baseline plus this override (repeatable), e.g.
    /// `--variant endpoints.openai/gpt-4o.price.output_per_mtok=15`.
    #[arg(long = "variant", value_name = "KEY=VALUE")]
    variants: Vec<String>,
    /// One variant per value, e.g. `policy.min_quality=0.6..0.9:0.05`, to trace
    /// the cost–quality and cost–SLA frontier.
    #[arg(long, value_name = "KEY=A..B:STEP")]
    sweep: Option<String>,
    /// Seeds: the scenario's seed and the N-1 after it, the same for every variant.
    #[arg(long, default_value_t = DEFAULT_SEEDS)]
    seeds: u64,
    /// Runs at a time (default: one per CPU). The results do not depend on it.
    #[arg(long)]
    jobs: Option<usize>,
    /// Output folder (default `reports/<scenario name>-whatif/`, the name
    /// made safe as a folder name).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// A variant before its scenario is loaded.
struct Spec<'a> {
    label: String,
    policy: Option<&'a Path>,
    sets: Vec<String>,
}

/// The variants the flags ask for, in column order.
fn specs<'a>(args: &'a WhatifArgs, sweep: Option<&Sweep>) -> anyhow::Result<Vec<Spec<'a>>> {
    let base = args.policies.first().map(PathBuf::as_path);
    let mut specs = Vec::new();
    if let Some(sweep) = sweep {
        if args.policies.len() > 1 || !args.variants.is_empty() {
            bail!(
                "--sweep makes the variants itself: give at most one --policy and no --variant \
                 (--set applies a change to every variant)"
            );
        }
        for set in sweep.sets() {
            specs.push(Spec { label: set.clone(), policy: base, sets: vec![set] });
        }
    } else {
        if args.policies.is_empty() && !args.variants.is_empty() {
            specs.push(Spec { label: "base".to_string(), policy: None, sets: Vec::new() });
        }
        for p in &args.policies {
            let stem = p.file_stem().map_or_else(|| p.display().to_string(), |s| s.to_string_lossy().into_owned());
            specs.push(Spec { label: stem, policy: Some(p), sets: Vec::new() });
        }
        for v in &args.variants {
            specs.push(Spec { label: v.clone(), policy: base, sets: vec![v.clone()] });
        }
    }
    if specs.len() < 2 {
        bail!(
            "whatif needs at least two variants, found {}: give --policy twice, --policy with --variant KEY=VALUE, \
             or --sweep KEY=A..B:STEP",
            specs.len()
        );
    }
    // Labels title the columns: number repeats (the same policy twice) `x #2`, `x #3`.
    let originals: Vec<String> = specs.iter().map(|s| s.label.clone()).collect();
    for (i, spec) in specs.iter_mut().enumerate() {
        let before = originals[..i].iter().filter(|l| **l == originals[i]).count();
        if before > 0 {
            spec.label = format!("{} #{}", originals[i], before + 1);
        }
    }
    Ok(specs)
}

/// `e` as one message, with `--set KEY` read as `FLAG KEY` for the keys
/// that came from `flag` (a `--set` given as such keeps its name).
fn blame(e: &anyhow::Error, flag: &str, sets: &[String]) -> anyhow::Error {
    let mut text = e.chain().map(ToString::to_string).collect::<Vec<_>>().join(": ");
    for key in sets.iter().map(|s| s.split_once('=').map_or(s.as_str(), |(k, _)| k)) {
        text = text.replace(&format!("--set {key}"), &format!("{flag} {key}"));
    }
    anyhow::anyhow!(text)
}

pub(crate) fn run(args: WhatifArgs) -> anyhow::Result<ExitCode> {
    if args.seeds == 0 {
        bail!("--seeds 0: expected at least one seed");
    }
    // Each (variant, seed) keeps its figures; the library also caps
    // variants × seeds.
    if args.seeds > MAX_SEEDS {
        bail!("--seeds {}: expected at most {MAX_SEEDS} seeds", args.seeds);
    }
    if args.jobs == Some(0) {
        bail!("--jobs 0: expected at least one");
    }
    let sweep = args.sweep.as_deref().map(Sweep::parse).transpose()?;
    // Load every variant first: a bad input is exit 2 before anything runs.
    // A value that came from --sweep or --variant is blamed on that flag,
    // not on --set (which the loader's messages name).
    let flag = if sweep.is_some() { "--sweep" } else { "--variant" };
    let variants = specs(&args, sweep.as_ref())?
        .into_iter()
        .map(|s| {
            let scenario =
                args.common.load_with(&args.scenario, s.policy, &s.sets).map_err(|e| blame(&e, flag, &s.sets))?;
            Ok(Variant { label: s.label, scenario, sets: s.sets })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let bar = RunsProgress::new(variants.len() as u64 * args.seeds);
    let mut update = |done: u64, _total: u64| bar.set(done);
    let result =
        whatif(&variants, args.seeds, WhatifOptions { jobs, sweep: sweep.as_ref(), progress: Some(&mut update) });
    bar.finish();
    let flagged: Vec<String> = variants.iter().flat_map(|v| v.sets.iter().cloned()).collect();
    let report = result.map_err(|e| blame(&anyhow::Error::from(e), flag, &flagged))?;
    let out =
        args.out.unwrap_or_else(|| Path::new("reports").join(path_component(&format!("{}-whatif", report.scenario))));
    std::fs::create_dir_all(&out).with_context(|| format!("creating output folder `{}`", out.display()))?;
    let mut written = Vec::new();
    for (name, body) in [
        ("whatif.json", to_whatif_json(&report)?),
        ("whatif.md", to_whatif_markdown(&report)),
        ("whatif.html", to_whatif_html(&report)),
    ] {
        let path = out.join(name);
        std::fs::write(&path, body).with_context(|| format!("writing `{}`", path.display()))?;
        written.push(path);
    }
    let n = report.seeds.len();
    let first = report.seeds.first().copied().unwrap_or_default();
    let seeds = if n == 1 {
        format!("1 seed ({first}); Δ: difference to the first variant, no interval from one seed")
    } else {
        format!("{n} seeds from {first}, shared by every variant; Δ: paired difference to the first variant [95% CI]")
    };
    // A closed stdout is an error here, which `main` turns into a quiet exit:
    // the files are written by now.
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{} · {} variants · {seeds}\n", plain_line(&report.scenario), report.variants.len())?;
    write!(stdout, "{}", to_whatif_markdown_table(&report))?;
    writeln!(stdout)?;
    for p in written {
        writeln!(stdout, "wrote {}", plain_line(&p.display().to_string()))?;
    }
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}
