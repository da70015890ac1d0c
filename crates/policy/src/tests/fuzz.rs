//! Fuzzing the policy front door: arbitrary text, token soup and mutations
//! of the shipped policies through load, lint, `policy test` and every hook.
//! Whatever the text, the answer is a [`PolicyError`](crate::PolicyError),
//! or a policy whose calls route or fail: never a panic.
//!
//! Bounded memory: the inputs are a few KiB at most (the strategies' sizes),
//! and what a script can build while it runs is bounded by the sandbox's
//! limits (`engine`: strings, arrays, maps, variables; `meter`: nesting and
//! data read per call).

use super::*;
use crate::{lint_source, run_tests};
use proptest::prelude::*;
use windtunnel_core::{AttemptError, AttemptInfo, EndpointIdx, Nanodollars, ResponseInfo};

/// The shipped policies, with their tests.
const SHIPPED: [(&str, &str, &str); 7] = [
    (
        "budget-downgrade",
        include_str!("../../../../policies/budget-downgrade.rhai"),
        include_str!("../../../../policies/budget-downgrade_test.rhai"),
    ),
    (
        "cascade",
        include_str!("../../../../policies/cascade.rhai"),
        include_str!("../../../../policies/cascade_test.rhai"),
    ),
    (
        "cheapest-healthy",
        include_str!("../../../../policies/cheapest-healthy.rhai"),
        include_str!("../../../../policies/cheapest-healthy_test.rhai"),
    ),
    (
        "latency-aware",
        include_str!("../../../../policies/latency-aware.rhai"),
        include_str!("../../../../policies/latency-aware_test.rhai"),
    ),
    (
        "static-fallback",
        include_str!("../../../../policies/static-fallback.rhai"),
        include_str!("../../../../policies/static-fallback_test.rhai"),
    ),
    ("tiered", include_str!("../../../../policies/tiered.rhai"), include_str!("../../../../policies/tiered_test.rhai")),
    (
        "weighted-spread",
        include_str!("../../../../policies/weighted-spread.rhai"),
        include_str!("../../../../policies/weighted-spread_test.rhai"),
    ),
];

/// Pieces of rhai, for token soup and insertions.
const TOKENS: &[&str] = &[
    "fn",
    "route",
    "(req, ctx)",
    "settings",
    "on_error",
    "accept",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "#{",
    "\"",
    "'",
    "`",
    "${",
    ";",
    ",",
    ".",
    ":",
    "=",
    "==",
    "+",
    "-",
    "*",
    "/",
    "%",
    "**",
    "<<",
    ">>",
    "&&",
    "||",
    "!",
    "?",
    "??",
    "?.",
    "|x|",
    "let",
    "const",
    "x",
    "req",
    "ctx",
    "e",
    "if",
    "else",
    "while",
    "loop",
    "for",
    "in",
    "do",
    "until",
    "break",
    "continue",
    "return",
    "throw",
    "try",
    "catch",
    "switch",
    "=>",
    "_",
    "true",
    "false",
    "()",
    "0",
    "1",
    "-1",
    "1.5",
    "1e308",
    "9223372036854775807",
    "\"openai/gpt-4o\"",
    "\"x\"",
    "ctx.candidates(req)",
    ".by_cost(req)",
    ".names()",
    ".take(2)",
    "ctx.endpoint(\"openai/gpt-4o\")",
    "req.tenant",
    "req.tags",
    "param(\"x\")",
    "chain",
    "Fn(\"route\")",
    ".call()",
    ".curry(1)",
    "this",
    "eval",
    "import",
    "print",
    "debug",
    "//",
    "/*",
    "*/",
    "\n",
    "\u{feff}",
    "\u{0}",
    "é",
    "💥",
    "\r\n",
];

/// Numbers that break assumptions.
const EXTREME_NUMBERS: &[&str] = &[
    "0",
    "-1",
    "-0",
    "1e308",
    "-1e308",
    "1e-320",
    "4294967295",
    "18446744073709551615",
    "9223372036854775807",
    "-9223372036854775808",
    "99999999999999999999999",
    "0x7fffffffffffffff",
    "NaN",
    "0.0",
];

/// One edit of a text. Positions are taken modulo what there is.
#[derive(Clone, Debug)]
enum Edit {
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    ReplaceNumber(usize, &'static str),
    Insert(usize, String),
    DeleteChars(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<usize>().prop_map(Edit::DeleteLine),
        any::<usize>().prop_map(Edit::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        (any::<usize>(), prop::sample::select(EXTREME_NUMBERS)).prop_map(|(i, n)| Edit::ReplaceNumber(i, n)),
        (any::<usize>(), prop::sample::select(TOKENS)).prop_map(|(i, t)| Edit::Insert(i, t.to_string())),
        (any::<usize>(), "\\PC{0,6}").prop_map(|(i, s)| Edit::Insert(i, s)),
        (any::<usize>(), 1..40usize).prop_map(|(i, n)| Edit::DeleteChars(i, n)),
    ]
}

/// `text` with `edits` applied in turn.
fn apply(text: &str, edits: &[Edit]) -> String {
    let mut text = text.to_string();
    for e in edits {
        let mut lines: Vec<String> = text.split('\n').map(String::from).collect();
        let chars: Vec<char> = text.chars().collect();
        text = match e {
            Edit::DeleteLine(i) => {
                lines.remove(i % lines.len());
                lines.join("\n")
            }
            Edit::DuplicateLine(i) => {
                let n = i % lines.len();
                lines.insert(n, lines[n].clone());
                lines.join("\n")
            }
            Edit::SwapLines(a, b) => {
                let (a, b) = (a % lines.len(), b % lines.len());
                lines.swap(a, b);
                lines.join("\n")
            }
            Edit::ReplaceNumber(i, n) => {
                let numbers = number_spans(&text);
                if numbers.is_empty() {
                    text
                } else {
                    let (start, end) = numbers[i % numbers.len()];
                    format!("{}{n}{}", &text[..start], &text[end..])
                }
            }
            Edit::Insert(i, s) => {
                let at = i % (chars.len() + 1);
                format!("{}{s}{}", chars[..at].iter().collect::<String>(), chars[at..].iter().collect::<String>())
            }
            Edit::DeleteChars(i, n) => {
                let at = i % (chars.len() + 1);
                let end = (at + n).min(chars.len());
                chars[..at].iter().chain(&chars[end..]).collect()
            }
        };
    }
    text
}

/// Byte spans of the numbers in `text` (digits with an optional fraction).
fn number_spans(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.' || bytes[i] == b'_') {
                i += 1;
            }
            spans.push((start, i));
        } else {
            i += 1;
        }
    }
    spans
}

/// Loads `source` and, if it loads, calls every hook and every accessor.
/// Errors are fine; a panic fails the test.
fn exercise(source: &str) {
    let w = World::eight();
    let _ = lint_source("p.rhai", source).map_err(|e| e.to_string());
    let Ok(mut p) = Policy::from_source("p.rhai", source, &w.facts, &[]) else { return };
    let _ = (p.settings(), p.params(), p.hooks(), format!("{p:?}"), p.needs_health(), p.has_accept());
    let mut evil = req();
    evil.tenant = windtunnel_core::Sym::from("evil");
    evil.lang = Some(windtunnel_core::Sym::from("zh"));
    for r in [req(), evil] {
        let _ = w.route(&mut p, &r);
    }
    let attempt = AttemptInfo { number: 1, endpoint: EndpointIdx(0), elapsed_ms: 10 };
    for status in [429, 500, 503] {
        let _ = p.on_error(&req(), &attempt, &AttemptError::from_status(status));
    }
    let resp = ResponseInfo {
        endpoint: EndpointIdx(1),
        quality: 0.8,
        latency_ms: 900,
        ttft_ms: Some(100),
        output_tokens: 120,
        cost: Nanodollars(2_000_000),
    };
    let _ = p.accept(&req(), &resp);
    for f in p.failures() {
        let _ = f.to_string();
    }
}

/// Token soup, as a whole script or as the body of `route`.
fn soup() -> impl Strategy<Value = String> {
    (prop::collection::vec(prop::sample::select(TOKENS), 0..60), any::<bool>()).prop_map(|(tokens, in_route)| {
        let body = tokens.join(" ");
        if in_route { format!("fn route(req, ctx) {{\n{body}\n}}") } else { body }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(source in "\\PC{0,400}") {
        exercise(&source);
    }

    #[test]
    fn token_soup_never_panics(source in soup()) {
        exercise(&source);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn mutated_shipped_policies_never_panic(
        which in 0..SHIPPED.len(),
        edits in prop::collection::vec(edit(), 1..4),
    ) {
        exercise(&apply(SHIPPED[which].1, &edits));
    }
}

proptest! {
    // `policy test` runs many functions per file, each with ten hook calls'
    // budget, and writes files: fewer cases keep the test within a second or two.
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn mutated_policy_tests_never_panic(
        which in 0..SHIPPED.len(),
        policy_edits in prop::collection::vec(edit(), 0..2),
        test_edits in prop::collection::vec(edit(), 0..3),
    ) {
        let (name, policy, tests) = SHIPPED[which];
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(format!("{name}.rhai")), apply(policy, &policy_edits)).unwrap();
        std::fs::write(dir.path().join(format!("{name}_test.rhai")), apply(tests, &test_edits)).unwrap();
        match run_tests(dir.path()) {
            Ok(run) => {
                let _ = (run.passed(), run.failed(), run.exit_code());
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
}

/// The mutations above start from policies that work: their own tests pass
/// in the sandbox, meter included.
#[test]
fn shipped_policy_tests_pass() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies");
    let run = run_tests(std::path::Path::new(dir)).unwrap();
    let failed: Vec<_> = run.results.iter().filter(|r| !r.passed).collect();
    assert!(failed.is_empty(), "{failed:?}");
    assert!(run.passed() >= SHIPPED.len(), "{run:?}");
}

#[test]
fn edits_do_what_they_say() {
    let text = "a = 1\nb = 2.5\nc";
    assert_eq!(apply(text, &[Edit::DeleteLine(3)]), "b = 2.5\nc");
    assert_eq!(apply(text, &[Edit::DuplicateLine(0)]), "a = 1\na = 1\nb = 2.5\nc");
    assert_eq!(apply(text, &[Edit::SwapLines(0, 2)]), "c\nb = 2.5\na = 1");
    assert_eq!(apply(text, &[Edit::ReplaceNumber(1, "NaN")]), "a = 1\nb = NaN\nc");
    assert_eq!(apply("ab", &[Edit::Insert(1, "é".into())]), "aéb");
    assert_eq!(apply("abc", &[Edit::DeleteChars(4, 2)]), "c");
    assert_eq!(apply("", &[Edit::DeleteLine(7), Edit::DeleteChars(5, 5), Edit::ReplaceNumber(1, "0")]), "");
}
