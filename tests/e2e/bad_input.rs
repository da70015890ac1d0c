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
