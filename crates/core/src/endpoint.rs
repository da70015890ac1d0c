//! Endpoint identity: one model at one provider.

use std::fmt;
use std::sync::Arc;

/// An endpoint's name, `provider/model` (`openai/gpt-4o`). Cheap to clone.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EndpointId(pub Arc<str>);

impl EndpointId {
    /// Wraps a name.
    pub fn new(name: &str) -> EndpointId {
        EndpointId(Arc::from(name))
    }

    /// The full name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The provider: the part before the first `/`, or the whole name.
    pub fn provider(&self) -> &str {
        self.0.split_once('/').map_or(&self.0, |(p, _)| p)
    }

    /// The model: the part after the first `/`, or the whole name.
    pub fn model(&self) -> &str {
        self.0.split_once('/').map_or(&self.0, |(_, m)| m)
    }
}

impl fmt::Display for EndpointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The position of an endpoint in its scenario or proxy config. Hot paths
/// (executor, sim, aggregation) index by it instead of hashing names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EndpointIdx(pub u16);

impl EndpointIdx {
    /// As a `usize` index.
    pub fn get(self) -> usize {
        usize::from(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_provider_and_model() {
        let e = EndpointId::new("deepseek/deepseek-chat");
        assert_eq!(e.provider(), "deepseek");
        assert_eq!(e.model(), "deepseek-chat");
        let local = EndpointId::new("llama");
        assert_eq!(local.provider(), "llama");
    }
}
