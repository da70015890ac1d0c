//! [`Usage`]: the token counts an upstream reports for one answer, in
//! OpenAI's names (Anthropic's are translated on the way in).

use serde_json::{Value, json};

/// One token usage report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Usage {
    /// Tokens of the prompt, as the upstream counted them (Anthropic: input
    /// tokens plus cache writes and cache reads, the way OpenAI counts cached
    /// prompt tokens inside `prompt_tokens`).
    pub prompt_tokens: u32,
    /// Tokens of the answer.
    pub completion_tokens: u32,
}

impl Usage {
    /// Prompt plus completion tokens (saturating).
    pub fn total_tokens(self) -> u32 {
        self.prompt_tokens.saturating_add(self.completion_tokens)
    }

    /// OpenAI's `usage` object: `{prompt_tokens, completion_tokens, total_tokens}`.
    pub fn to_json(self) -> Value {
        json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens(),
        })
    }

    /// Reads an OpenAI `usage` object. `None` when `v` is not an object or
    /// has neither count (`"usage": null` on OpenAI's intermediate chunks);
    /// a missing count is 0, a count beyond `u32` saturates.
    pub(crate) fn from_openai(v: &Value) -> Option<Usage> {
        let obj = v.as_object()?;
        let prompt = obj.get("prompt_tokens").and_then(Value::as_u64);
        let completion = obj.get("completion_tokens").and_then(Value::as_u64);
        if prompt.is_none() && completion.is_none() {
            return None;
        }
        Some(Usage { prompt_tokens: sat_u32(prompt.unwrap_or(0)), completion_tokens: sat_u32(completion.unwrap_or(0)) })
    }
}

/// `n` as a `u32`, saturating: token counts never wrap.
pub(crate) fn sat_u32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
