//! The public price table (`price_table = "..."`): LiteLLM's
//! `model_prices_and_context_window.json`, an object from model name to an
//! attribute object.
//!
//! Why read it loosely (as `serde_json::Value`) rather than into a struct: the
//! file has over a hundred optional fields, a `sample_spec` entry whose
//! "numbers" are prose, a `last_updated` string in some mirrors, and integer
//! or float numbers in the same field. Only the few fields we use are read,
//! and only for the models a scenario names.

use serde_json::Value;
use std::collections::BTreeMap;

/// Keys of the table that are documentation, not models.
const NOT_MODELS: [&str; 1] = ["sample_spec"];

/// The table, by model name.
#[derive(Debug)]
pub(crate) struct Catalog {
    models: BTreeMap<String, serde_json::Map<String, Value>>,
}

/// What an endpoint takes from one catalog entry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct CatalogEntry {
    /// USD per million input tokens.
    pub(crate) input_per_mtok: f64,
    /// USD per million output tokens.
    pub(crate) output_per_mtok: f64,
    /// USD per million cached input tokens, when listed.
    pub(crate) cached_input_per_mtok: Option<f64>,
    /// USD per million input tokens written to the prompt cache, when
    /// listed above the input price (`cache_creation_input_token_cost`:
    /// Anthropic's 5-minute writes).
    pub(crate) cache_write_per_mtok: Option<f64>,
    /// `max_input_tokens`.
    pub(crate) context_window: Option<u32>,
    /// `max_output_tokens`.
    pub(crate) max_output_tokens: Option<u32>,
    /// Long-context rates, from `*_above_128k_tokens` (or, failing that,
    /// `*_above_200k_tokens`) fields.
    pub(crate) long_context: Option<LongContextUsd>,
}

/// Long-context rates in USD per Mtok while a price is assembled.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct LongContextUsd {
    /// The prompt size above which they apply.
    pub(crate) above: u64,
    /// Uncached input.
    pub(crate) input: f64,
    /// Output.
    pub(crate) output: f64,
    /// Cached input; the tier's input when unset.
    pub(crate) cached: Option<f64>,
    /// Cache writes; the tier's input when unset.
    pub(crate) cache_write: Option<f64>,
}

/// Why a model could not be priced.
#[derive(Debug, PartialEq)]
pub(crate) enum LookupError {
    /// No such model.
    Unknown,
    /// The entry lacks this per-token field.
    NoPrice(&'static str),
}

impl Catalog {
    /// Parses the file's text; the error is a lowercase reason.
    pub(crate) fn parse(text: &str) -> Result<Catalog, String> {
        let top: serde_json::Map<String, Value> = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let models = top
            .into_iter()
            .filter(|(k, _)| !NOT_MODELS.contains(&k.as_str()))
            .filter_map(|(k, v)| match v {
                Value::Object(o) => Some((k, o)),
                _ => None,
            })
            .collect();
        Ok(Catalog { models })
    }

    /// Every model name, sorted.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.models.keys().map(String::as_str)
    }

    /// The entry for `model`.
    pub(crate) fn get(&self, model: &str) -> Result<CatalogEntry, LookupError> {
        let o = self.models.get(model).ok_or(LookupError::Unknown)?;
        let per_mtok = |field: &str| o.get(field).and_then(Value::as_f64).map(|usd_per_token| usd_per_token * 1e6);
        let tokens = |field| {
            o.get(field).and_then(Value::as_f64).filter(|v| v.fract() == 0.0 && *v >= 0.0 && *v <= f64::from(u32::MAX))
        };
        let input_per_mtok = per_mtok("input_cost_per_token").ok_or(LookupError::NoPrice("input_cost_per_token"))?;
        // A cache write never costs less than plain input: the table lists
        // providers that charge nothing extra with 0 (DeepSeek), which here
        // means "as input". A tier's write price only beside a base one.
        let cache_write_per_mtok = per_mtok("cache_creation_input_token_cost").filter(|&w| w > input_per_mtok);
        Ok(CatalogEntry {
            input_per_mtok,
            output_per_mtok: per_mtok("output_cost_per_token").ok_or(LookupError::NoPrice("output_cost_per_token"))?,
            cached_input_per_mtok: per_mtok("cache_read_input_token_cost"),
            cache_write_per_mtok,
            context_window: tokens("max_input_tokens").map(|v| v as u32),
            max_output_tokens: tokens("max_output_tokens").map(|v| v as u32),
            long_context: [(128_000, "128k"), (200_000, "200k")].into_iter().find_map(|(above, tag)| {
                let input = per_mtok(&format!("input_cost_per_token_above_{tag}_tokens"))?;
                let output = per_mtok(&format!("output_cost_per_token_above_{tag}_tokens"))?;
                Some(LongContextUsd {
                    above,
                    input,
                    output,
                    cached: per_mtok(&format!("cache_read_input_token_cost_above_{tag}_tokens")),
                    cache_write: per_mtok(&format!("cache_creation_input_token_cost_above_{tag}_tokens"))
                        .filter(|&w| cache_write_per_mtok.is_some() && w > input),
                })
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ints_and_floats_and_skips_non_models() {
        let c = Catalog::parse(
            r#"{
                "sample_spec": { "input_cost_per_token": 0.0, "max_input_tokens": "prose" },
                "last_updated": "2026-07-24",
                "m": { "input_cost_per_token": 1e-06, "output_cost_per_token": 0,
                       "max_input_tokens": 2000000.0, "max_output_tokens": 4096 },
                "img": { "output_cost_per_image": 0.04 }
            }"#,
        )
        .unwrap();
        assert_eq!(c.names().collect::<Vec<_>>(), ["img", "m"]);
        let m = c.get("m").unwrap();
        assert!((m.input_per_mtok - 1.0).abs() < 1e-9);
        assert_eq!(m.output_per_mtok, 0.0);
        assert_eq!(m.cached_input_per_mtok, None);
        assert_eq!((m.context_window, m.max_output_tokens), (Some(2_000_000), Some(4096)));
        assert_eq!(c.get("img"), Err(LookupError::NoPrice("input_cost_per_token")));
        assert_eq!(c.get("sample_spec"), Err(LookupError::Unknown));
        assert_eq!(m.long_context, None);
    }

    #[test]
    fn long_context_tiers_come_from_above_128k_or_200k_fields() {
        let c = Catalog::parse(
            r#"{
                "flash": { "input_cost_per_token": 7.5e-08, "output_cost_per_token": 3e-07,
                           "input_cost_per_token_above_128k_tokens": 1.5e-07,
                           "output_cost_per_token_above_128k_tokens": 6e-07 },
                "pro": { "input_cost_per_token": 1.25e-06, "output_cost_per_token": 1e-05,
                         "input_cost_per_token_above_200k_tokens": 2.5e-06,
                         "output_cost_per_token_above_200k_tokens": 1.5e-05,
                         "cache_read_input_token_cost_above_200k_tokens": 6.25e-07 },
                "sonnet": { "input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05,
                            "cache_creation_input_token_cost": 3.75e-06,
                            "input_cost_per_token_above_200k_tokens": 6e-06,
                            "output_cost_per_token_above_200k_tokens": 2.25e-05,
                            "cache_creation_input_token_cost_above_200k_tokens": 7.5e-06 },
                "deepseek": { "input_cost_per_token": 2.7e-07, "output_cost_per_token": 1.1e-06,
                              "cache_creation_input_token_cost": 0.0 },
                "gempro": { "input_cost_per_token": 1.25e-06, "output_cost_per_token": 1e-05,
                            "input_cost_per_token_above_200k_tokens": 2.5e-06,
                            "output_cost_per_token_above_200k_tokens": 1.5e-05,
                            "cache_creation_input_token_cost_above_200k_tokens": 2.5e-07 }
            }"#,
        )
        .unwrap();
        let lc = c.get("flash").unwrap().long_context.unwrap();
        assert_eq!(lc.above, 128_000);
        assert!((lc.input - 0.15).abs() < 1e-9 && (lc.output - 0.6).abs() < 1e-9 && lc.cached.is_none());
        let lc = c.get("pro").unwrap().long_context.unwrap();
        assert_eq!(lc.above, 200_000);
        assert!((lc.output - 15.0).abs() < 1e-9 && (lc.cached.unwrap() - 0.625).abs() < 1e-9);
        assert_eq!(lc.cache_write, None);
        // Cache writes, in both tiers.
        let sonnet = c.get("sonnet").unwrap();
        assert!((sonnet.cache_write_per_mtok.unwrap() - 3.75).abs() < 1e-9);
        assert!((sonnet.long_context.unwrap().cache_write.unwrap() - 7.5).abs() < 1e-9);
        // A write price under the input's (DeepSeek's 0: nothing extra), or a
        // tier's without a base one, is not a write premium: input it is.
        assert_eq!(c.get("deepseek").unwrap().cache_write_per_mtok, None);
        let gempro = c.get("gempro").unwrap();
        assert_eq!((gempro.cache_write_per_mtok, gempro.long_context.unwrap().cache_write), (None, None));
    }
}
