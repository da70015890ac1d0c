//! [`scenario_keys`]: every key the scenario parser accepts, table by table,
//! read from the `Raw*` types themselves, so the list cannot drift from the
//! parser. The reference documentation is tested against it.

use crate::raw::*;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use std::fmt;

/// Every table of a scenario file and the keys it accepts, in declaration
/// order: `("endpoints[].price", ["catalog", "input_per_mtok", ...])`.
pub fn scenario_keys() -> Vec<(&'static str, &'static [&'static str])> {
    vec![
        ("", fields::<RawScenario>()),
        ("policy (fixed chain)", fields::<RawChain>()),
        ("policy.breaker", fields::<RawBreaker>()),
        ("policy.retry", fields::<RawRetry>()),
        ("trace", fields::<RawTrace>()),
        ("trace.synthetic", fields::<RawSynthetic>()),
        ("trace.synthetic.conversations", fields::<RawConversations>()),
        ("trace.synthetic.repeats", fields::<RawRepeats>()),
        ("sla.CLASS", fields::<RawSla>()),
        ("budgets.TENANT", fields::<RawBudget>()),
        ("endpoints[]", fields::<RawEndpoint>()),
        ("endpoints[].price", fields::<RawPrice>()),
        ("endpoints[].price.long_context", fields::<RawLongContext>()),
        ("endpoints[].tokenizer", fields::<RawTokenizer>()),
        ("endpoints[].latency", fields::<RawLatency>()),
        ("a distribution table", fields::<RawDistTable>()),
        ("endpoints[].rate_limit", fields::<RawRateLimit>()),
        ("endpoints[].errors", fields::<RawErrors>()),
        ("endpoints[].quality", fields::<RawQuality>()),
        ("endpoints[].faults[]", fields::<RawFault>()),
        ("endpoints[].price_changes[]", fields::<RawPriceChange>()),
        ("assert", fields::<RawAssert>()),
        ("endpoints[].upstream", fields::<RawUpstream>()),
        ("endpoints[].prompt_cache", fields::<RawPromptCache>()),
        ("endpoints[].price_schedule[]", fields::<RawScheduleWindow>()),
        ("proxy", fields::<RawProxy>()),
        ("cache", fields::<RawCache>()),
    ]
}

/// The field names a derived `Deserialize` of a struct asks for.
fn fields<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    match T::deserialize(FieldsOf) {
        Err(Found(f)) => f,
        Ok(_) => &[],
    }
}

/// A deserializer that answers every request with the struct's field list.
struct FieldsOf;

/// The "error" that carries the field list out.
#[derive(Debug)]
struct Found(&'static [&'static str]);

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fields: {:?}", self.0)
    }
}

impl std::error::Error for Found {}

impl de::Error for Found {
    fn custom<M: fmt::Display>(_: M) -> Found {
        Found(&[])
    }
}

impl<'de> Deserializer<'de> for FieldsOf {
    type Error = Found;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Found> {
        Err(Found(fields))
    }

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Found> {
        Err(Found(&[]))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_from_the_parser_types() {
        let keys = scenario_keys();
        let of = |table: &str| keys.iter().find(|(t, _)| *t == table).map(|(_, k)| *k).unwrap_or_default();
        assert!(of("endpoints[]").contains(&"rate_limit"));
        assert!(of("assert").contains(&"max_policy_errors"));
        assert!(of("policy (fixed chain)").contains(&"max_wait_ms"));
        assert!(keys.iter().all(|(_, k)| !k.is_empty()), "every table lists its keys");
    }

    /// The reference documents every key the parser accepts, each in
    /// backticks, so a new key without docs fails here.
    #[test]
    fn the_scenario_reference_documents_every_key() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/reference/scenario.md");
        let doc = std::fs::read_to_string(path).unwrap_or_default();
        assert!(!doc.is_empty(), "cannot read {path}");
        let missing: Vec<String> = scenario_keys()
            .into_iter()
            .flat_map(|(table, keys)| keys.iter().map(move |k| (table, *k)))
            .filter(|(_, k)| !doc.contains(&format!("`{k}`")))
            .map(|(t, k)| format!("{t}: {k}"))
            .collect();
        assert!(missing.is_empty(), "keys missing from docs/reference/scenario.md: {missing:?}");
    }
}
