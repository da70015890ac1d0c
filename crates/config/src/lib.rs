//! Scenario files: TOML text (plus `--set` overrides) → a validated
//! [`Scenario`], or a [`ConfigError`] that names the file, line, column and key.
//!
//! This crate owns the scenario file format of SPEC ("Scenario file (TOML)"),
//! its defaults, every load-time check, the `--set KEY=VALUE` syntax, and the
//! reading of the public price table (`price_table`). It must not touch what
//! a scenario *does*: no simulation, no trace reading (a trace file is only
//! checked to exist), no policy compilation (a script is only checked to
//! exist), no clock and no randomness.
//!
//! # Design
//! - **Two phases** (STYLE §4). `raw` types mirror the TOML exactly
//!   with `deny_unknown_fields` and `toml::Spanned` on what later checks
//!   blame; `validate` turns them into the spec types, applying defaults and
//!   cross-field checks. Kinds (`kind`, `dist`, `format`, `pattern`) are
//!   spanned strings rather than serde enums, and the fault table is one flat
//!   struct: an internally tagged enum would buffer its content and lose the
//!   spans and the position of an unknown key.
//! - **Errors carry position and key.** toml gives a byte span,
//!   `serde_path_to_error` the key path; serde's text ("invalid type: string
//!   \"many\", expected u32") is reworded once, in `parse`, into structured
//!   [`ConfigErrorKind`]s. Semantic errors use the `Spanned` ranges. A
//!   [`ConfigError`] renders once as `{file}:{line}:{col}: {message}`.
//! - **Overrides re-run everything.** The file is parsed and validated alone
//!   first, so a mistake in it is reported at its real line and column. Then
//!   the overrides edit the document as a `toml::Table`, which is serialized
//!   and parsed and validated again; an error there is blamed on the `--set`
//!   argument whose key it concerns. (If the file alone is invalid but the
//!   overrides repair it, the overridden scenario is accepted; if both fail,
//!   the file's error is reported.) `policy.NAME=VALUE` never touches the
//!   document: it lands in [`Scenario::policy_params`].
//! - **Everything is checked at load.** Paths (policy script, trace file,
//!   price table) are resolved against the scenario's folder and must exist;
//!   chain entries must name endpoints; invariant names must be SPEC's.
//!
//! # Where things happen
//! - `raw` — `Raw*` serde types; hand-written `Deserialize` for `policy`
//!   (path or table), distributions (number or table), durations (strings
//!   only), `invariants` (`"all"` or a list).
//! - `parse` — text → `RawScenario`; serde/toml messages → [`ConfigErrorKind`].
//! - `validate` — `RawScenario` → [`Scenario`]: defaults, ranges, fault
//!   windows and kind-specific keys, price changes, catalog prices, paths.
//! - `catalog` — the LiteLLM price table behind `price = { catalog = ".." }`.
//! - `overrides` — [`Override`]: parsing `--set` and applying it to a document.
//! - `keys` — [`scenario_keys`]: every key the parser accepts, read from the `Raw*` types.
//! - `error` — [`ConfigError`], [`Location`], [`ConfigErrorKind`], [`line_col`].
//! - `spec` — the validated types everything else reads.
//!
//! # Dependencies
//! - windtunnel-core: the vocabulary the spec types use (`Dist`, prices,
//!   `EndpointIdx`, `Plan`) and duration parsing.
//! - windtunnel-trace: `SyntheticSpec` and `TraceFormat`, which `[trace]` fills.
//! - serde, toml: the TOML reader and `Spanned` positions.
//! - serde_path_to_error: the key path of a serde error (toml's own is private).
//! - serde_json: the LiteLLM price table is JSON.
//! - thiserror: [`ConfigErrorKind`]'s messages.
//! - strsim: edit distance for "did you mean".

mod catalog;
mod error;
mod keys;
mod overrides;
mod parse;
mod raw;
mod spec;
mod validate;

#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod tests;

pub use error::{ConfigError, ConfigErrorKind, Location, line_col};
pub use keys::scenario_keys;
pub use overrides::Override;
pub use spec::*;

use std::path::Path;

/// Reads and validates the scenario at `path`, with `overrides` applied in order.
/// `path` appears in error messages as given.
pub fn load_scenario(path: &Path, overrides: &[Override]) -> Result<Scenario, ConfigError> {
    let read_error = |error| ConfigError::nowhere(ConfigErrorKind::ReadScenario { path: path.to_path_buf(), error });
    if std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
        return Err(read_error(std::io::Error::other("is a directory, expected a scenario file")));
    }
    let text = read_bounded(path, MAX_SCENARIO_BYTES).map_err(read_error)?;
    parse_scenario(&text, path, overrides)
}

/// The largest scenario file read: 16 MiB. Scenarios are a few KiB; this
/// stops `run /dev/zero` before it fills memory.
pub const MAX_SCENARIO_BYTES: u64 = 16 << 20;

/// Reads a UTF-8 text file of at most `limit` bytes.
pub(crate) fn read_bounded(path: &Path, limit: u64) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)?.take(limit + 1).read_to_string(&mut text)?;
    if text.len() as u64 > limit {
        return Err(std::io::Error::other(format!("larger than {} MiB, expected a scenario file", limit >> 20)));
    }
    Ok(text)
}

/// Validates scenario `text` as if read from `file` (used in messages and to
/// resolve relative paths), with `overrides` applied in order.
pub fn parse_scenario(text: &str, file: &Path, overrides: &[Override]) -> Result<Scenario, ConfigError> {
    let policy_params: Vec<(String, String)> = overrides
        .iter()
        .filter_map(|o| o.policy_param().map(|name| (name.to_string(), o.value_text().to_string())))
        .collect();
    let edits: Vec<&Override> = overrides.iter().filter(|o| o.policy_param().is_none()).collect();
    let alone = validate_text(text, file);
    let mut scenario = if edits.is_empty() {
        alone?
    } else {
        match (alone, with_overrides(text, file, &edits)) {
            (_, Ok(s)) => s,
            (Err(file_error), Err(_)) => return Err(file_error),
            (Ok(_), Err(override_error)) => return Err(override_error),
        }
    };
    scenario.policy_params = policy_params;
    Ok(scenario)
}

fn validate_text(text: &str, file: &Path) -> Result<Scenario, ConfigError> {
    let raw = parse::parse_raw(text, file)?;
    validate::validate(raw, text, file)
}

/// Applies `edits` to the document and validates the result; errors are
/// blamed on the `--set` argument they concern.
fn with_overrides(text: &str, file: &Path, edits: &[&Override]) -> Result<Scenario, ConfigError> {
    let all_args = || Location::Override { arg: edits.iter().map(|o| o.arg()).collect::<Vec<_>>().join(" --set ") };
    let mut doc: toml::Table = toml::from_str(text)
        .map_err(|e| ConfigError::new(all_args(), ConfigErrorKind::Syntax { message: e.message().to_string() }))?;
    let mut resolved = Vec::with_capacity(edits.len());
    for o in edits {
        let path =
            o.apply(&mut doc).map_err(|kind| ConfigError::new(Location::Override { arg: o.arg().into() }, kind))?;
        resolved.push((*o, path));
    }
    let edited = toml::to_string(&doc).map_err(|e| {
        ConfigError::new(all_args(), ConfigErrorKind::Other { key: String::new(), message: e.to_string() })
    })?;
    validate_text(&edited, file).map_err(|mut e| {
        e.at = blame(&e, &resolved).map_or_else(all_args, |o| Location::Override { arg: o.arg().into() });
        e
    })
}

/// The override whose resolved key path is nearest to the error's key.
fn blame<'o>(e: &ConfigError, resolved: &[(&'o Override, String)]) -> Option<&'o Override> {
    if let [(only, _)] = resolved {
        return Some(only);
    }
    let key = match e.kind.as_ref() {
        ConfigErrorKind::UnknownKey { table, key, .. } | ConfigErrorKind::MissingKey { table, key } => {
            if table.is_empty() { key.clone() } else { format!("{table}.{key}") }
        }
        other => other.key()?.to_string(),
    };
    let within = |inner: &str, outer: &str| {
        inner == outer || inner.strip_prefix(outer).is_some_and(|r| r.starts_with('.') || r.starts_with('['))
    };
    resolved
        .iter()
        .filter(|(_, path)| within(&key, path) || within(path, &key))
        .max_by_key(|(_, path)| path.len())
        .map(|(o, _)| *o)
}
