//! `windtunnel check` and `windtunnel policy lint|test`.

use crate::*;

/// Writes `text` as a scenario next to the shipped ones (so relative paths
/// resolve) under a unique name, removed on drop.
struct TempScenario(PathBuf);

impl TempScenario {
    fn new(name: &str, text: &str) -> TempScenario {
        let path = root().join("scenarios").join(format!("e2e-{name}.toml"));
        std::fs::write(&path, text).unwrap();
        TempScenario(path)
    }
    fn arg(&self) -> String {
        self.0.strip_prefix(root()).unwrap().to_string_lossy().into_owned()
    }
}

impl Drop for TempScenario {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn quickstart_with(from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(root().join("scenarios/quickstart.toml")).unwrap();
    assert!(text.contains(from));
    text.replacen(from, to, 1)
}

#[test]
fn check_passes_on_the_quickstart_and_lists_every_assertion() {
    let out = windtunnel(&["check", "scenarios/quickstart.toml"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    // Five [assert] limits, the default `max_policy_errors = 0` and eight
    // invariants, one line each.
    assert_eq!(stdout.lines().filter(|l| l.starts_with("ok    quickstart: ")).count(), 14, "{stdout}");
    assert!(stdout.contains("quickstart: max_policy_errors: actual 0, limit 0"), "{stdout}");
    assert!(stdout.contains("quickstart: invariant:retry_after_respected: actual 0, limit 0"), "{stdout}");
}

#[test]
fn check_fails_naming_the_assertion_actual_and_limit_and_writes_junit() {
    let s = TempScenario::new("cheap-limit", &quickstart_with("max_cost_usd = 2.5", "max_cost_usd = 0.5"));
    let tmp = tempfile::tempdir().unwrap();
    let junit = tmp.path().join("junit.xml");
    let out = windtunnel(&["check", &s.arg(), "scenarios/quickstart.toml", "--junit", junit.to_str().unwrap()]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let line = stdout.lines().find(|l| l.starts_with("FAIL")).expect("a FAIL line");
    assert!(line.starts_with("FAIL  quickstart: max_cost_usd: actual 1."), "{line}");
    assert!(line.ends_with(", limit 0.5"), "{line}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<testsuite ").count(), 2, "one suite per scenario");
    assert_eq!(xml.matches("<testcase ").count(), 28, "one testcase per scenario and assertion");
    assert_eq!(xml.matches("<failure ").count(), 1);
    assert!(xml.trim_start().starts_with("<?xml"));
}

#[test]
fn check_over_seeds_and_against_a_baseline() {
    let tmp = tempfile::tempdir().unwrap();
    let out =
        windtunnel(&["run", "scenarios/quickstart.toml", "--out", tmp.path().to_str().unwrap(), "--format", "json"]);
    assert!(out.status.success());
    let baseline = tmp.path().join("report.json");
    let same = windtunnel(&["check", "scenarios/quickstart.toml", "--baseline", baseline.to_str().unwrap()]);
    let (stdout, _) = text(&same);
    assert_eq!(same.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("baseline:cost_usd: actual"), "{stdout}");
    // A baseline of another scenario is bad input, not a silent pass.
    let other = windtunnel(&["check", "scenarios/tiered.toml", "--baseline", baseline.to_str().unwrap()]);
    let (stdout, stderr) = text(&other);
    assert_eq!(other.status.code(), Some(2), "{stdout}");
    assert!(
        stderr.contains("is a report of scenario `quickstart`, expected one of the checked scenarios: tiered"),
        "{stderr}"
    );
    // Doubling an output price is a cost regression beyond 5%.
    let junit = tmp.path().join("junit.xml");
    let pricier = windtunnel(&[
        "check",
        "scenarios/quickstart.toml",
        "--baseline",
        baseline.to_str().unwrap(),
        "--set",
        "endpoints.openai/gpt-4o-mini.price.output_per_mtok=1.2",
        "--junit",
        junit.to_str().unwrap(),
    ]);
    let (stdout, _) = text(&pricier);
    assert_eq!(pricier.status.code(), Some(1), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("FAIL  quickstart: baseline:cost_usd")), "{stdout}");
    // The gate's every line is a test case, the baseline's too.
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(
        xml.matches("<testcase ").count(),
        stdout.lines().filter(|l| l.starts_with("ok") || l.starts_with("FAIL")).count()
    );
    assert!(xml.contains("name=\"baseline:cost_usd\" time=\"0\">\n      <failure message=\"actual "), "{xml}");
    // Over seeds: still one case per assertion, failing if any seed fails.
    let seeds = windtunnel(&["check", "scenarios/quickstart.toml", "--seeds", "3", "--junit", junit.to_str().unwrap()]);
    let (stdout, _) = text(&seeds);
    assert_eq!(seeds.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("(3 seeds)"), "{stdout}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<testsuite ").count(), 1);
    let lines = stdout.lines().filter(|l| l.starts_with("ok") || l.starts_with("FAIL")).count();
    assert!(lines > 5, "{stdout}");
    assert_eq!(xml.matches("<testcase ").count(), lines, "one per assertion line, not per seed");
    assert!(xml.contains("<property name=\"seed\" value=\"42–44\"/>"), "{xml}");
    assert!(xml.contains("<testsuite name=\"quickstart [seeds 42–44]\""), "{xml}");
    let cheap = windtunnel(&[
        "check",
        "scenarios/quickstart.toml",
        "--seeds",
        "2",
        "--set",
        "assert.max_cost_usd=1.5",
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(cheap.status.code(), Some(1));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<failure ").count(), 1, "{xml}");
    assert!(xml.contains("(seed 42; failed on 2 of 2 seeds)"), "{xml}");
}

#[test]
fn check_exits_2_on_bad_input() {
    let out = windtunnel(&["check", "scenarios/nope.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let s = TempScenario::new(
        "bad-policy",
        &quickstart_with(
            "policy = { chain = [\"openai/gpt-4o-mini\", \"deepseek/deepseek-chat\", \"anthropic/claude-3-5-haiku\"] }",
            "policy = \"e2e-broken.rhai\"",
        ),
    );
    let policy = Removed(root().join("scenarios/e2e-broken.rhai"));
    std::fs::write(&policy.0, "fn route(req, ctx) { [\"a\" }\n").unwrap();
    let out = windtunnel(&["check", &s.arg()]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("e2e-broken.rhai:1:"), "names file, line and column: {stderr}");
}

struct Removed(PathBuf);

impl Drop for Removed {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn a_policy_that_fails_at_run_time_never_crashes_the_run() {
    // An endless loop on batch requests, a type error on interactive ones:
    // every call fails, the default chain serves, the report counts them.
    let policy = Removed(root().join("scenarios/e2e-flaky.rhai"));
    std::fs::write(
        &policy.0,
        "fn settings() { #{ default_chain: [\"anthropic/claude-3-5-haiku\", \"openai/gpt-4o-mini\"] } }\n\
         fn route(req, ctx) { if req.input_tokens % 2 == 0 { loop { } } else { req.input_tokens + \"x\" } }\n",
    )
    .unwrap();
    let s = TempScenario::new(
        "flaky",
        &quickstart_with(
            "policy = { chain = [\"openai/gpt-4o-mini\", \"deepseek/deepseek-chat\", \"anthropic/claude-3-5-haiku\"] }",
            "policy = \"e2e-flaky.rhai\"",
        ),
    );
    let tmp = tempfile::tempdir().unwrap();
    let out = windtunnel(&["run", &s.arg(), "--out", tmp.path().to_str().unwrap(), "--format", "json"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(tmp.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(r["policy_errors"].as_u64(), Some(2863), "every route call failed and was counted");
    let failed = &r["outcomes"]["by_reason"];
    assert!(r["outcomes"]["succeeded"].as_u64().unwrap() >= 2850, "the default chain served them: {failed}");
    let by = r["attempts"]["by_endpoint"].as_object().unwrap();
    assert_eq!(by["deepseek/deepseek-chat"]["attempts"].as_u64(), Some(0), "only the default chain was used");
    assert!(by["anthropic/claude-3-5-haiku"]["attempts"].as_u64().unwrap() > 2000);
}

/// A policy that fails only on batch requests (a misspelt field read on that
/// branch alone) fails the gate by default, and `check` and `run` name the
/// first error with its line and column.
#[test]
fn policy_errors_fail_check_and_are_named() {
    let policy = Removed(root().join("scenarios/e2e-batch-typo.rhai"));
    std::fs::write(
        &policy.0,
        "fn settings() { #{ default_chain: [\"openai/gpt-4o-mini\"] } }\n\
         fn route(req, ctx) {\n\
         \x20   if req.class == \"batch\" && req.max_tokns > 100 { return [\"deepseek/deepseek-chat\"]; }\n\
         \x20   ctx.candidates(req).by_cost(req).names()\n\
         }\n",
    )
    .unwrap();
    let scenario = quickstart_with(
        "policy = { chain = [\"openai/gpt-4o-mini\", \"deepseek/deepseek-chat\", \"anthropic/claude-3-5-haiku\"] }",
        "policy = \"e2e-batch-typo.rhai\"",
    );
    let s = TempScenario::new("batch-typo", &scenario);
    // A synthetic trace with 30% batch traffic instead of the Azure slice.
    let tmp = tempfile::tempdir().unwrap();
    let trace = tmp.path().join("mixed.jsonl");
    let trace = trace.to_str().unwrap();
    let make_trace =
        ["trace", "gen", "-o", trace, "--rate", "5", "--duration", "2m", "--classes", "interactive=0.7,batch=0.3"];
    assert!(windtunnel(&make_trace).status.success());
    let out = windtunnel(&["check", &s.arg(), "--trace", trace]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let line = stdout.lines().find(|l| l.contains("max_policy_errors")).unwrap_or_default();
    assert!(line.starts_with("FAIL  quickstart: max_policy_errors: actual "), "{stdout}");
    assert!(line.contains("limit 0 (first: route at 3:"), "{line}");
    assert!(line.contains("max_tokns"), "the message names the field: {line}");

    let out =
        windtunnel(&["run", &s.arg(), "--trace", trace, "--out", tmp.path().to_str().unwrap(), "--format", "json"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("  policy   ") && stdout.contains("errors; first: route at 3:"), "{stdout}");
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(tmp.path().join("report.json")).unwrap()).unwrap();
    let errors = r["policy_errors"].as_u64().unwrap();
    let requests = r["trace"]["requests"].as_u64().unwrap();
    // Only batch requests fail: about 30% of them, never all, never none.
    assert!(errors > requests / 10 && errors < requests / 2, "{errors} of {requests}");
    assert_eq!(r["policy_error_first"]["hook"], "route");
    assert_eq!(r["policy_error_first"]["line"], 3);

    // A scenario that tolerates them says so and passes.
    let out = windtunnel(&["check", &s.arg(), "--trace", trace, "--set", "assert.max_policy_errors=100000"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).0);
}

/// `policy lint --scenario` runs `route` on every class, tenant and language
/// of the scenario: a typo on the batch branch alone is caught at lint time,
/// and an endpoint name the scenario lacks is named with a did-you-mean.
#[test]
fn lint_with_a_scenario_samples_its_traffic_and_checks_endpoint_names() {
    let tmp = tempfile::tempdir().unwrap();
    let typo = tmp.path().join("typo.rhai");
    std::fs::write(
        &typo,
        "fn route(req, ctx) {\n\
         \x20   if req.class == \"batch\" { return [req.tenant_id]; }\n\
         \x20   ctx.candidates(req).by_cost(req).names()\n\
         }\n",
    )
    .unwrap();
    let typo = typo.to_str().unwrap();
    // Without a scenario the sample request is interactive: the typo hides.
    assert_eq!(windtunnel(&["policy", "lint", typo]).status.code(), Some(0));
    let out = windtunnel(&["policy", "lint", typo, "--scenario", "scenarios/cheapest-healthy.toml"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(stderr.contains("typo.rhai:2:") && stderr.contains("route() failed on sample request"), "{stderr}");
    assert!(stderr.contains("class batch") && stderr.contains("tenant_id"), "{stderr}");

    let names = tmp.path().join("names.rhai");
    std::fs::write(&names, "fn route(req, ctx) {\n    [\"openai/gpt-4o-mini\", \"deepseek/deepseek-chta\"]\n}\n")
        .unwrap();
    let out = windtunnel(&["policy", "lint", names.to_str().unwrap(), "--scenario", "scenarios/cheapest-healthy.toml"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("names.rhai:2:28: endpoint `deepseek/deepseek-chta` is not in scenario `cheapest-healthy`, did you mean `deepseek/deepseek-chat`?"),
        "{stderr}"
    );

    let out = windtunnel(&[
        "policy",
        "lint",
        "policies/cheapest-healthy.rhai",
        "--scenario",
        "scenarios/cheapest-healthy.toml",
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("sample requests (every class, tenant and language)"), "{stdout}");
}

#[test]
fn policy_test_and_lint_report_and_exit_like_opa() {
    let out = windtunnel(&["policy", "test", "policies"]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.lines().all(|l| l.is_empty() || l.starts_with("PASS: ") || l.ends_with(" passed, 0 failed")),
        "{stdout}"
    );
    // Every shipped policy's tests ran: a PASS line each, and a total that counts them.
    let passes = stdout.lines().filter(|l| l.starts_with("PASS: ")).count();
    assert!(passes >= 7, "one test at least per shipped policy: {stdout}");
    assert!(stdout.ends_with(&format!("{passes} passed, 0 failed\n")), "{stdout}");
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("p.rhai"), "fn route(req, ctx) { [\"openai/gpt-4o\"] }\n").unwrap();
    std::fs::write(
        tmp.path().join("p_test.rhai"),
        "fn test_ok() { assert_eq(route(request(#{}), context(#{})), [\"openai/gpt-4o\"]); }\n\
         fn test_wrong() { assert_eq(route(request(#{}), context(#{})), [\"x/y\"]); }\n",
    )
    .unwrap();
    let junit = tmp.path().join("j.xml");
    let out = windtunnel(&["policy", "test", tmp.path().to_str().unwrap(), "--junit", junit.to_str().unwrap()]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("PASS: ") && stdout.contains("FAIL: ") && stdout.ends_with("1 passed, 1 failed\n"),
        "{stdout}"
    );
    assert!(std::fs::read_to_string(junit).unwrap().contains("<failure"));
    let lint = windtunnel(&["policy", "lint", "policies/cheapest-healthy.rhai"]);
    let (stdout, _) = text(&lint);
    assert_eq!(lint.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("route -> ["), "{stdout}");
    std::fs::write(tmp.path().join("bad.rhai"), "fn route(req) { [] }\n").unwrap();
    let bad = windtunnel(&["policy", "lint", tmp.path().join("bad.rhai").to_str().unwrap()]);
    let (_, stderr) = text(&bad);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr.contains("bad.rhai:1:1: hook `route` takes 2 parameters (req, ctx), found 1"), "{stderr}");
}

#[test]
fn run_writes_json_markdown_and_a_self_contained_html_report() {
    let tmp = tempfile::tempdir().unwrap();
    let out = windtunnel(&[
        "run",
        "scenarios/static-fallback.toml",
        "--out",
        tmp.path().to_str().unwrap(),
        "--format",
        "json,md,html,junit",
    ]);
    assert!(out.status.success(), "{}", text(&out).1);
    let html = std::fs::read_to_string(tmp.path().join("report.html")).unwrap();
    assert!(html.matches("<svg").count() >= 4, "four charts");
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"), "no network");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("report.json")).unwrap()).unwrap();
    let windows = json["failover"]["windows"].as_array().unwrap();
    assert_eq!(windows.len(), 1);
    assert_eq!(windows[0]["fault"], "outage");
    assert!(windows[0]["detected_after_ms"].as_u64().unwrap() < 5_000, "{}", windows[0]);
    assert!(tmp.path().join("junit.xml").is_file() && tmp.path().join("report.md").is_file());
}

#[test]
fn check_refuses_a_tolerance_that_is_not_a_share() {
    for (value, found) in [("nan", "NaN"), ("-0.1", "-0.1"), ("inf", "inf"), ("-inf", "-inf")] {
        // `--tolerance=-inf`: clap takes a lone `-inf` for a flag.
        let out = windtunnel(&["check", "scenarios/quickstart.toml", &format!("--tolerance={value}")]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{value}: {stdout}\n{stderr}");
        assert_eq!(
            stderr.trim(),
            format!("error: --tolerance: found {found}, expected a share of 0 or more such as 0.05"),
            "{value}"
        );
        assert!(stdout.is_empty(), "nothing ran: {stdout}");
    }
}

#[test]
fn check_and_whatif_refuse_absurd_seed_counts() {
    let out = windtunnel(&["check", "scenarios/quickstart.toml", "--seeds", "1000001"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert_eq!(stderr.trim(), "error: --seeds 1000001: expected at most 1000000 seeds");
    let out =
        windtunnel(&["whatif", "scenarios/quickstart.toml", "--variant", "seed=1", "--seeds", "18446744073709551615"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert_eq!(stderr.trim(), "error: --seeds 18446744073709551615: expected at most 1000000 seeds");
}

/// A scenario named with a line break and `::` cannot forge a GitHub
/// workflow command, nor add a line, in any output of `check`.
#[test]
fn check_output_cannot_be_forged_by_a_scenario_name() {
    let tmp = tempfile::tempdir().unwrap();
    let name = r"evil\n::warning title=forged::pwned\r\u001b[2K";
    std::fs::write(tmp.path().join("s.toml"), crate::run::tiny_scenario(name, "\n[assert]\nmax_p99_ms = 1\n")).unwrap();
    let junit = tmp.path().join("junit.xml");
    let summary = tmp.path().join("summary.md");
    for format in ["text", "github"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_windtunnel"))
            .args(["check", "s.toml", "--seeds", "2", "--format", format, "--junit", junit.to_str().unwrap()])
            .env("GITHUB_STEP_SUMMARY", &summary)
            .current_dir(tmp.path())
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
        assert!(!stdout.contains('\r') && !stdout.contains('\u{1b}'), "{stdout:?}");
        for line in stdout.lines().filter(|l| !l.is_empty()) {
            let ours =
                ["ok  ", "FAIL", "warn", "::error title=windtunnel evil%0A%3A%3Awarning title=forged%3A%3Apwned%0D"]
                    .iter()
                    .any(|p| line.starts_with(p))
                    || line.starts_with("1 scenario(s)");
            assert!(ours, "{format}: a line the name made: {line:?}\n{stdout}");
        }
        let fail = stdout.lines().find(|l| l.starts_with("FAIL")).unwrap();
        assert!(
            fail.starts_with(r"FAIL  evil\n::warning title=forged::pwned\r\u{1b}[2K: max_p99_ms: actual "),
            "{fail}"
        );
        let annotations = stdout.lines().filter(|l| l.starts_with("::")).count();
        assert_eq!(annotations, if format == "github" { 1 } else { 0 }, "one per failed assertion line: {stdout}");
        let xml = std::fs::read_to_string(&junit).unwrap();
        assert!(!xml.contains("&#10;::") && !xml.contains("\n::") && !xml.contains('\u{1b}'), "{xml}");
    }
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(!md.lines().any(|l| l.trim_start().starts_with("::")) && !md.contains('\u{1b}'), "{md}");
}

/// `check … | head -1`: the exit code is still the gate's.
#[test]
fn check_exit_code_is_the_gates_when_stdout_is_closed() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("fails.toml"), crate::run::tiny_scenario("fails", "\n[assert]\nmax_p99_ms = 1\n"))
        .unwrap();
    std::fs::write(tmp.path().join("holds.toml"), crate::run::tiny_scenario("holds", "")).unwrap();
    let junit = tmp.path().join("junit.xml");
    let out = crate::run::closed_stdout(tmp.path(), &["check", "fails.toml", "--junit", junit.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "a failed assertion is exit 1 even unread: {stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    assert!(std::fs::read_to_string(&junit).unwrap().contains("<failure "), "the JUnit file is still written");
    let out = crate::run::closed_stdout(tmp.path(), &["check", "holds.toml", "--format", "github"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Many seeds: one line, JUnit case and annotation per assertion, and a job
/// summary that lists a bounded number of runs and counts the rest.
#[test]
fn check_over_many_seeds_keeps_its_output_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("s.toml"), crate::run::tiny_scenario("many", "\n[assert]\nmax_p99_ms = 1\n"))
        .unwrap();
    let summary = tmp.path().join("summary.md");
    let junit = tmp.path().join("junit.xml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_windtunnel"))
        .args(["check", "s.toml", "--seeds", "120", "--format", "github", "--junit", junit.to_str().unwrap()])
        .env("GITHUB_STEP_SUMMARY", &summary)
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let annotations: Vec<&str> = stdout.lines().filter(|l| l.starts_with("::error")).collect();
    assert_eq!(annotations.len(), 1, "{stdout}");
    assert!(annotations[0].ends_with("(seed 1; failed on 120 of 120 seeds)"), "{}", annotations[0]);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("(seed 1; failed on 120 of 120 seeds)"), "{xml}");
    assert!(xml.contains("<testsuite name=\"many [seeds 1–120]\""), "{xml}");
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("❌ **120 of 120 runs failed.**"), "{md}");
    let rows = md.lines().filter(|l| l.starts_with("| ❌ | many | ")).count();
    assert_eq!(rows, 51, "50 runs listed, then a count: {md}");
    assert!(md.contains("| ❌ | many | … | and 70 more runs not listed, 70 failed |"), "{md}");
}
