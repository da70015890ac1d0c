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
    /// Of `prompt_tokens`, those the upstream served from its prompt cache
    /// (OpenAI `prompt_tokens_details.cached_tokens`, Anthropic
    /// `cache_read_input_tokens`), billed at the cached-input price.
    pub cached_prompt_tokens: u32,
    /// Of `prompt_tokens`, those the upstream wrote to its prompt cache
    /// (Anthropic `cache_creation_input_tokens`; OpenAI reports none),
    /// billed at the cache-write price.
    pub cache_write_prompt_tokens: u32,
}

impl Usage {
    /// Prompt plus completion tokens (saturating).
    pub fn total_tokens(self) -> u32 {
        self.prompt_tokens.saturating_add(self.completion_tokens)
    }

    /// OpenAI's `usage` object: `{prompt_tokens, completion_tokens,
    /// total_tokens}`, with `prompt_tokens_details.cached_tokens` when some
    /// were cached.
    pub fn to_json(self) -> Value {
        let mut v = json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens(),
        });
        if self.cached_prompt_tokens > 0 {
            v["prompt_tokens_details"] = json!({ "cached_tokens": self.cached_prompt_tokens });
        }
        v
    }

    /// Anthropic's `usage` object: `input_tokens` (the prompt's tokens
    /// neither read from nor written to the cache),
    /// `cache_read_input_tokens` and `cache_creation_input_tokens` when some
    /// were, and `output_tokens`. Anthropic's parse of it gives `self` back.
    pub fn to_anthropic_json(self) -> Value {
        let read = self.cached_prompt_tokens.min(self.prompt_tokens);
        let written = self.cache_write_prompt_tokens.min(self.prompt_tokens - read);
        let mut v = json!({
            "input_tokens": self.prompt_tokens - read - written,
            "output_tokens": self.completion_tokens,
        });
        if read > 0 {
            v["cache_read_input_tokens"] = json!(read);
        }
        if written > 0 {
            v["cache_creation_input_tokens"] = json!(written);
        }
        v
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
        let prompt_tokens = sat_u32(prompt.unwrap_or(0));
        let cached = obj
            .get("prompt_tokens_details")
            .and_then(|d| d.get("cached_tokens"))
            .and_then(Value::as_u64)
            .map_or(0, sat_u32);
        Some(Usage {
            prompt_tokens,
            completion_tokens: sat_u32(completion.unwrap_or(0)),
            // Never more than the prompt, whatever the upstream says.
            cached_prompt_tokens: cached.min(prompt_tokens),
            cache_write_prompt_tokens: 0,
        })
    }
}

/// `n` as a `u32`, saturating: token counts never wrap.
pub(crate) fn sat_u32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_prompt_tokens_are_read_capped_and_written_back() {
        let v = json!({"prompt_tokens": 2006, "completion_tokens": 300, "total_tokens": 2306,
                       "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0}});
        let u = Usage::from_openai(&v).unwrap();
        assert_eq!(
            u,
            Usage {
                prompt_tokens: 2006,
                completion_tokens: 300,
                cached_prompt_tokens: 1920,
                cache_write_prompt_tokens: 0
            }
        );
        assert_eq!(
            u.to_json(),
            v.as_object()
                .map(|o| {
                    let mut o = o.clone();
                    o["prompt_tokens_details"] = json!({"cached_tokens": 1920});
                    Value::Object(o)
                })
                .unwrap()
        );
        // An upstream claiming more cached tokens than the prompt has.
        let odd = json!({"prompt_tokens": 10, "completion_tokens": 1, "prompt_tokens_details": {"cached_tokens": 99}});
        assert_eq!(Usage::from_openai(&odd).unwrap().cached_prompt_tokens, 10);
        // Without details, nothing cached, and none written back.
        let plain = Usage::from_openai(&json!({"prompt_tokens": 5, "completion_tokens": 1})).unwrap();
        assert_eq!(plain.cached_prompt_tokens, 0);
        assert!(plain.to_json().get("prompt_tokens_details").is_none());
    }
}
