//! Bad input: exit code 2 and a message naming file, line, column and key.

use crate::*;

/// Writes the quickstart with `from` replaced by `to` beside the original (so
/// relative paths still resolve) and runs it.
fn run_edited(from: &str, to: &str) -> (i32, String) {
    let original = std::fs::read_to_string(root().join("scenarios/quickstart.toml")).unwrap();
    assert!(original.contains(from), "the quickstart no longer contains {from:?}");
    let dir = root().join("scenarios");
    let name = format!("e2e-bad-{:x}.toml", md5ish(to));
    let file = Removed(dir.join(&name));
    std::fs::write(&file.0, original.replacen(from, to, 1)).unwrap();
    let out = windtunnel_in(&dir, &["run", &name, "--out", std::env::temp_dir().join(&name).to_str().unwrap()]);
    drop(file);
    let (_, stderr) = text(&out);
    (out.status.code().unwrap_or(-1), stderr.replace(&name, "SCENARIO"))
}

/// Removes the edited scenario even when an assertion fails.
struct Removed(PathBuf);

impl Drop for Removed {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn md5ish(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100000001b3))
}

fn line_of(needle: &str) -> usize {
    let text = std::fs::read_to_string(root().join("scenarios/quickstart.toml")).unwrap();
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn unknown_key_names_file_line_column_and_suggests() {
    let line = line_of("concurrency = 256");
    let (code, stderr) = run_edited("concurrency = 256", "concurency = 256");
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        format!("error: SCENARIO:{line}:1: unknown key `concurency` in endpoints[0], did you mean `concurrency`?\n")
    );
}

#[test]
fn wrong_type_names_the_key_and_what_was_expected() {
    let line = line_of("concurrency = 256");
    let (code, stderr) = run_edited("concurrency = 256", "concurrency = \"many\"");
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        format!(
            "error: SCENARIO:{line}:15: invalid type for `endpoints[0].concurrency`: found string \"many\", expected an integer\n"
        )
    );
}

#[test]
fn negative_duration_is_refused() {
    let line = line_of("start = \"3m\"");
    let (code, stderr) = run_edited("start = \"3m\"", "start = \"-3m\"");
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        format!(
            "error: SCENARIO:{line}:9: invalid duration for `endpoints[0].faults[0].start`: negative duration `-3m`, expected zero or more\n"
        )
    );
}

#[test]
fn unknown_endpoint_in_chain_is_refused_at_load_time() {
    let (code, stderr) =
        run_edited("\"deepseek/deepseek-chat\", \"anthropic", "\"deepseek/deepseek-chaat\", \"anthropic");
    assert_eq!(code, 2);
    let line = line_of("policy = { chain");
    let text = std::fs::read_to_string(root().join("scenarios/quickstart.toml")).unwrap();
    let col = text.lines().nth(line - 1).unwrap().find("\"deepseek/").unwrap() + 1;
    assert_eq!(
        stderr,
        format!(
            "error: SCENARIO:{line}:{col}: unknown endpoint `deepseek/deepseek-chaat` in policy.chain, did you mean `deepseek/deepseek-chat`?\n"
        )
    );
}

#[test]
fn missing_trace_file_is_refused() {
    let line = line_of("path = \"traces/azure");
    let (code, stderr) = run_edited("traces/azure-conv-first10m.csv", "traces/nope.csv");
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with(&format!("error: SCENARIO:{line}:8: cannot read trace.path `traces/nope.csv`")),
        "{stderr}"
    );
}

#[test]
fn missing_scenario_file_is_refused() {
    let out = windtunnel(&["run", "scenarios/nope.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let (_, stderr) = text(&out);
    assert_eq!(stderr, "error: cannot read scenario `scenarios/nope.toml`: No such file or directory (os error 2)\n");
}

#[test]
fn bad_set_override_is_refused() {
    let out = windtunnel(&["run", "scenarios/quickstart.toml", "--set", "endpoints.openai/gpt-4o-mni.concurrency=3"]);
    assert_eq!(out.status.code(), Some(2));
    let (_, stderr) = text(&out);
    assert!(stderr.contains("gpt-4o-mni"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Runs `windtunnel args…`; `None` if it was still running after about
/// `secs` seconds (it is killed then), so that a hang fails the test instead
/// of hanging the suite.
fn windtunnel_within(secs: u64, args: &[&str]) -> Option<std::process::Output> {
    use std::process::Stdio;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_windtunnel"))
        .args(args)
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Polls every 50 ms (the clippy configuration keeps `Instant` out).
    for _ in 0..secs * 20 {
        if child.try_wait().unwrap().is_some() {
            return Some(child.wait_with_output().unwrap());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    None
}

#[cfg(unix)]
#[test]
fn policy_test_does_not_follow_symlinked_folders_round_in_circles() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("policies");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    for name in ["static-fallback.rhai", "static-fallback_test.rhai"] {
        std::fs::copy(root().join("policies").join(name), dir.join("sub").join(name)).unwrap();
    }
    // Two links to an ancestor: followed, the walk would branch without end.
    std::os::unix::fs::symlink("..", dir.join("sub/up")).unwrap();
    std::os::unix::fs::symlink("../..", dir.join("sub/up2")).unwrap();
    let o = windtunnel_within(60, &["policy", "test", dir.to_str().unwrap()])
        .expect("policy test still running after 60 s");
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{stdout}{stderr}");
    let passed = stdout.lines().filter(|l| l.starts_with("PASS:")).count();
    assert!(passed > 0, "{stdout}");
    assert!(stdout.lines().filter(|l| l.starts_with("PASS:")).all(|l| l.contains("sub/static-fallback_test.rhai")));
}

/// Runs `windtunnel args…` with its stdout closed from the start, as
/// `windtunnel … | head` ends up once `head` has its lines.
#[cfg(unix)]
fn with_stdout_closed(args: &[&str]) -> std::process::Output {
    use std::process::Stdio;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_windtunnel"))
        .args(args)
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

#[cfg(unix)]
#[test]
fn a_closed_stdout_is_a_quiet_exit_not_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = test_data("azure-llm-2023/AzureLLMInferenceTrace_code_first2000.csv");
    let trace = tmp.path().join("t.jsonl");
    let o = windtunnel(&["trace", "import", "--from", "azure", csv.to_str().unwrap(), "-o", trace.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o).1);
    let out = tmp.path().join("out");
    for args in [
        // 2,000 lines to stdout: more than a pipe holds.
        &["trace", "import", "--from", "azure", csv.to_str().unwrap()][..],
        &["trace", "stats", trace.to_str().unwrap()],
        &["trace", "stats", trace.to_str().unwrap(), "--json"],
        &["policy", "test", "policies"],
        &["policy", "lint", "policies/static-fallback.rhai"],
        // `run` prints with `println!`: the panic is caught.
        &["run", "scenarios/quickstart.toml", "--out", out.to_str().unwrap(), "--format", "json"],
    ] {
        let o = with_stdout_closed(args);
        let (_, stderr) = text(&o);
        assert_eq!((o.status.code(), stderr.as_str()), (Some(0), ""), "{args:?}");
    }
}

#[test]
fn negative_numbers_reach_the_checks_instead_of_a_wrong_clap_tip() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("g.jsonl");
    let o = windtunnel(&["trace", "gen", "-o", out.to_str().unwrap(), "--rate", "-5"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        text(&o).1,
        "error: --rate -5: invalid rate: found -5 requests per second, expected a number greater than 0 and at most 1000000\n"
    );
    let o = windtunnel(&["trace", "gen", "-o", out.to_str().unwrap(), "--stream-share", "-0.5"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(text(&o).1, "error: --stream-share -0.5: expected a share from 0 to 1\n");
    let o = windtunnel(&["trace", "gen", "-o", out.to_str().unwrap(), "--duration", "-5m"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.starts_with("error: --duration: "), "{}", text(&o).1);
    assert!(!text(&o).1.contains("unexpected argument"), "{}", text(&o).1);
    // An unsigned option gets clap's own words about the value, not a tip to write `-- -1`.
    let o = windtunnel(&["run", "scenarios/quickstart.toml", "--seed", "-1"]);
    assert_eq!(o.status.code(), Some(2));
    let (_, stderr) = text(&o);
    assert!(stderr.contains("invalid value '-1' for '--seed <SEED>'"), "{stderr}");
    assert!(!stderr.contains("unexpected argument") && !stderr.contains("-- -1"), "{stderr}");
}

#[test]
fn a_scenario_that_is_a_folder_or_endless_is_a_clear_error() {
    let out = windtunnel(&["run", "scenarios"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("cannot read scenario `scenarios`: is a directory, expected a scenario file"));
    let out = windtunnel(&["run", "/dev/zero"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("larger than 16 MiB, expected a scenario file"), "{}", text(&out).1);
    let out = windtunnel(&["run", "scenarios/quickstart.toml", "--trace", "scenarios"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("cannot read trace `scenarios`: is a directory, expected a file"));
}
