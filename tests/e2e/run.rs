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

/// A one-endpoint scenario on a synthetic trace (no file to resolve), named
/// by `name` (a TOML string, escapes allowed), plus `extra` TOML.
pub(crate) fn tiny_scenario(name: &str, extra: &str) -> String {
    format!(
        "name = \"{name}\"\nseed = 1\npolicy = {{ chain = [\"a/x\"] }}\n\n[trace.synthetic]\nrate_per_s = 2\n\
         duration = \"30s\"\n\n[sla.default]\nlatency_ms = 5000\n\n[[endpoints]]\nname = \"a/x\"\n{extra}"
    )
}

/// A scenario name is not a path: `../../x` or an absolute name writes under
/// `reports/` all the same, in one folder named after the name's safe characters.
#[test]
fn run_keeps_reports_under_reports_whatever_the_scenario_name() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a/b");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("up.toml"), tiny_scenario("../../escaped", "")).unwrap();
    let out = windtunnel_in(&dir, &["run", "up.toml", "--format", "json"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(!tmp.path().join("escaped").exists(), "wrote outside reports/");
    assert!(dir.join("reports/_._.._escaped/report.json").is_file(), "{stdout}");
    assert!(stdout.contains("wrote reports/_._.._escaped/report.json"), "{stdout}");

    let absolute = tmp.path().join("absolute");
    let name = absolute.to_str().unwrap().replace('\\', "\\\\");
    std::fs::write(dir.join("abs.toml"), tiny_scenario(&name, "")).unwrap();
    let out = windtunnel_in(&dir, &["run", "abs.toml", "--format", "json"]);
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(!absolute.exists(), "wrote to the absolute path {}", absolute.display());
    let folders: Vec<String> = std::fs::read_dir(dir.join("reports"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(folders.len(), 2, "{folders:?}");
    let safe = folders.iter().find(|f| f.ends_with("_absolute")).expect("the absolute name's folder");
    assert!(safe.starts_with('_') && !safe.contains(['/', '\\']), "{safe}");
    assert!(dir.join("reports").join(safe).join("report.json").is_file());
}

/// A fault every ~10 ms: report.json lists the first 1,000 windows and counts
/// the others, and report.md says how many it leaves out.
#[test]
fn run_report_lists_a_bounded_number_of_fault_windows() {
    let tmp = tempfile::tempdir().unwrap();
    let fault = "\n[[endpoints.faults]]\nkind = \"outage\"\nevery = \"10ms\"\nlasting = \"1ms\"\n";
    std::fs::write(tmp.path().join("s.toml"), tiny_scenario("flappy", fault)).unwrap();
    let out = windtunnel_in(tmp.path(), &["run", "s.toml", "--out", "out"]);
    assert!(out.status.success(), "{:?}", text(&out));
    let bytes = std::fs::read(tmp.path().join("out/report.json")).unwrap();
    assert!(bytes.len() < 1_000_000, "report.json is {} bytes", bytes.len());
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let f = &json["failover"];
    let listed = f["windows"].as_array().unwrap().len() as u64;
    let (total, omitted) = (f["windows_total"].as_u64().unwrap(), f["windows_omitted"].as_u64().unwrap());
    assert_eq!(listed, 1000);
    assert!(total > 2000, "{total} windows in 30 s");
    assert_eq!(total, listed + omitted);
    let starts: Vec<u64> = f["windows"].as_array().unwrap().iter().map(|w| w["start_ms"].as_u64().unwrap()).collect();
    assert!(starts.windows(2).all(|w| w[0] <= w[1]), "by start time");
    let md = std::fs::read_to_string(tmp.path().join("out/report.md")).unwrap();
    assert!(md.contains(&format!("more windows (report.json lists the first 1,000 of {}", fmt_int(total))), "{md}");
    let html = std::fs::read_to_string(tmp.path().join("out/report.html")).unwrap();
    assert!(html.len() < 500_000, "report.html is {} bytes", html.len());
}

/// `1,234`.
fn fmt_int(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `run … | head -1`: a closed stdout ends the command quietly, after the
/// reports are written.
#[test]
fn run_with_a_closed_stdout_exits_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("s.toml"), tiny_scenario("closed", "")).unwrap();
    let out = closed_stdout(tmp.path(), &["run", "s.toml", "--out", "out"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(tmp.path().join("out/report.json").is_file());
}

/// Runs `windtunnel args…` in `dir` with its stdout a pipe whose reading
/// end is closed before the command writes anything.
pub(crate) fn closed_stdout(dir: &Path, args: &[&str]) -> std::process::Output {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_windtunnel"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}
