//! Test fixtures shared by the workspace's crates, as a dev-dependency only:
//! endpoint facts with plain defaults, and scenarios parsed from inline TOML
//! with a message that names the fixture when one does not parse. One home,
//! so that a new field of `EndpointFacts` or a new scenario rule is met in
//! one place, not in every crate's tests.
//!
//! # Dependencies
//! - windtunnel-core: `EndpointFacts` and its parts.
//! - windtunnel-config: `parse_scenario`.

use std::path::Path;
use windtunnel_config::{Scenario, parse_scenario};
use windtunnel_core::{EndpointFacts, EndpointId, Price, TokenRatio};

/// An endpoint named `name`: free, no window, no output cap, no TPM limit,
/// reference tokenizer, quality 0.9.
pub fn facts(name: &str) -> EndpointFacts {
    EndpointFacts {
        id: EndpointId::new(name),
        context_window: None,
        max_output_tokens: None,
        max_request_tokens: None,
        tokenizer: TokenRatio::default(),
        prices: vec![(0, Price::default())],
        quality: 0.9,
        prompt_cache: None,
        schedule: None,
    }
}

/// `n` endpoints `p0/m`, `p1/m`, ... as [`facts`] makes them.
pub fn endpoints(n: usize) -> Vec<EndpointFacts> {
    (0..n).map(|i| facts(&format!("p{i}/m"))).collect()
}

/// Parses an inline scenario as if it were the file `file` (paths resolve
/// beside it). Panics, naming the file and the error, when it does not parse:
/// a broken fixture is a broken test.
pub fn scenario(text: &str, file: &str) -> Scenario {
    match parse_scenario(text, Path::new(file), &[]) {
        Ok(s) => s,
        #[expect(clippy::panic, reason = "a fixture that does not parse fails its test")]
        Err(e) => panic!("fixture {file} does not parse: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_have_the_documented_defaults() {
        let e = endpoints(2);
        assert_eq!(e[1].id.as_str(), "p1/m");
        assert!(e[0].context_window.is_none() && e[0].prices.len() == 1 && e[0].quality == 0.9);
        let s = scenario("name = \"t\"\npolicy = { chain = [\"a/x\"] }\n[[endpoints]]\nname = \"a/x\"\n", "t.toml");
        assert_eq!(s.name, "t");
    }
}
