//! Fuzzing the scenario parser: arbitrary text, and the shipped scenarios
//! with lines deleted, duplicated or swapped, numbers made extreme, durations
//! made junk, unicode inserted, and random `--set` overrides. Whatever the
//! text, [`parse_scenario`](crate::parse_scenario) answers `Ok` or `Err`, and
//! an error renders: never a panic.
//!
//! The mutated scenarios are parsed as if they were in `scenarios/`, so the
//! paths they name (traces, policies) resolve and the checks past the paths
//! run too.
//!
//! Bounded memory: the inputs are a few KiB (the shipped scenarios plus a few
//! edits, or at most 2 000 characters), and the parser builds a document
//! proportional to its input (a file is capped at
//! [`MAX_SCENARIO_BYTES`](crate::MAX_SCENARIO_BYTES) before it is parsed).

use crate::{Override, parse_scenario};
use proptest::prelude::*;
use std::path::{Path, PathBuf};

/// The shipped scenarios, by file name.
const SHIPPED: [(&str, &str); 8] = [
    ("quickstart.toml", include_str!("../../../scenarios/quickstart.toml")),
    ("budget-downgrade.toml", include_str!("../../../scenarios/budget-downgrade.toml")),
    ("cascade.toml", include_str!("../../../scenarios/cascade.toml")),
    ("cheapest-healthy.toml", include_str!("../../../scenarios/cheapest-healthy.toml")),
    ("latency-aware.toml", include_str!("../../../scenarios/latency-aware.toml")),
    ("static-fallback.toml", include_str!("../../../scenarios/static-fallback.toml")),
    ("tiered.toml", include_str!("../../../scenarios/tiered.toml")),
    ("weighted-spread.toml", include_str!("../../../scenarios/weighted-spread.toml")),
];

/// Where a shipped scenario lives, so its relative paths resolve.
fn shipped_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios").join(name)
}

/// Numbers that break assumptions (TOML reads `nan` and `inf` as floats).
const EXTREME_NUMBERS: &[&str] = &[
    "0",
    "-1",
    "-0",
    "1e308",
    "-1e308",
    "1e-320",
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "9223372036854775807",
    "-9223372036854775808",
    "nan",
    "inf",
    "-inf",
    "+nan",
    "0.0",
    "1_000_000_000_000",
    "\"NaN\"",
    "\"1e308\"",
    "[]",
    "{}",
    "true",
];

/// Junk where a duration string was.
const JUNK_DURATIONS: &[&str] = &[
    "",
    "1",
    "-5s",
    "0s",
    "0ms",
    "1.5.5m",
    "1m1m",
    "5 s",
    "s",
    "99999999999999999999h",
    "18446744073709551615ms",
    "9999999999d",
    "1e308s",
    "NaNs",
    "1h-30m",
    "\u{0}",
    "10\u{feff}s",
    "５s",
    "3m30",
];

/// Unicode and TOML pieces to insert.
const PIECES: &[&str] = &[
    "\u{feff}",
    "\u{0}",
    "\u{202e}",
    "é",
    "💥",
    "\r",
    "\r\n",
    "\t",
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    "=",
    "\"",
    "'",
    "'''",
    "\"\"\"",
    "#",
    ",",
    ".",
    "\\",
    "\\u",
    "[endpoints]",
    "[[endpoints]]",
    "[[endpoints.faults]]",
    "[trace]",
    "[assert]",
    "x = 1",
    "name = \"a\"",
    "kind = \"outage\"",
];

/// One edit of a text. Positions are taken modulo what there is.
#[derive(Clone, Debug)]
enum Edit {
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    ReplaceNumber(usize, &'static str),
    ReplaceDuration(usize, &'static str),
    Insert(usize, String),
    DeleteChars(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<usize>().prop_map(Edit::DeleteLine),
        any::<usize>().prop_map(Edit::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        (any::<usize>(), prop::sample::select(EXTREME_NUMBERS)).prop_map(|(i, n)| Edit::ReplaceNumber(i, n)),
        (any::<usize>(), prop::sample::select(JUNK_DURATIONS)).prop_map(|(i, d)| Edit::ReplaceDuration(i, d)),
        (any::<usize>(), prop::sample::select(PIECES)).prop_map(|(i, p)| Edit::Insert(i, p.to_string())),
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
            Edit::ReplaceNumber(i, n) => replace_span(&text, &number_spans(&text), *i, n),
            Edit::ReplaceDuration(i, d) => replace_span(&text, &duration_spans(&text), *i, d),
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

/// `text` with span number `i` (modulo) of `spans` replaced by `with`.
fn replace_span(text: &str, spans: &[(usize, usize)], i: usize, with: &str) -> String {
    match spans.get(i % spans.len().max(1)) {
        Some(&(start, end)) => format!("{}{with}{}", &text[..start], &text[end..]),
        None => text.to_string(),
    }
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

/// Byte spans of the insides of quoted duration strings (`"30m"`, `"2s"`).
fn duration_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut rest = 0;
    while let Some(open) = text[rest..].find('"').map(|o| rest + o + 1) {
        let Some(close) = text[open..].find('"').map(|c| open + c) else { break };
        let inside = &text[open..close];
        let digits = inside.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        if !digits.is_empty() && digits.len() < inside.len() && digits.chars().all(|c| c.is_ascii_digit()) {
            spans.push((open, close));
        }
        rest = close + 1;
    }
    spans
}

/// A `--set KEY=VALUE` from the keys and values scenarios use.
fn override_arg() -> impl Strategy<Value = String> {
    let keys = prop::sample::select(vec![
        "seed",
        "name",
        "duration",
        "trace.path",
        "trace.format",
        "trace.limit",
        "trace.speed",
        "endpoints.0.concurrency",
        "endpoints.0.price.input_per_mtok",
        "endpoints.1.rate_limit.rpm",
        "endpoints.0.faults.0.start",
        "endpoints.9.name",
        "policy.x",
        "assert.max_p99_ms",
        "sla.default.latency_ms",
        "a.b.c",
        "endpoints.-1.name",
        "endpoints.18446744073709551616.name",
    ]);
    let values = prop_oneof![
        prop::sample::select(EXTREME_NUMBERS).prop_map(String::from),
        prop::sample::select(JUNK_DURATIONS).prop_map(String::from),
        "\\PC{0,12}",
    ];
    (keys, values).prop_map(|(k, v)| format!("{k}={v}"))
}

/// Parses and renders whatever comes back; a panic fails the test.
fn exercise(text: &str, file: &Path, overrides: &[Override]) {
    match parse_scenario(text, file, overrides) {
        Ok(s) => {
            let _ = format!("{s:?}");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,2000}") {
        exercise(&text, Path::new("f.toml"), &[]);
    }

    #[test]
    fn toml_shaped_text_never_panics(
        lines in prop::collection::vec(
            (prop::sample::select(PIECES), "[a-z_.]{1,12}", prop::sample::select(EXTREME_NUMBERS)),
            0..30,
        ),
    ) {
        let text: String = lines.iter().map(|(p, k, v)| format!("{p}\n{k} = {v}\n")).collect();
        exercise(&text, Path::new("f.toml"), &[]);
    }

    #[test]
    fn mutated_scenarios_never_panic(
        which in 0..SHIPPED.len(),
        edits in prop::collection::vec(edit(), 1..5),
    ) {
        let (name, text) = SHIPPED[which];
        exercise(&apply(text, &edits), &shipped_path(name), &[]);
    }

    #[test]
    fn random_overrides_never_panic(
        which in 0..SHIPPED.len(),
        edits in prop::collection::vec(edit(), 0..2),
        args in prop::collection::vec(override_arg(), 1..4),
    ) {
        let (name, text) = SHIPPED[which];
        let overrides: Vec<Override> = args.iter().filter_map(|a| Override::parse(a).ok()).collect();
        exercise(&apply(text, &edits), &shipped_path(name), &overrides);
    }

    #[test]
    fn arbitrary_override_args_never_panic(arg in "\\PC{0,60}") {
        if let Ok(o) = Override::parse(&arg) {
            let (name, text) = SHIPPED[0];
            exercise(text, &shipped_path(name), &[o]);
        }
    }
}

/// The mutations start from scenarios that parse.
#[test]
fn shipped_scenarios_parse() {
    for (name, text) in SHIPPED {
        if let Err(e) = parse_scenario(text, &shipped_path(name), &[]) {
            panic!("{name}: {e}");
        }
    }
}

#[test]
fn edits_do_what_they_say() {
    let text = "a = 1\nb = \"30m\"\nc = 2.5";
    assert_eq!(apply(text, &[Edit::DeleteLine(3)]), "b = \"30m\"\nc = 2.5");
    assert_eq!(apply(text, &[Edit::SwapLines(0, 2)]), "c = 2.5\nb = \"30m\"\na = 1");
    assert_eq!(apply(text, &[Edit::ReplaceNumber(2, "nan")]), "a = 1\nb = \"30m\"\nc = nan");
    assert_eq!(apply(text, &[Edit::ReplaceDuration(0, "5 s")]), "a = 1\nb = \"5 s\"\nc = 2.5");
    assert_eq!(apply("x = \"abc\"", &[Edit::ReplaceDuration(0, "1")]), "x = \"abc\"");
}
