//! Tokenizer skew: the same prompt is a different number of tokens on
//! different endpoints, so cost, TPM and context fit differ.

use windtunnel_config::TokenizerSpec;
use windtunnel_core::Request;

/// Per-endpoint token counting.
#[derive(Clone, Debug)]
pub struct Tokenizer {
    ratio: f64,
    lang: Vec<(Box<str>, f64)>,
}

impl Tokenizer {
    /// From the scenario's `tokenizer` table.
    pub fn new(spec: &TokenizerSpec) -> Tokenizer {
        Tokenizer { ratio: spec.ratio, lang: spec.lang.iter().map(|(k, v)| (k.as_str().into(), *v)).collect() }
    }

    /// Tokens counted here per reference token for this request's language.
    pub fn ratio(&self, req: &Request) -> f64 {
        if let Some(lang) = &req.lang
            && let Some((_, r)) = self.lang.iter().find(|(l, _)| **l == **lang)
        {
            return *r;
        }
        self.ratio
    }

    /// `reference` tokens as counted here (rounded up: a fraction of a token is a token).
    pub fn count(ratio: f64, reference: u32) -> u32 {
        // The epsilon keeps float noise (1000 × 1.1 = 1100.0000000000002) from
        // adding a token.
        if ratio == 1.0 { reference } else { (f64::from(reference) * ratio - 1e-9).ceil() as u32 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn language_overrides_the_default_ratio() {
        let t = Tokenizer::new(&TokenizerSpec { ratio: 1.1, lang: BTreeMap::from([("zh".to_string(), 1.6)]) });
        let mut r = Request::new(0, 0, 1000, 10);
        assert_eq!(Tokenizer::count(t.ratio(&r), 1000), 1100);
        r.lang = Some("zh".into());
        assert_eq!(Tokenizer::count(t.ratio(&r), 1000), 1600);
    }
}
