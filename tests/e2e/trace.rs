//! `windtunnel trace import|gen|stats`.

use crate::*;

#[test]
fn import_each_public_trace_and_read_it_back() {
    let tmp = tempfile::tempdir().unwrap();
    for (from, file, requests) in [
        ("azure", "azure-llm-2023/AzureLLMInferenceTrace_code_first2000.csv", 2_000u64),
        ("burstgpt", "burstgpt/BurstGPT_3_first400.csv", 400),
        ("mooncake", "mooncake/synthetic_first500.jsonl", 500),
    ] {
        let out = tmp.path().join(format!("{from}.jsonl"));
        let input = test_data(file);
        let o = windtunnel(&["trace", "import", "--from", from, input.to_str().unwrap(), "-o", out.to_str().unwrap()]);
        let (_, stderr) = text(&o);
        assert!(o.status.success(), "{from}: {stderr}");
        assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count() as u64, requests, "{from}");
        let stats = windtunnel(&["trace", "stats", out.to_str().unwrap(), "--json"]);
        assert!(stats.status.success(), "{from}: {}", text(&stats).1);
        let v: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
        assert_eq!(v["requests"].as_u64(), Some(requests), "{from}");
    }
}

#[test]
fn import_to_stdout_and_stats_as_a_table() {
    let input = test_data("burstgpt/BurstGPT_1_first400.csv");
    let o = windtunnel(&["trace", "import", "--from", "burstgpt", input.to_str().unwrap()]);
    assert!(o.status.success());
    let first = String::from_utf8(o.stdout).unwrap().lines().next().unwrap().to_string();
    let v: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(
        (v["at_ms"].as_u64(), v["input_tokens"].as_u64(), v["output_tokens"].as_u64()),
        (Some(0), Some(472), Some(18))
    );
    let stats = windtunnel(&["trace", "stats", "--format", "burstgpt", input.to_str().unwrap()]);
    let (stdout, stderr) = text(&stats);
    assert!(stats.status.success(), "{stderr}");
    assert!(stdout.contains("400"), "{stdout}");
}

#[test]
fn gen_is_deterministic_by_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let generate = |name: &str, seed: &str| {
        let out = tmp.path().join(name);
        let o = windtunnel(&[
            "trace",
            "gen",
            "-o",
            out.to_str().unwrap(),
            "--rate",
            "20",
            "--duration",
            "5m",
            "--pattern",
            "bursty",
            "--classes",
            "interactive=0.7,batch=0.3",
            "--seed",
            seed,
        ]);
        assert!(o.status.success(), "{}", text(&o).1);
        std::fs::read(out).unwrap()
    };
    let (a, b, c) = (generate("a.jsonl", "1"), generate("b.jsonl", "1"), generate("c.jsonl", "2"));
    assert_eq!(a, b);
    assert_ne!(a, c);
    let lines = a.iter().filter(|&&b| b == b'\n').count();
    assert!((5_400..=6_600).contains(&lines), "20/s for 5 min is about 6,000 requests, got {lines}");
}

#[test]
fn a_malformed_trace_line_is_an_error_naming_the_line() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("bad.jsonl");
    std::fs::write(
        &path,
        "{\"at_ms\": 0, \"input_tokens\": 10, \"output_tokens\": 5}\n{\"at_ms\": 5, \"input_tokens\": \"x\", \"output_tokens\": 5}\n",
    )
    .unwrap();
    let o = windtunnel(&["trace", "stats", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let (_, stderr) = text(&o);
    assert_eq!(
        stderr,
        format!(
            "error: {}:2:30: invalid type for `input_tokens`: found string \"x\", expected an integer\n",
            path.display()
        )
    );
    let skipped = windtunnel(&["trace", "stats", path.to_str().unwrap(), "--skip-bad-lines", "--json"]);
    assert!(skipped.status.success());
    let v: serde_json::Value = serde_json::from_slice(&skipped.stdout).unwrap();
    assert_eq!(v["requests"].as_u64(), Some(1));
}

#[test]
fn run_skips_and_counts_bad_trace_lines_only_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let trace = tmp.path().join("t.jsonl");
    std::fs::write(
        &trace,
        "{\"at_ms\": 0, \"input_tokens\": 10, \"output_tokens\": 5}\nnot json\n{\"at_ms\": 9, \"input_tokens\": 10, \"output_tokens\": 5}\n",
    )
    .unwrap();
    let out_dir = tmp.path().join("out");
    let args =
        ["run", "scenarios/quickstart.toml", "--trace", trace.to_str().unwrap(), "--out", out_dir.to_str().unwrap()];
    let strict = windtunnel(&args);
    assert_eq!(strict.status.code(), Some(2));
    assert!(text(&strict).1.contains("t.jsonl:2:"), "{}", text(&strict).1);
    let lenient = windtunnel(&[&args[..], &["--skip-bad-lines", "--format", "json"]].concat());
    assert!(lenient.status.success(), "{}", text(&lenient).1);
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(out_dir.join("report.json")).unwrap()).unwrap();
    assert_eq!((r["trace"]["requests"].as_u64(), r["trace"]["skipped_lines"].as_u64()), (Some(2), Some(1)));
}
