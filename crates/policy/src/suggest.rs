//! "Did you mean": the nearest known name to a misspelt one.

use std::fmt;

/// The candidate nearest to `name` by edit distance, when it is near enough
/// to be a typo: at most a third of the name's length, and at least 2, apart.
/// A bare model name also matches `provider/model` (`gpt-4o` → `openai/gpt-4o`).
pub(crate) fn nearest<'a, I>(name: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    let limit = (name.chars().count() / 3).max(2);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = if c.rsplit_once('/').is_some_and(|(_, m)| m == name) { 0 } else { strsim::levenshtein(name, c) };
        if d <= limit && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c.to_string())
}

/// Renders `, did you mean `x`?` or nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hint(pub Option<String>);

impl Hint {
    /// The hint for `name` among `candidates`.
    pub(crate) fn for_name<'a, I>(name: &str, candidates: I) -> Hint
    where
        I: IntoIterator<Item = &'a str>,
    {
        Hint(nearest(name, candidates))
    }
}

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(s) => write!(f, ", did you mean `{s}`?"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_names_only() {
        let names = ["openai/gpt-4o", "openai/gpt-4o-mini", "deepseek/deepseek-chat"];
        assert_eq!(nearest("openai/gpt-4", names), Some("openai/gpt-4o".into()));
        assert_eq!(nearest("gpt-4o-mini", names), Some("openai/gpt-4o-mini".into()));
        assert_eq!(nearest("anthropic/claude", names), None);
        assert_eq!(Hint::for_name("max_p59_ms", ["max_p95_ms"]).to_string(), ", did you mean `max_p95_ms`?");
        assert_eq!(Hint::for_name("zzz", ["max_p95_ms"]).to_string(), "");
    }
}
