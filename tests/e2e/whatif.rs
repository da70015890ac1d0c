//! `windtunnel whatif`: paired comparisons over shared seeds, sweeps, bad input.

use crate::*;
use serde_json::Value;

/// Runs `whatif` into `dir` and returns `whatif.json`, asserting exit 0 and the three files.
fn whatif_to(dir: &Path, args: &[&str]) -> Value {
    let mut all = vec!["whatif"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--out", dir.to_str().unwrap()]);
    let out = windtunnel(&all);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}", out.status);
    assert!(stdout.contains("| metric |"), "the table is printed:\n{stdout}");
    for file in ["whatif.json", "whatif.md", "whatif.html"] {
        assert!(dir.join(file).is_file(), "{file} written");
    }
    serde_json::from_slice(&std::fs::read(dir.join("whatif.json")).unwrap()).unwrap()
}

/// (paired, unpaired) half-widths of `metric`'s difference for variant `k`.
fn half_widths(json: &Value, metric: &str, k: usize) -> (f64, f64) {
    let diff = &json["metrics"][metric]["variants"][k]["diff"];
    (diff["paired"]["half_width"].as_f64().unwrap(), diff["unpaired"]["half_width"].as_f64().unwrap())
}

/// The acceptance test: two policies on the quickstart over 20 seeds;
/// common random numbers make the paired intervals narrower than the unpaired ones.
#[test]
fn whatif_paired_intervals_beat_unpaired_on_the_quickstart() {
    let tmp = tempfile::tempdir().unwrap();
    let json = whatif_to(
        tmp.path(),
        &[
            "scenarios/quickstart.toml",
            "--policy",
            "policies/cheapest-healthy.rhai",
            "--policy",
            "policies/static-fallback.rhai",
            "--seeds",
            "20",
        ],
    );
    assert_eq!(json["seeds"].as_array().unwrap().len(), 20);
    assert_eq!(json["seeds"][0], 42, "the scenario's seed first");
    let labels: Vec<&str> = json["variants"].as_array().unwrap().iter().map(|v| v["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["cheapest-healthy", "static-fallback"]);
    assert!(json["metrics"]["cost_usd"]["variants"][0]["diff"].is_null(), "the baseline has no difference");
    assert_eq!(json["metrics"]["cost_usd"]["variants"][1]["diff"]["paired"]["df"], 19.0);
    let mut widths = Vec::new();
    for metric in ["cost_usd", "p95_ms", "quality"] {
        let (paired, unpaired) = half_widths(&json, metric, 1);
        widths.push(format!("{metric}: paired ±{paired:.6}, unpaired ±{unpaired:.6}"));
        assert!(paired < unpaired, "{metric}: paired ±{paired} is not narrower than unpaired ±{unpaired}");
    }
    // Cost is where the shared world dominates: by far, not by a hair.
    let (paired, unpaired) = half_widths(&json, "cost_usd", 1);
    assert!(paired * 5.0 < unpaired, "{widths:?}");
    // The mean difference is the difference of the means.
    let v = &json["metrics"]["cost_usd"]["variants"];
    let (m0, m1, d) = (v[0]["mean"].as_f64().unwrap(), v[1]["mean"].as_f64().unwrap(), v[1]["diff"]["mean"].as_f64());
    assert!((m1 - m0 - d.unwrap()).abs() < 1e-9);
    let html = std::fs::read_to_string(tmp.path().join("whatif.html")).unwrap();
    assert!(!html.contains("<svg"), "two variants draw no frontier");
    println!("{}", widths.join("\n"));
}

/// Only a price changes: every request goes the same way under each seed, so
/// latency differs by exactly nothing and cost by a positive amount.
#[test]
fn whatif_variant_of_a_price_changes_cost_and_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let json = whatif_to(
        tmp.path(),
        &[
            "scenarios/quickstart.toml",
            "--variant",
            "endpoints.openai/gpt-4o-mini.price.output_per_mtok=6.0",
            "--seeds",
            "2",
        ],
    );
    assert_eq!(json["variants"][0]["label"], "base");
    assert_eq!(json["variants"][1]["sets"][0], "endpoints.openai/gpt-4o-mini.price.output_per_mtok=6.0");
    let diff = |metric: &str| json["metrics"][metric]["variants"][1]["diff"].clone();
    assert!(diff("cost_usd")["paired"]["low"].as_f64().unwrap() > 0.0, "{}", diff("cost_usd"));
    for metric in ["p50_ms", "p95_ms", "p99_ms", "sla_violation_rate"] {
        assert_eq!(diff(metric)["mean"], 0.0, "{metric}");
        assert_eq!(diff(metric)["paired"]["half_width"], 0.0, "{metric}");
    }
}

#[test]
fn whatif_sweep_traces_a_frontier() {
    let tmp = tempfile::tempdir().unwrap();
    let json = whatif_to(
        tmp.path(),
        &[
            "scenarios/cascade.toml",
            "--sweep",
            "policy.min_quality=0.7..0.9:0.1",
            "--seeds",
            "3",
            // A third of the scenario's half hour keeps the test quick.
            "--set",
            "trace.synthetic.duration=10m",
        ],
    );
    assert_eq!(json["sweep"]["key"], "policy.min_quality");
    assert_eq!(json["sweep"]["values"], serde_json::json!(["0.7", "0.8", "0.9"]));
    let labels: Vec<&str> = json["variants"].as_array().unwrap().iter().map(|v| v["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["policy.min_quality=0.7", "policy.min_quality=0.8", "policy.min_quality=0.9"]);
    for key in ["quality", "sla_violation_rate"] {
        let points = json["frontier"][key].as_array().unwrap();
        assert_eq!(points.len(), 3, "{key}");
        assert!(points.iter().any(|p| p["pareto"] == true), "{key}: someone is on the frontier");
    }
    // A stricter threshold escalates more: dearer and better, every step on the frontier.
    let q = json["frontier"]["quality"].as_array().unwrap();
    let num = |p: &Value, k: &str| p[k].as_f64().unwrap();
    for w in q.windows(2) {
        assert!(num(&w[1], "cost_usd") > num(&w[0], "cost_usd") && num(&w[1], "value") > num(&w[0], "value"), "{q:?}");
    }
    assert!(q.iter().all(|p| p["pareto"] == true), "{q:?}");
    let html = std::fs::read_to_string(tmp.path().join("whatif.html")).unwrap();
    assert_eq!(html.matches("<svg class=\"chart").count(), 2, "cost–quality and cost–SLA charts");
    let md = std::fs::read_to_string(tmp.path().join("whatif.md")).unwrap();
    assert!(md.contains("## Frontier"), "{md}");
}

#[test]
fn whatif_refuses_fewer_than_two_variants_and_bad_sweeps() {
    let out = windtunnel(&["whatif", "scenarios/quickstart.toml", "--policy", "policies/cheapest-healthy.rhai"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr.trim(),
        "error: whatif needs at least two variants, found 1: give --policy twice, --policy with --variant \
         KEY=VALUE, or --sweep KEY=A..B:STEP"
    );
    let out = windtunnel(&["whatif", "scenarios/cascade.toml", "--sweep", "policy.min_quality=0.9..0.7:0.1"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr.trim(),
        "error: sweep `policy.min_quality=0.9..0.7:0.1`: the range ends at `0.7`, below its start `0.9`"
    );
    let out = windtunnel(&[
        "whatif",
        "scenarios/quickstart.toml",
        "--policy",
        "policies/cheapest-healthy.rhai",
        "--policy",
        "policies/no-such.rhai",
    ]);
    assert_eq!(out.status.code(), Some(2), "{:?}", text(&out));
    assert!(text(&out).1.contains("policies/no-such.rhai"), "{:?}", text(&out));
}

/// The default output folder is `reports/<name>-whatif/` with the name made
/// safe: `../../x` cannot write outside `reports/`. A closed stdout is a
/// quiet exit once the files are written.
#[test]
fn whatif_keeps_its_folder_under_reports_and_exits_quietly_on_a_closed_stdout() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a/b");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("s.toml"), crate::run::tiny_scenario("../../escaped", "")).unwrap();
    let args = ["whatif", "s.toml", "--variant", "endpoints.a/x.price.output_per_mtok=1", "--seeds", "2"];
    let out = windtunnel_in(&dir, &args);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(!tmp.path().join("escaped-whatif").exists(), "wrote outside reports/");
    assert!(dir.join("reports/_._.._escaped-whatif/whatif.json").is_file(), "{stdout}");
    std::fs::remove_dir_all(dir.join("reports")).unwrap();
    let out = crate::run::closed_stdout(&dir, &args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    assert!(dir.join("reports/_._.._escaped-whatif/whatif.json").is_file());
}

/// A bad value from --sweep or --variant is blamed on that flag, not on --set.
#[test]
fn sweep_and_variant_errors_name_their_own_flag() {
    let out = windtunnel(&[
        "whatif",
        "scenarios/cascade.toml",
        "--policy",
        "policies/cascade.rhai",
        "--sweep",
        "policy.nope=0.1..0.9:0.1",
    ]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("in --sweep policy.nope=") && !stderr.contains("--set"), "{stderr}");
    let out = windtunnel(&[
        "whatif",
        "scenarios/cascade.toml",
        "--policy",
        "policies/cascade.rhai",
        "--variant",
        "endpoints.x.y=1",
    ]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("error: --variant endpoints.x.y=1: unknown endpoint `x.y`"), "{stderr}");
}
