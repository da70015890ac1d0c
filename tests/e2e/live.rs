//! Live mode as a user runs it: `windtunnel serve-sim` as the loopback
//! upstream, `windtunnel proxy --sim --chaos --report` in front of it, plain
//! HTTP requests, SIGTERM, and the report on disk. Chaos rules, forced per
//! request with `x-windtunnel-chaos`, break the upstream's answers on purpose:
//! one case per failure of the live-mode acceptance list. Each case checks
//! that the client gets the complete answer or an honest error within a
//! bounded time, never a truncated answer presented as complete.

#![expect(clippy::disallowed_types, reason = "wall-clock bounds on live answers")]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed when dropped (a failing test leaves nothing
/// behind), and the stderr lines it wrote after it started listening.
struct Running(Child, std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `windtunnel args…` and waits for the `http://ADDR` it prints on
/// stderr once it listens; the rest of stderr is drained in the background.
fn start(args: &[&str]) -> (Running, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_windtunnel"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut addr = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(i) = line.find("http://") {
            // `… listening on http://ADDR (Ctrl-C …` or `… on http://ADDR:`
            let rest = &line[i + "http://".len()..];
            let end = rest.find([' ', '/']).unwrap_or(rest.len());
            addr = Some(rest[..end].trim_end_matches(':').to_string());
            break;
        }
    }
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    (Running(child, log), addr.expect("the command printed where it listens"))
}

const SCENARIO: &str = r#"
name = "live-e2e"
policy = { chain = ["sim/a", "sim/b"], attempt_timeout_ms = 1000, ttft_timeout_ms = 800, stall_timeout_ms = 400, max_attempts = 3, breaker = { failure_rate = 1.0, min_requests = 1000000, consecutive_failures = 0 } }

[[endpoints]]
name = "sim/a"
price = { input_per_mtok = 1.0, output_per_mtok = 2.0 }
latency = { ttft_ms = { dist = "fixed", value = 20 }, tokens_per_s = { dist = "fixed", value = 2000 } }

[[endpoints]]
name = "sim/b"
price = { input_per_mtok = 3.0, output_per_mtok = 6.0 }
latency = { ttft_ms = { dist = "fixed", value = 20 }, tokens_per_s = { dist = "fixed", value = 2000 } }
"#;

/// One rule per failure case, each forced by name and never by chance.
const RULES: &str = r#"
[[rule]]
name = "429-retry-after"
match = { endpoint = "sim/a" }
probability = 0.0
fault = { kind = "status", status = 429, retry_after = "1s" }
[[rule]]
name = "429-everywhere"
probability = 0.0
fault = { kind = "status", status = 429, retry_after = "2s" }
[[rule]]
name = "500-once"
match = { endpoint = "sim/a" }
probability = 0.0
fault = { kind = "status", status = 500 }
[[rule]]
name = "503-everywhere"
probability = 0.0
fault = { kind = "status", status = 503 }
[[rule]]
name = "reset"
match = { endpoint = "sim/a" }
probability = 0.0
fault = { kind = "reset" }
[[rule]]
name = "never-answers"
match = { endpoint = "sim/a" }
probability = 0.0
fault = { kind = "hang" }
[[rule]]
name = "first-token-20s"
match = { endpoint = "sim/a" }
probability = 0.0
fault = { kind = "ttft_delay", ms = 20000 }
[[rule]]
name = "cut-after-40"
match = { endpoint = "sim/a" }
probability = 0.0
fault = { kind = "stream_cut", after_tokens = 40 }
[[rule]]
name = "stall-30s"
match = { endpoint = "sim/a" }
probability = 0.0
fault = { kind = "stall", after_tokens = 10, ms = 30000 }
[[rule]]
name = "malformed"
match = { endpoint = "sim/a" }
probability = 0.0
fault = { kind = "malformed", after_tokens = 10 }
[[rule]]
name = "no-done"
match = { endpoint = "sim/a" }
probability = 0.0
fault = { kind = "no_done" }
[[rule]]
name = "context-400"
match = { endpoint = "sim/a" }
probability = 0.0
fault = { kind = "status", status = 400, body = '{"error": {"message": "This model maximum context length is 8192 tokens", "type": "invalid_request_error", "code": "context_length_exceeded"}}' }
[[rule]]
name = "filter-400"
match = { endpoint = "sim/a" }
probability = 0.0
fault = { kind = "status", status = 400, body = '{"error": {"message": "flagged by the content filter", "type": "invalid_request_error", "code": "content_filter"}}' }
"#;

/// What the client should get.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// The whole answer from `sim/b` (failed over unseen).
    FromB,
    /// An error status before any byte.
    Status(u16),
    /// A stream that started, then an error event and no `[DONE]`.
    CutStream,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_binary_meets_every_live_failure_honestly_and_reports_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("live.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let rules = dir.path().join("chaos.toml");
    std::fs::write(&rules, RULES).unwrap();
    let scenario = scenario.to_str().unwrap();
    let (_sim, sim) = start(&["serve-sim", scenario, "--listen", "127.0.0.1:0"]);
    let report_dir = dir.path().join("report");
    let (mut proxy, addr) = start(&[
        "proxy",
        scenario,
        "--listen",
        "127.0.0.1:0",
        "--sim",
        &format!("http://{sim}"),
        "--chaos",
        rules.to_str().unwrap(),
        "--report",
        report_dir.to_str().unwrap(),
    ]);
    let http = reqwest::Client::new();
    use Expect::*;
    let cases: [(&str, bool, Expect, &str); 16] = [
        ("", false, FromB, ""), // no fault: served by a
        ("429-retry-after", false, FromB, ""),
        ("429-everywhere", false, Status(429), "rate_limited"),
        ("500-once", true, FromB, ""),
        ("503-everywhere", false, Status(503), "overloaded"),
        ("reset", true, FromB, ""),
        ("never-answers", false, FromB, ""),
        ("first-token-20s", true, FromB, ""),
        ("cut-after-40", true, CutStream, "stream_cut"),
        ("stall-30s", true, CutStream, "stream_cut"),
        ("malformed", true, CutStream, "malformed"),
        ("no-done", true, CutStream, "stream_cut"),
        ("context-400", false, Status(400), "context"),
        ("filter-400", false, Status(400), "content"),
        ("reset", false, FromB, ""),
        ("cut-after-40", false, FromB, ""),
    ];
    let mut injected = 0;
    for (i, (rule, stream, expect, says)) in cases.iter().enumerate() {
        let body = serde_json::json!({
            "model": "any", "stream": stream, "max_tokens": 60,
            "messages": [{"role": "user", "content": "Say hello in sixty words."}]
        });
        let mut rb = http
            .post(format!("http://{addr}/v1/chat/completions"))
            .header("content-type", "application/json")
            .header("x-windtunnel-request-id", format!("e2e-{i}"))
            .body(body.to_string());
        if !rule.is_empty() {
            rb = rb.header("x-windtunnel-chaos", *rule);
        }
        let started = Instant::now();
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        let h = |n: &str| r.headers().get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let (endpoint, chaos, id, retry_after, attempts) = (
            h("x-windtunnel-endpoint"),
            h("x-windtunnel-chaos"),
            h("x-windtunnel-request-id"),
            h("retry-after"),
            h("x-windtunnel-attempts"),
        );
        let text = r.text().await.unwrap();
        let took = started.elapsed();
        let case = format!("{rule} (stream {stream}): {status} {text}");
        assert!(took < Duration::from_secs(5), "{case}: answered within a bound, took {took:?}");
        assert_eq!(id, format!("e2e-{i}"), "{case}");
        if rule.is_empty() {
            assert_eq!((status, endpoint.as_str()), (200, "sim/a"), "{case}");
            continue;
        }
        assert_eq!(chaos.split(',').next(), Some(*rule), "{case}: named in x-windtunnel-chaos");
        injected += chaos.split(',').count();
        match expect {
            FromB => {
                assert_eq!((status, endpoint.as_str()), (200, "sim/b"), "{case}");
                if *stream {
                    assert!(text.trim_end().ends_with("data: [DONE]"), "{case}");
                } else {
                    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                    assert!(v["usage"]["completion_tokens"].as_u64().unwrap() > 0, "{case}");
                }
            }
            Status(s) => {
                assert_eq!(status, *s, "{case}");
                assert!(text.contains("\"error\"") && text.contains(says), "{case}");
                if *s == 429 {
                    assert!(retry_after.parse::<u64>().is_ok_and(|r| r >= 1), "{case}: Retry-After {retry_after}");
                }
                if *s == 400 {
                    assert_eq!(attempts, "1", "{case}: a fatal 400 is neither retried nor failed over");
                }
            }
            CutStream => {
                assert_eq!(status, 200, "{case}");
                assert!(
                    text.contains("data: {\"choices\"") || text.contains("chat.completion.chunk"),
                    "{case}: it had started"
                );
                assert!(!text.contains("[DONE]"), "{case}: a cut answer never looks complete");
                assert!(text.contains("\"error\"") && text.contains(says), "{case}: the error event names `{says}`");
            }
        }
        // A Retry-After holds the endpoint: let it pass before the next case.
        if rule.starts_with("429") {
            tokio::time::sleep(Duration::from_millis(2100)).await;
        }
    }
    // SIGTERM: the proxy drains, writes its report, exits 0.
    let pid = proxy.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = proxy.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the proxy did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report_dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["trace"]["requests"], cases.len());
    assert_eq!(report["chaos"]["injected"], injected);
    // Each injection is a line of the proxy's log, naming rule, kind and request.
    std::thread::sleep(Duration::from_millis(100));
    let log = proxy.1.lock().unwrap().clone();
    let lines = log.iter().filter(|l| l.contains("windtunnel proxy: chaos: rule `")).count();
    assert_eq!(lines, injected, "{log:#?}");
    assert!(log.iter().any(|l| l.contains("rule `reset` injected `reset` into attempt 1 of request")), "{log:#?}");
    assert_eq!(report["chaos"]["by_kind"]["stall"], 1);
    assert!(report["cost"]["total_usd"].as_f64().unwrap() > 0.0, "usage after failovers is billed");
    let a = &report["attempts"]["by_endpoint"]["sim/a"]["errors"];
    assert_eq!(a["context_exceeded"], 1, "a context-length 400 is classified: {a}");
    assert_eq!(a["content_filter"], 1, "a content-filter 400 is classified: {a}");
    for inv in report["invariants"].as_array().unwrap() {
        assert_eq!(inv["violations"], 0, "{inv}");
    }
    assert!(report_dir.join("report.md").is_file() && report_dir.join("report.html").is_file());
}

#[test]
fn a_bad_chaos_file_is_refused_with_where_and_what() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("live.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let rules = dir.path().join("chaos.toml");
    std::fs::write(&rules, "[[rule]]\nname = \"x\"\nprobability = 0.5\nfault = { kind = \"status\", status = 429, retry_after = \"2 s\" }\n[[rule]]\nname = \"y\"\nfault = { kind = \"explode\" }\n").unwrap();
    let out = crate::windtunnel(&[
        "proxy",
        scenario.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--chaos",
        rules.to_str().unwrap(),
    ]);
    let (_, err) = crate::text(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("chaos.toml:7:") && err.contains("unknown variant `explode`"), "{err}");
    std::fs::write(&rules, "[[rule]]\nname = \"x\"\nmatch = { endpoint = \"sim/z\" }\nfault = { kind = \"hang\" }\n")
        .unwrap();
    let out = crate::windtunnel(&[
        "proxy",
        scenario.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--chaos",
        rules.to_str().unwrap(),
    ]);
    let (_, err) = crate::text(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("rule 1 (`x`): match.endpoint: `sim/z` is not an endpoint"), "{err}");
}

/// `windtunnel load` against serve-sim: every line of a trace file is sent
/// once and answered, `load.json` says so; a trace with a bad line is
/// refused with its file and line before anything is sent.
#[test]
fn load_sends_every_line_of_a_trace_and_refuses_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("live.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let (_sim, sim) = start(&["serve-sim", scenario.to_str().unwrap(), "--listen", "127.0.0.1:0", "--speed", "10"]);
    let trace = dir.path().join("t.jsonl");
    let lines: String = (0..40)
        .map(|i| {
            format!(
                "{{\"at_ms\":{},\"input_tokens\":{},\"output_tokens\":5,\"stream\":{}}}\n",
                i * 25,
                600 + i,
                i % 2 == 0
            )
        })
        .collect();
    std::fs::write(&trace, lines).unwrap();
    let out_dir = dir.path().join("out");
    let target = format!("http://{sim}/sim/a/v1");
    let args = ["load", trace.to_str().unwrap(), "--target", &target, "--speed", "10"];
    let out = crate::windtunnel(&[&args[..], &["--out", out_dir.to_str().unwrap()]].concat());
    let (stdout, err) = crate::text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{err}");
    let load: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("load.json")).unwrap()).unwrap();
    assert_eq!(
        (load["sent"].as_u64(), load["answered"].as_u64(), load["lost"].as_u64()),
        (Some(40), Some(40), Some(0))
    );
    assert_eq!(load["by_status"]["200"].as_u64(), Some(40), "{load}");

    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"at_ms\":0,\"input_tokens\":5,\"output_tokens\":1}\n{\"at_ms\":1,\"input_tokens\":5,\"output_tokens\":1}\n{\"at_ms\":\"soon\"}\n")
        .unwrap();
    let out = crate::windtunnel(&["load", bad.to_str().unwrap(), "--target", &target]);
    let (stdout, err) = crate::text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{err}");
    assert!(err.contains("bad.jsonl:3"), "{err}");
    assert!(!stdout.contains("sent"), "nothing is sent: {stdout}");
}
