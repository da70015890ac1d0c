//! `windtunnel run`.

use crate::progress::Progress;
use crate::scenario_args::ScenarioArgs;
use anyhow::{Context, bail};
use clap::Args;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use windtunnel_harness::RunOptions;
use windtunnel_report::{Report, plain_line, to_html, to_json, to_junit, to_markdown};

/// Arguments of `windtunnel run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The scenario file (TOML).
    scenario: PathBuf,
    #[command(flatten)]
    common: ScenarioArgs,
    /// Output folder (default `reports/<scenario name>/`, the name made safe
    /// as a folder name).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Report formats, comma-separated: json, md, html, junit.
    #[arg(long, value_delimiter = ',', default_value = "json,md,html")]
    format: Vec<String>,
}

pub(crate) fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    for f in &args.format {
        if !matches!(f.as_str(), "json" | "md" | "html" | "junit") {
            bail!("unknown report format `{f}`, expected a comma-separated list of: json, md, html, junit");
        }
    }
    let scenario = args.common.load(&args.scenario)?;
    let mut progress = Progress::for_run(&scenario);
    let mut update = |n, now| progress.update(n, now);
    let report = windtunnel_harness::run(
        &scenario,
        RunOptions { extra_sink: None, progress: Some(&mut update), ..RunOptions::default() },
    );
    progress.finish();
    let report = report?;
    let out = args.out.unwrap_or_else(|| Path::new("reports").join(path_component(&scenario.name)));
    std::fs::create_dir_all(&out).with_context(|| format!("creating output folder `{}`", out.display()))?;
    let mut written = Vec::new();
    for format in &args.format {
        let (name, body) = match format.as_str() {
            "json" => ("report.json", to_json(&report)?),
            "md" => ("report.md", to_markdown(&report)),
            "html" => ("report.html", to_html(&report)),
            _ => ("junit.xml", to_junit(&[&report])),
        };
        let path = out.join(name);
        std::fs::write(&path, body).with_context(|| format!("writing `{}`", path.display()))?;
        written.push(path);
    }
    // A closed stdout is an error here, which `main` turns into a quiet exit:
    // the reports are written by now.
    let mut stdout = io::stdout().lock();
    write_summary(&mut stdout, &report)?;
    for class in &report.sla.classes_without_sla {
        let class = plain_line(class);
        eprintln!("warning: class `{class}` has traffic but no [sla.{class}]: its requests cannot violate an SLA");
    }
    for p in written {
        writeln!(stdout, "wrote {}", plain_line(&p.display().to_string()))?;
    }
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The most characters of a name [`path_component`] keeps: far below the
/// 255 bytes file systems allow, with room for a suffix such as `-whatif`.
const MAX_COMPONENT_CHARS: usize = 100;

/// A scenario name as one folder name under `reports/`: its letters, digits,
/// `-`, `_` and `.` (but not a leading `.`), every other character as `_`,
/// at most [`MAX_COMPONENT_CHARS`] characters, and `scenario` for an empty
/// name. So the result has no separator, is never `.`, `..` nor absolute,
/// and a name such as `../../x` or `/tmp/x` cannot write outside `reports/`;
/// `quickstart` stays `quickstart`.
pub(crate) fn path_component(name: &str) -> String {
    let safe: String = name
        .chars()
        .take(MAX_COMPONENT_CHARS)
        .enumerate()
        .map(|(i, c)| if c.is_alphanumeric() || c == '-' || c == '_' || (c == '.' && i > 0) { c } else { '_' })
        .collect();
    if safe.is_empty() { "scenario".to_string() } else { safe }
}

fn write_summary(out: &mut impl Write, r: &Report) -> io::Result<()> {
    let o = &r.outcomes;
    writeln!(out, "{} · {} · seed {}", plain_line(&r.scenario), plain_line(&r.policy), r.seed)?;
    writeln!(
        out,
        "  requests {:>9}   succeeded {}   failed {}   rejected {}   cached {}",
        r.trace.requests, o.succeeded, o.failed, o.rejected, o.cached
    )?;
    writeln!(
        out,
        "  cost     ${:.4} (${:.6} per success, ${:.4} wasted)",
        r.cost.total_usd.as_usd(),
        r.cost.per_success_usd.as_usd(),
        r.cost.wasted_usd.as_usd()
    )?;
    writeln!(
        out,
        "  latency  p50 {} ms   p95 {} ms   p99 {} ms   max {} ms",
        r.latency_ms.p50, r.latency_ms.p95, r.latency_ms.p99, r.latency_ms.max
    )?;
    writeln!(
        out,
        "  sla      {} violations ({:.2}%)   failovers {}   attempts {}",
        r.sla.violations,
        r.sla.rate * 100.0,
        r.failover.events,
        r.attempts.total
    )?;
    if !o.by_reason.is_empty() {
        let reasons: Vec<String> = o.by_reason.iter().map(|(k, n)| format!("{} {n}", plain_line(k))).collect();
        writeln!(out, "  reasons  {}", reasons.join(", "))?;
    }
    if r.policy_errors > 0 {
        let first = r.policy_error_first.as_ref().map(|e| format!("; first: {}", plain_line(&e.to_string())));
        writeln!(out, "  policy   {} errors{}", r.policy_errors, first.unwrap_or_default())?;
    }
    let broken: Vec<String> =
        r.invariants.iter().filter(|i| i.violations > 0).map(|i| format!("{} ({})", i.name, i.violations)).collect();
    let failed = r.assertions.iter().filter(|a| !a.passed).count();
    writeln!(
        out,
        "  checks   invariants: {}   assertions: {} of {} hold",
        if broken.is_empty() { "all hold".to_string() } else { broken.join(", ") },
        r.assertions.len() - failed,
        r.assertions.len()
    )
}

#[cfg(test)]
mod tests {
    use super::path_component;

    #[test]
    fn scenario_names_become_one_safe_folder_name() {
        assert_eq!(path_component("quickstart"), "quickstart");
        assert_eq!(path_component("tiered-v2.1_eu"), "tiered-v2.1_eu");
        assert_eq!(path_component("../../x"), "_._.._x");
        assert_eq!(path_component("/tmp/x"), "_tmp_x");
        assert_eq!(path_component(".."), "_.");
        assert_eq!(path_component("."), "_");
        assert_eq!(path_component(".hidden"), "_hidden");
        assert_eq!(path_component(""), "scenario");
        assert_eq!(path_component("C:\\x y\n"), "C__x_y_");
        assert_eq!(path_component("café"), "café");
        assert_eq!(path_component(&"a".repeat(300)).len(), 100);
        for name in ["../../x", "/tmp/x", "..", ".", "", "a/../../b", "\\\\server\\share", "x\0y"] {
            let c = path_component(name);
            assert!(!c.is_empty() && c != "." && c != "..", "{name:?} -> {c:?}");
            assert!(!c.contains(['/', '\\', '\0']), "{name:?} -> {c:?}");
            let p = std::path::Path::new("reports").join(&c);
            assert_eq!(p.parent(), Some(std::path::Path::new("reports")), "{name:?} -> {c:?}");
        }
    }
}
