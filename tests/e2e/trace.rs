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

/// A request line of windtunnel's JSON lines with `extra` fields added.
fn jsonl_line(at_ms: u64, extra: &str) -> String {
    format!("{{\"at_ms\": {at_ms}, \"input_tokens\": 10, \"output_tokens\": 5{extra}}}\n")
}

/// `windtunnel trace stats FILE args…` on a file holding `bytes`: exit code,
/// stdout, stderr and the file (in a folder removed when the test ends).
fn stats_of(name: &str, bytes: &[u8], args: &[&str]) -> (Option<i32>, String, String, TempPath) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    let o = windtunnel(&[&["trace", "stats", path.to_str().unwrap()], args].concat());
    let (stdout, stderr) = text(&o);
    (o.status.code(), stdout, stderr, TempPath { path, _dir: dir })
}

/// A file in a temporary folder; the folder goes when this does.
struct TempPath {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for TempPath {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

#[test]
fn stats_table_shortens_a_64_kib_name_instead_of_panicking() {
    let long = "m".repeat(70_000);
    let trace = [
        jsonl_line(
            0,
            &format!(", \"class\": \"{long}\", \"model\": \"{long}\", \"tenant\": \"{long}\", \"lang\": \"{long}\""),
        ),
        jsonl_line(1, ""),
    ]
    .concat();
    let (code, stdout, stderr, _) = stats_of("long.jsonl", trace.as_bytes(), &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.lines().all(|l| l.len() < 120), "{stdout}");
    assert!(stdout.contains(&format!("{}...", "m".repeat(48))), "{stdout}");
    let (code, stdout, _, _) = stats_of("long.jsonl", trace.as_bytes(), &["--json"]);
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["by_class"][&long].as_u64(), Some(1), "the JSON keeps names whole");
}

#[test]
fn gen_refuses_a_rate_duration_or_size_that_would_not_end() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("g.jsonl");
    let gen_with = |args: &[&str]| {
        let o = windtunnel(&[&["trace", "gen", "-o", out.to_str().unwrap()], args].concat());
        (o.status.code(), text(&o).1)
    };
    assert_eq!(
        gen_with(&["--rate", "1e12"]),
        (
            Some(2),
            "error: --rate 1000000000000: invalid rate: found 1000000000000 requests per second, expected a number greater than 0 and at most 1000000\n".to_string()
        )
    );
    // u64::MAX ms is refused by the duration parser itself (ten years at most) …
    let (code, stderr) = gen_with(&["--duration", "18446744073709551615ms"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("is longer than the most allowed"), "{stderr}");
    // … and a trace longer than 366 days by the generator's limits.
    let (code, stderr) = gen_with(&["--duration", "400d"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.starts_with("error: --duration 400d: invalid duration: found ")
            && stderr.ends_with(", expected more than 0 and at most 366 days (8784h)\n"),
        "{stderr}"
    );
    assert_eq!(
        gen_with(&["--rate", "1000000", "--duration", "1h"]),
        (
            Some(2),
            "error: --rate 1000000 --duration 1h: too many requests: 1000000 per second for 1h is about 3600000000 requests, expected at most 100000000; lower the rate or the duration\n".to_string()
        )
    );
    assert!(!out.exists(), "nothing is written when the spec is refused");
}

#[test]
fn gen_refuses_a_negative_or_fractional_fixed_token_count() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("g.jsonl");
    for (flag, dist, found) in [("--input-tokens", "fixed:-1", "-1"), ("--output-tokens", "fixed:2.5", "2.5")] {
        let o = windtunnel(&["trace", "gen", "-o", out.to_str().unwrap(), "--duration", "1m", flag, dist]);
        assert_eq!(o.status.code(), Some(2));
        assert_eq!(
            text(&o).1,
            format!("error: {flag} `{dist}`: found {found}, expected a token count, an integer from 0 to 4294967295\n")
        );
    }
    let o = windtunnel(&["trace", "gen", "-o", out.to_str().unwrap(), "--duration", "1m", "--input-tokens", "fixed:0"]);
    assert!(o.status.success(), "{}", text(&o).1);
}

const AZURE_CSV: &str = "TIMESTAMP,ContextTokens,GeneratedTokens\n\
    2023-11-16 18:17:03.9799600,4808,10\n\
    2023-11-16 18:17:04.0319600,3180,8\n";

#[test]
fn import_refuses_to_overwrite_its_own_input() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("az.csv");
    std::fs::write(&input, AZURE_CSV).unwrap();
    let alias = tmp.path().join("alias.csv");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&input, &alias).unwrap();
    #[cfg(not(unix))]
    std::fs::hard_link(&input, &alias).unwrap();
    let dotted = tmp.path().join(".").join("az.csv");
    for out in [&input, &alias, &dotted] {
        let o =
            windtunnel(&["trace", "import", "--from", "azure", input.to_str().unwrap(), "-o", out.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{}", out.display());
        assert_eq!(
            text(&o).1,
            format!(
                "error: -o `{}`: found the input trace `{}` itself, expected another file (writing it would destroy the trace before it is read)\n",
                out.display(),
                input.display()
            )
        );
        assert_eq!(std::fs::read_to_string(&input).unwrap(), AZURE_CSV, "the input is untouched");
    }
}

#[test]
fn an_azure_row_of_empty_fields_is_an_error_or_a_counted_skip() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("az.csv");
    std::fs::write(&input, format!("{AZURE_CSV},,\n2023-11-16 18:17:05.0,1,1\n")).unwrap();
    let o = windtunnel(&["trace", "import", "--from", "azure", input.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        text(&o).1,
        format!(
            "error: {}:4:1: invalid value for `TIMESTAMP`: found nothing, expected a time like `2023-11-16 18:17:03.9799600`\n",
            input.display()
        )
    );
    let o = windtunnel(&["trace", "import", "--from", "azure", input.to_str().unwrap(), "--skip-bad-lines"]);
    assert!(o.status.success(), "{}", text(&o).1);
    assert_eq!(text(&o).0.lines().count(), 3);
    assert!(text(&o).1.contains("(1 bad lines skipped)"), "{}", text(&o).1);
}

#[test]
fn messages_that_are_not_an_array_are_refused_with_line_and_column() {
    let trace = [jsonl_line(0, ""), jsonl_line(1, ", \"messages\": 5")].concat();
    let (code, _, stderr, path) = stats_of("m.jsonl", trace.as_bytes(), &[]);
    assert_eq!(code, Some(2));
    assert_eq!(
        stderr,
        format!(
            "error: {}:2:66: invalid type for `messages`: found number 5, expected an array of objects\n",
            path.display()
        )
    );
}

#[test]
fn a_csv_read_as_json_lines_gets_the_flag_that_gives_its_format() {
    let (code, _, stderr, path) = stats_of("az.csv", AZURE_CSV.as_bytes(), &[]);
    assert_eq!(code, Some(2));
    assert_eq!(
        stderr,
        format!(
            "error: {}:1:1: invalid json: found `TIMESTAMP,ContextTokens,GeneratedTokens`, expected a json object; this looks like csv; pass --format azure|burstgpt\n",
            path.display()
        )
    );
    let (code, _, _, _) = stats_of("az.csv", AZURE_CSV.as_bytes(), &["--format", "azure"]);
    assert_eq!(code, Some(0));
    let o = windtunnel(&[
        "run",
        "scenarios/quickstart.toml",
        "--trace",
        path.to_str().unwrap(),
        "--out",
        path.with_extension("out").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).1.ends_with(
            "this looks like csv; pass --trace-format azure|burstgpt with --trace, or set `format` under [trace] in the scenario\n"
        ),
        "{}",
        text(&o).1
    );
}

#[test]
fn invalid_utf8_is_reported_with_line_and_column() {
    let mut bytes = jsonl_line(0, "").into_bytes();
    bytes.extend_from_slice(b"{\"at_ms\": 1, \"tenant\": \"a\xFFb\", \"input_tokens\": 1, \"output_tokens\": 1}\n");
    let (code, _, stderr, path) = stats_of("u.jsonl", &bytes, &[]);
    assert_eq!(code, Some(2));
    assert_eq!(stderr, format!("error: {}:2:26: invalid utf-8, expected a utf-8 text line\n", path.display()));
    let mut csv = AZURE_CSV.as_bytes().to_vec();
    csv.extend_from_slice(b"2023-11-16 18:17:05.0,12\xC3,1\n");
    let (code, _, stderr, path) = stats_of("u.csv", &csv, &["--format", "azure"]);
    assert_eq!(code, Some(2));
    assert_eq!(stderr, format!("error: {}:4:25: invalid utf-8, expected a utf-8 text line\n", path.display()));
}

#[test]
fn a_folder_or_dev_zero_is_a_clear_error_and_dev_null_an_empty_trace() {
    let tmp = tempfile::tempdir().unwrap();
    let o = windtunnel(&["trace", "stats", tmp.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        text(&o).1,
        format!("error: cannot open trace `{}`: is a directory, expected a trace file\n", tmp.path().display())
    );
    if cfg!(unix) {
        for format in ["jsonl", "azure"] {
            let o = windtunnel(&["trace", "stats", "/dev/zero", "--format", format]);
            assert_eq!(o.status.code(), Some(2), "{format}");
            assert_eq!(
                text(&o).1,
                "error: /dev/zero:1: line too long: found more than 16 MiB without a line break, expected at most 16 MiB per line\n",
                "{format}"
            );
        }
        let o = windtunnel(&["trace", "stats", "/dev/null", "--json"]);
        assert!(o.status.success(), "{}", text(&o).1);
    }
}

#[test]
fn invisible_characters_are_escaped_in_errors_and_a_leading_bom_is_skipped() {
    let bom_trace = ["\u{feff}", &jsonl_line(0, ""), &jsonl_line(1, "")].concat();
    let (code, stdout, stderr, _) = stats_of("bom.jsonl", bom_trace.as_bytes(), &["--json"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&stdout).unwrap()["requests"].as_u64(), Some(2));
    let csv = format!("\u{feff}{AZURE_CSV}2023-11-16 18:17:05.0,\u{feff}12\0,1\n");
    let (code, _, stderr, path) = stats_of("nul.csv", csv.as_bytes(), &["--format", "azure"]);
    assert_eq!(code, Some(2));
    assert_eq!(
        stderr,
        format!(
            "error: {}:4:23: invalid value for `ContextTokens`: found \"\\u{{feff}}12\\0\", expected an integer from 0 to 4294967295\n",
            path.display()
        )
    );
}

#[test]
fn an_unterminated_csv_quote_is_blamed_on_the_line_that_opened_it() {
    let csv =
        format!("{AZURE_CSV}2023-11-16 18:17:05.0,\"12,1\n2023-11-16 18:17:06.0,1,1\n2023-11-16 18:17:07.0,1,1\n");
    let (code, _, stderr, path) = stats_of("q.csv", csv.as_bytes(), &["--format", "azure", "--skip-bad-lines"]);
    assert_eq!(code, Some(2));
    assert_eq!(
        stderr,
        format!(
            "error: {}:4:23: unterminated quote: found an opening `\"` with no closing `\"` on its line, expected a closing `\"`\n",
            path.display()
        )
    );
}

/// `--repeat-share`: repeated prompts carry `prompt_hash` (a response cache
/// in front of `run` answers some of them); bad values and the combination
/// with conversations are refused with exit code 2.
#[test]
fn gen_repeats_popular_prompts_and_refuses_bad_repeat_options() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("r.jsonl");
    let path = out.to_str().unwrap();
    let args = ["trace", "gen", "-o", path, "--rate", "20", "--duration", "5m", "--repeat-share", "0.4"];
    let o = windtunnel(&[&args[..], &["--repeat-prompts", "50"]].concat());
    assert!(o.status.success(), "{}", text(&o).1);
    let body = std::fs::read_to_string(&out).unwrap();
    let hashes: Vec<u64> = body
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["prompt_hash"].as_u64())
        .collect();
    let share = hashes.len() as f64 / body.lines().count() as f64;
    assert!((0.35..0.45).contains(&share), "share with prompt_hash {share}");
    assert!(hashes.iter().all(|h| (1..=50).contains(h)));

    let o = windtunnel(&[&args[..], &["--repeat-prompts", "0"]].concat());
    assert_eq!(
        (o.status.code(), text(&o).1.as_str()),
        (Some(2), "error: --repeat-prompts 0: expected an integer from 1 to 1000000\n")
    );
    let o = windtunnel(&["trace", "gen", "-o", path, "--repeat-share", "2"]);
    assert_eq!(
        (o.status.code(), text(&o).1.as_str()),
        (Some(2), "error: --repeat-share 2: expected a share from 0 to 1\n")
    );
    let o = windtunnel(&["trace", "gen", "-o", path, "--repeat-share", "0.2", "--conversation-turns", "3"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("cannot be used with"), "{}", text(&o).1);
}
