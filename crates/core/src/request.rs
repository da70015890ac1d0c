//! What the application sends: one request of a trace or of live traffic.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// An interned string: tenants, classes, models and languages repeat across a
/// trace, so readers share one allocation per distinct value.
pub type Sym = Arc<str>;

/// One request. `seq` is its 0-based position in the trace; it is the stable
/// key from which every random draw for this request is derived, so it never
/// depends on the policy.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// 0-based position in the trace.
    pub seq: u64,
    /// The trace's `id`, when it gave one; otherwise the id is the line number.
    pub id: Option<Sym>,
    /// Arrival time, milliseconds from the start of the trace.
    pub at_ms: u64,
    /// Who pays.
    pub tenant: Sym,
    /// SLA class (`interactive`, `batch`, ...).
    pub class: Sym,
    /// Requested model or group, if any.
    pub model: Option<Sym>,
    /// Prompt tokens, as a reference tokenizer counts them.
    pub input_tokens: u32,
    /// Tokens the response will have, as the reference tokenizer counts them.
    pub output_tokens: u32,
    /// The client's `max_tokens`.
    pub max_tokens: u32,
    /// Whether the client asked for a stream.
    pub stream: bool,
    /// Prompt language (`en`, `zh`, ...), for tokenizer skew.
    pub lang: Option<Sym>,
    /// Per-request deadline in milliseconds after arrival.
    pub deadline_ms: Option<u64>,
    /// Free-form tags, values as JSON text.
    pub tags: Option<Box<BTreeMap<String, String>>>,
    /// Hash of the prompt prefix, for cached-input pricing.
    pub prefix_hash: Option<u64>,
    /// Hashes of the prompt's consecutive blocks (Mooncake's `hash_ids`), for
    /// providers' prompt caching: two prompts sharing their first `k` hashes
    /// share their first `k` blocks.
    pub hash_ids: Option<Box<[u64]>>,
    /// Identity of the whole prompt, for the gateway's response cache: two
    /// requests with one `prompt_hash` ask the same thing.
    pub prompt_hash: Option<u64>,
    /// Raw chat messages as JSON text, kept only for live replay.
    pub messages: Option<Box<str>>,
}

impl Request {
    /// A request with SPEC's defaults for everything but the three required fields.
    pub fn new(seq: u64, at_ms: u64, input_tokens: u32, output_tokens: u32) -> Request {
        thread_local! {
            static DEFAULT: Sym = Sym::from("default");
        }
        let default = DEFAULT.with(Sym::clone);
        Request {
            seq,
            id: None,
            at_ms,
            tenant: default.clone(),
            class: default,
            model: None,
            input_tokens,
            output_tokens,
            max_tokens: output_tokens,
            stream: false,
            lang: None,
            deadline_ms: None,
            tags: None,
            prefix_hash: None,
            hash_ids: None,
            prompt_hash: None,
            messages: None,
        }
    }

    /// The id as reports print it: the trace's own, or the 1-based line number.
    pub fn id(&self) -> RequestIdDisplay<'_> {
        RequestIdDisplay(self)
    }
}

/// Displays a request id without allocating.
#[derive(Debug)]
pub struct RequestIdDisplay<'a>(&'a Request);

impl fmt::Display for RequestIdDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.id {
            Some(id) => f.write_str(id),
            None => write!(f, "{}", self.0.seq + 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_spec() {
        let r = Request::new(4, 10, 800, 200);
        assert_eq!(&*r.tenant, "default");
        assert_eq!(&*r.class, "default");
        assert_eq!(r.max_tokens, 200);
        assert!(!r.stream);
        assert_eq!(r.id().to_string(), "5");
    }
}
