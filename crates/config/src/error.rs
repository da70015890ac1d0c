//! [`ConfigError`]: every way a scenario or a `--set` argument can be refused.
//!
//! Why one struct around a kind enum: every error has exactly one place it
//! points at ([`Location`]: a file position, a `--set` argument, or nothing
//! when the file itself could not be read), and the CLI renders it once as
//! `{file}:{line}:{col}: {message}`. The kinds hold structured fields (the key
//! path, what was found, what was expected) so callers and tests can inspect
//! them without parsing text.

use std::fmt;
use std::io;
use std::path::PathBuf;
use thiserror::Error;
use windtunnel_core::{DistError, DurationError};

/// A refused scenario, with where it points.
#[derive(Debug, Error)]
#[error("{at}{kind}")]
pub struct ConfigError {
    /// Where the problem is.
    pub at: Location,
    /// What the problem is (boxed: errors travel in `Result`s on every path,
    /// and the kinds with their expected-name lists are large).
    pub kind: Box<ConfigErrorKind>,
}

impl ConfigError {
    /// An error at `at`.
    pub fn new(at: Location, kind: ConfigErrorKind) -> ConfigError {
        ConfigError { at, kind: Box::new(kind) }
    }

    /// An error with no position.
    pub(crate) fn nowhere(kind: ConfigErrorKind) -> ConfigError {
        ConfigError::new(Location::Nowhere, kind)
    }

    /// The dotted key path the error blames (`endpoints[0].concurrency`), when there is one.
    pub fn key(&self) -> Option<&str> {
        self.kind.key()
    }

    /// The 1-based line and column, when the error points into a file.
    pub fn line_col(&self) -> Option<(usize, usize)> {
        match self.at {
            Location::File { line, col, .. } => Some((line, col)),
            _ => None,
        }
    }
}

/// Where a [`ConfigError`] points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A position in a file; `file` is the path as the caller gave it.
    File {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        col: usize,
    },
    /// A `--set` argument (or several, space separated), as typed.
    Override {
        /// `KEY=VALUE`.
        arg: String,
    },
    /// Nowhere in particular (the file could not be read, a malformed `--set`).
    Nowhere,
}

impl fmt::Display for Location {
    /// The prefix of the rendered message, `: ` included.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File { file, line, col } => write!(f, "{}:{line}:{col}: ", file.display()),
            Location::Override { arg } => write!(f, "--set {arg}: "),
            Location::Nowhere => Ok(()),
        }
    }
}

/// What is wrong. Messages are lowercase, name the key, and say found X,
/// expected Y.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// The scenario file could not be read.
    #[error("cannot read scenario `{}`: {error}", path.display())]
    ReadScenario {
        /// The path as given.
        path: PathBuf,
        /// Why (printed here, so not also a `source`).
        error: io::Error,
    },
    /// TOML syntax, as the toml parser words it.
    #[error("invalid toml: {message}")]
    Syntax {
        /// toml's own message, on one line.
        message: String,
    },
    /// A key no table of that name accepts.
    #[error("unknown key `{key}` in {}{}", in_table(table), hint(suggestion, expected))]
    UnknownKey {
        /// The table (`endpoints[0]`); empty for the top level.
        table: String,
        /// The unknown key.
        key: String,
        /// The nearest accepted key, when one is close.
        suggestion: Option<String>,
        /// Every accepted key.
        expected: Vec<String>,
    },
    /// A required key is absent.
    #[error("missing key `{key}` in {}", in_table(table))]
    MissingKey {
        /// The table; empty for the top level.
        table: String,
        /// The missing key.
        key: String,
    },
    /// A value of the wrong TOML type.
    #[error("invalid type for `{key}`: found {found}, expected {expected}")]
    InvalidType {
        /// Key path.
        key: String,
        /// What was found (`string "many"`).
        found: String,
        /// What was expected (`an integer`).
        expected: String,
    },
    /// A value of the right type outside its range.
    #[error("invalid value for `{key}`: found {found}, expected {expected}")]
    InvalidValue {
        /// Key path.
        key: String,
        /// What was found.
        found: String,
        /// What was expected.
        expected: String,
    },
    /// A name outside a closed set (`dist`, `kind`, `format`, `pattern`, invariants).
    #[error("invalid value for `{key}`: found `{found}`{}", hint(suggestion, expected))]
    UnknownName {
        /// Key path.
        key: String,
        /// What was found.
        found: String,
        /// The nearest accepted name, when one is close.
        suggestion: Option<String>,
        /// Every accepted name.
        expected: Vec<String>,
    },
    /// A duration string that does not parse.
    #[error("invalid duration for `{key}`: {}", duration_reason(error))]
    Duration {
        /// Key path.
        key: String,
        /// Why (printed here, so not also a `source`).
        error: DurationError,
    },
    /// Distribution parameters the distribution refuses.
    #[error("invalid distribution for `{key}`: {error}")]
    Dist {
        /// Key path.
        key: String,
        /// Why (printed here, so not also a `source`).
        error: DistError,
    },
    /// A path in the scenario that does not name a readable file.
    #[error("cannot read {key} `{path}`: {reason}")]
    MissingFile {
        /// Key path (`trace.path`).
        key: String,
        /// The path as written in the scenario.
        path: String,
        /// Why (`no such file`).
        reason: String,
    },
    /// A reference to an endpoint no `[[endpoints]]` defines.
    #[error("unknown endpoint `{name}`{}{}", key.as_deref().map(|k| format!(" in {k}")).unwrap_or_default(), hint(suggestion, expected))]
    UnknownEndpoint {
        /// The name as written.
        name: String,
        /// Where it was referenced (`policy.chain`), if anywhere in the file.
        key: Option<String>,
        /// The nearest endpoint name, when one is close.
        suggestion: Option<String>,
        /// Every endpoint name.
        expected: Vec<String>,
    },
    /// Two endpoints with one name.
    #[error("duplicate endpoint name `{name}` in endpoints[{index}], already used by endpoints[{first}]")]
    DuplicateEndpoint {
        /// The name.
        name: String,
        /// The second use.
        index: usize,
        /// The first use.
        first: usize,
    },
    /// No `[[endpoints]]` at all.
    #[error("no endpoints in the scenario, expected at least one `[[endpoints]]`")]
    NoEndpoints,
    /// A kind-specific key on another kind (`retry_after` on an `outage`).
    #[error("`{key}` does not apply to {what} `{kind}`")]
    NotApplicable {
        /// Key path.
        key: String,
        /// `fault kind`, `dist`, `trace source`.
        what: &'static str,
        /// The kind in force.
        kind: String,
    },
    /// A fault with both or neither window forms.
    #[error("fault {table} {}", window_problem(*both))]
    FaultWindow {
        /// `endpoints[0].faults[1]`.
        table: String,
        /// true: both `start` and `every`; false: neither.
        both: bool,
    },
    /// `[trace]` with both or neither source.
    #[error("`[trace]` needs exactly one of `path` or `[trace.synthetic]`, found {}", if *both { "both" } else { "neither" })]
    TraceSource {
        /// true: both; false: neither.
        both: bool,
    },
    /// `price = { catalog = ".." }` without a top-level `price_table`.
    #[error("`{key}` needs a `price_table` at the top of the scenario")]
    CatalogWithoutTable {
        /// Key path.
        key: String,
    },
    /// A catalog name absent from the price table.
    #[error("unknown model `{name}` in price table `{table}`{}", hint(suggestion, &[]))]
    UnknownModel {
        /// The name as written.
        name: String,
        /// The price table path as written.
        table: String,
        /// The nearest model name, when one is close.
        suggestion: Option<String>,
    },
    /// A price table that is not LiteLLM's JSON shape.
    #[error("invalid price table `{path}`: {reason}")]
    PriceTable {
        /// The path as written.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A catalog entry without a per-token price.
    #[error("cannot price `{key}`: model `{model}` in the price table has no `{field}`")]
    CatalogEntry {
        /// Key path (`endpoints[0].price.catalog`).
        key: String,
        /// The model.
        model: String,
        /// The absent field.
        field: &'static str,
    },
    /// A `--set` argument that is not `KEY=VALUE`.
    #[error("invalid --set `{arg}`: expected KEY=VALUE with a non-empty KEY")]
    OverrideSyntax {
        /// The argument as typed.
        arg: String,
    },
    /// A `--set` key that cannot be applied to the document.
    #[error("cannot set `{key}`: {reason}")]
    OverridePath {
        /// The key path resolved so far.
        key: String,
        /// Why.
        reason: String,
    },
    /// Anything serde reports that has no better form.
    #[error("{}{message}", if key.is_empty() { String::new() } else { format!("invalid `{key}`: ") })]
    Other {
        /// Key path.
        key: String,
        /// serde's message.
        message: String,
    },
}

impl ConfigErrorKind {
    /// The key path the error blames, when there is one.
    pub fn key(&self) -> Option<&str> {
        use ConfigErrorKind::*;
        match self {
            UnknownKey { table, .. } | MissingKey { table, .. } | FaultWindow { table, .. } => Some(table),
            InvalidType { key, .. }
            | InvalidValue { key, .. }
            | UnknownName { key, .. }
            | Duration { key, .. }
            | Dist { key, .. }
            | MissingFile { key, .. }
            | NotApplicable { key, .. }
            | CatalogWithoutTable { key }
            | CatalogEntry { key, .. }
            | OverridePath { key, .. }
            | Other { key, .. } => Some(key),
            UnknownEndpoint { key, .. } => key.as_deref(),
            _ => None,
        }
    }
}

fn in_table(table: &str) -> String {
    if table.is_empty() { "the scenario".to_string() } else { table.to_string() }
}

/// `, did you mean `x`?` or `, expected one of `a`, `b``; nothing when there is nothing to offer.
fn hint(suggestion: &Option<String>, expected: &[String]) -> String {
    match (suggestion, expected) {
        (Some(s), _) => format!(", did you mean `{s}`?"),
        (None, []) => String::new(),
        (None, [one]) => format!(", expected `{one}`"),
        (None, many) => format!(", expected one of {}", backticked(many)),
    }
}

/// `` `a`, `b`, `c` ``.
pub(crate) fn backticked(names: &[String]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

fn duration_reason(e: &DurationError) -> String {
    match e {
        // core's wording repeats "invalid duration", which this message already says.
        DurationError::Invalid { found } => {
            format!("found `{found}`, expected a number with a unit (ms, s, m, h) such as `90s` or `6h20m`")
        }
        other => other.to_string(),
    }
}

fn window_problem(both: bool) -> &'static str {
    if both {
        "has both a fixed window (`start`) and a stochastic one (`every`), expected one of them"
    } else {
        "has no window, expected `start` (and optionally `end`) or `every` and `lasting`"
    }
}

/// The candidate nearest to `found`, when it is close enough to be a typo.
///
/// "Close" is an edit distance of at most a third of the longer word (at
/// least 1, at most 3): `latncy` → `latency`, but `zzz` suggests nothing.
pub(crate) fn did_you_mean<'a, I>(found: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = strsim::damerau_levenshtein(found, c);
        let limit = (found.chars().count().max(c.chars().count()) / 3).clamp(1, 3);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c.to_string())
}

/// 1-based line and column (in characters) of a byte offset in `text`.
/// Offsets past the end clamp to the end; offsets inside a character count
/// as that character.
pub fn line_col(text: &str, byte: usize) -> (usize, usize) {
    let mut b = byte.min(text.len());
    while !text.is_char_boundary(b) {
        b -= 1;
    }
    let before = &text[..b];
    let line = before.bytes().filter(|&c| c == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_from_one() {
        let text = "a = 1\nbé = \"x\"\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 4), (1, 5));
        assert_eq!(line_col(text, 6), (2, 1));
        // `=` after the two-byte é is the 4th character of line 2.
        assert_eq!(line_col(text, 10), (2, 4));
        assert_eq!(line_col(text, 1_000), (3, 1));
    }

    #[test]
    fn did_you_mean_only_offers_close_names() {
        assert_eq!(did_you_mean("latncy", ["name", "latency"]), Some("latency".into()));
        assert_eq!(did_you_mean("zzz", ["name", "price"]), None);
    }
}
