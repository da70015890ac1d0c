//! `windtunnel run`.

use crate::*;

fn run_to(dir: &Path, extra: &[&str]) -> Vec<u8> {
    let out_dir = dir.to_str().unwrap();
    let mut args = vec!["run", "scenarios/quickstart.toml", "--out", out_dir];
    args.extend_from_slice(extra);
    let out = windtunnel(&args);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}", out.status);
    std::fs::read(dir.join("report.json")).unwrap()
}

#[test]
fn quickstart_is_byte_identical_for_one_seed_and_differs_for_another() {
    let tmp = tempfile::tempdir().unwrap();
    let a = run_to(&tmp.path().join("a"), &[]);
    let b = run_to(&tmp.path().join("b"), &[]);
    assert_eq!(a, b, "same scenario, seed and binary must give the same report.json bytes");
    let c = run_to(&tmp.path().join("c"), &["--seed", "7"]);
    assert_ne!(a, c, "another seed gives another world");
    assert!(tmp.path().join("a/report.md").is_file());
}

#[test]
fn quickstart_report_accounts_for_every_request() {
    let tmp = tempfile::tempdir().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&run_to(tmp.path(), &[])).unwrap();
    let requests = json["trace"]["requests"].as_u64().unwrap();
    assert_eq!(requests, 2863, "every line of the trace slice is replayed");
    let o = &json["outcomes"];
    let sum: u64 = ["succeeded", "failed", "rejected", "cached"].iter().map(|k| o[k].as_u64().unwrap()).sum();
    assert_eq!(sum, requests, "conservation");
    for key in
        ["schema_version", "scenario", "policy", "seed", "cost", "latency_ms", "ttft_ms", "attempts", "sla", "failover"]
    {
        assert!(json.get(key).is_some(), "report.json lacks `{key}`");
    }
    // The outage on the primary and the 429 bursts on the second endpoint show.
    let primary = &json["attempts"]["by_endpoint"]["openai/gpt-4o-mini"]["errors"];
    assert!(primary["overloaded"].as_u64().unwrap() > 0, "outage 503s: {primary}");
    let second = &json["attempts"]["by_endpoint"]["deepseek/deepseek-chat"]["errors"];
    assert!(second["rate_limited"].as_u64().unwrap_or(0) > 0, "429 bursts: {second}");
    assert!(json["failover"]["events"].as_u64().unwrap() > 0);
    // Money is integer-accounted: the per-endpoint costs sum to the total exactly.
    let total_nd = (json["cost"]["total_usd"].as_f64().unwrap() * 1e9).round() as i64;
    let by_endpoint: i64 = json["cost"]["by_endpoint"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| (v.as_f64().unwrap() * 1e9).round() as i64)
        .sum();
    assert_eq!(total_nd, by_endpoint);
}

#[test]
fn set_overrides_change_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let base: serde_json::Value = serde_json::from_slice(&run_to(&tmp.path().join("a"), &[])).unwrap();
    let pricier: serde_json::Value = serde_json::from_slice(&run_to(
        &tmp.path().join("b"),
        &["--set", "endpoints.openai/gpt-4o-mini.price.output_per_mtok=6.0"],
    ))
    .unwrap();
    let cost = |v: &serde_json::Value| v["cost"]["by_endpoint"]["openai/gpt-4o-mini"].as_f64().unwrap();
    assert!(cost(&pricier) > cost(&base) * 2.0, "{} vs {}", cost(&pricier), cost(&base));
    // Only the price changed: the same requests went the same way.
    assert_eq!(base["attempts"], pricier["attempts"]);
}
