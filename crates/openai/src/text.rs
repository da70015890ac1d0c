//! Measuring prompt text: [`count_tokens`] and [`detect_lang`].
//!
//! Tokens are counted with OpenAI's `o200k_base` byte-pair encoding (the
//! GPT-4o family's), through `tiktoken-rs`. The proxy counts a prompt before
//! routing (context fit, budget reservation) and an answer whose upstream
//! reported no usage (the bill); each endpoint's `tokenizer` ratio then
//! turns the count into that endpoint's tokens, as in the simulator. One
//! reference encoding for every provider is what the scenario's ratios are
//! relative to: the trace's token counts are the same reference.

use std::sync::OnceLock;

/// Tokens of `text` under `o200k_base`, special-token text counted as
/// ordinary text (a prompt cannot smuggle a control token into the count).
/// Deterministic; saturates at `u32::MAX`. The tables load once per process,
/// on first use ([`warm_tokenizer`] loads them ahead).
///
/// ```
/// use windtunnel_openai::count_tokens;
/// assert_eq!(count_tokens(""), 0);
/// assert_eq!(count_tokens("hello world"), 2);
/// ```
pub fn count_tokens(text: &str) -> u32 {
    if text.is_empty() {
        return 0;
    }
    u32::try_from(bpe().count_ordinary(text)).unwrap_or(u32::MAX)
}

/// A prompt's tokens (as [`count_tokens`] counts them) and its `hash_ids`:
/// one id per full block of `block_tokens` tokens, each a hash of the
/// block's tokens and of the id before it (the Mooncake traces' scheme), so
/// two prompts share their leading ids exactly as far as they share their
/// leading blocks. The proxy gives live requests these, so the executor's
/// view of each endpoint's prompt cache (`cached_tokens(req)`) works live
/// as in simulation. A `block_tokens` of 0 gives no ids.
///
/// ```
/// use windtunnel_openai::{prompt_blocks, synthetic_prompt};
/// let (tokens, ids) = prompt_blocks(&synthetic_prompt(1300, &[], 512, 7), 512);
/// assert_eq!((tokens, ids.len()), (1300, 2));
/// let (_, longer) = prompt_blocks(&(synthetic_prompt(1100, &[], 512, 7) + " and more"), 512);
/// assert_eq!(longer, ids);
/// ```
pub fn prompt_blocks(text: &str, block_tokens: usize) -> (u32, Vec<u64>) {
    if text.is_empty() {
        return (0, Vec::new());
    }
    let tokens = bpe().encode_ordinary(text);
    let count = u32::try_from(tokens.len()).unwrap_or(u32::MAX);
    if block_tokens == 0 {
        return (count, Vec::new());
    }
    let mut prev = 0u64;
    let ids = tokens
        .chunks_exact(block_tokens)
        .map(|block| {
            // FNV-1a over the block's tokens, seeded with the id before it,
            // then mixed (splitmix64's finaliser) so ids spread evenly.
            let mut h = prev ^ 0xcbf2_9ce4_8422_2325;
            for &t in block {
                h = (h ^ u64::from(t)).wrapping_mul(0x100_0000_01b3);
            }
            prev = mix(h);
            prev
        })
        .collect();
    (count, ids)
}

/// Loads the tokenizer's tables now, so the first request does not pay for
/// it (about 0.1 s in a release build).
pub fn warm_tokenizer() {
    let _ = bpe();
}

fn bpe() -> &'static tiktoken_rs::CoreBPE {
    static BPE: OnceLock<&'static tiktoken_rs::CoreBPE> = OnceLock::new();
    BPE.get_or_init(tiktoken_rs::o200k_base_singleton)
}

/// Words of [`synthetic_prompt`]'s text: each one `o200k_base` token, and
/// never merged with its neighbours (the encoder splits text before each
/// space-led word), so a block of `n` words is `n` tokens wherever it stands.
const WORDS: [&str; 16] =
    [" the", " of", " and", " to", " in", " is", " it", " on", " at", " by", " we", " or", " an", " be", " as", " so"];

/// A prompt of exactly `tokens` tokens (as [`count_tokens`] counts them)
/// whose blocks of `block_tokens` follow `blocks`, for `load`'s synthetic
/// prompts: block `i` is text drawn from `blocks[i]` alone, so two prompts
/// share their leading blocks (as [`prompt_blocks`] sees them) exactly as far
/// as their ids agree, and a provider's prefix cache sees the trace's
/// sharing. Blocks past the ids are drawn from `salt` and the block's index:
/// give a prompt's own key (its `prompt_hash` where the trace has one, so
/// repeated prompts are the same text) or the request's number (a prompt
/// shared with no other). A `block_tokens` of 0 is taken as 512.
///
/// ```
/// use windtunnel_openai::{count_tokens, prompt_blocks, synthetic_prompt};
/// let a = synthetic_prompt(1200, &[7, 8, 9], 512, 1);
/// let b = synthetic_prompt(1100, &[7, 8, 4], 512, 2);
/// assert_eq!((count_tokens(&a), count_tokens(&b)), (1200, 1100));
/// let (ia, ib) = (prompt_blocks(&a, 512).1, prompt_blocks(&b, 512).1);
/// assert_eq!(ia, ib, "the two full blocks of each are ids 7 and 8");
/// assert_ne!(prompt_blocks(&synthetic_prompt(600, &[], 512, 1), 512).1, prompt_blocks(&synthetic_prompt(600, &[], 512, 2), 512).1);
/// ```
pub fn synthetic_prompt(tokens: u32, blocks: &[u64], block_tokens: u32, salt: u64) -> String {
    let block_tokens = if block_tokens == 0 { 512 } else { block_tokens };
    // A word is at most 4 bytes.
    let mut text = String::with_capacity(tokens as usize * 4);
    let mut left = tokens;
    let mut index = 0u64;
    while left > 0 {
        let n = left.min(block_tokens);
        let seed = blocks.get(index as usize).copied().unwrap_or_else(|| mix(salt ^ mix(index.wrapping_add(1))));
        let mut state = seed;
        let mut bits = 0u64;
        for i in 0..n {
            if i % 16 == 0 {
                state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
                bits = mix(state);
            }
            text.push_str(WORDS[(bits & 15) as usize]);
            bits >>= 4;
        }
        left -= n;
        index += 1;
    }
    text
}

/// splitmix64's finaliser: spreads `x` over all 64 bits.
fn mix(x: u64) -> u64 {
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Language of a prompt from its script: `"zh"` (Han), `"ja"`
/// (Hiragana/Katakana), `"ko"` (Hangul), `"ru"` (Cyrillic), `"ar"`
/// (Arabic), `"en"` otherwise (Latin and any other alphabetic script);
/// `None` for text without letters (empty text included).
///
/// The majority of letters decides; a tie goes to the first of en, zh, ja,
/// ko, ru, ar. Japanese writes many words in Han characters, so when kana
/// make up at least a tenth of the Han and kana letters, the Han letters count
/// as Japanese too (a Chinese text quoting one katakana word stays Chinese).
///
/// ```
/// use windtunnel_openai::detect_lang;
/// assert_eq!(detect_lang("What is the capital of France?"), Some("en"));
/// assert_eq!(detect_lang("東京の天気はどうですか"), Some("ja"));
/// assert_eq!(detect_lang("今天天气怎么样"), Some("zh"));
/// assert_eq!(detect_lang("42 + 1"), None);
/// ```
pub fn detect_lang(text: &str) -> Option<&'static str> {
    let (mut latin, mut han, mut kana, mut hangul, mut cyrillic, mut arabic) = (0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
    for c in text.chars() {
        let u = c as u32;
        if is_han(u) {
            han += 1;
        } else if is_kana(u) {
            kana += 1;
        } else if is_hangul(u) {
            hangul += 1;
        } else if !c.is_alphabetic() {
            // digits, punctuation, whitespace, symbols: no language
        } else if matches!(u, 0x0400..=0x052F | 0x1C80..=0x1C8F | 0x2DE0..=0x2DFF | 0xA640..=0xA69F) {
            cyrillic += 1;
        } else if matches!(u, 0x0600..=0x06FF | 0x0750..=0x077F | 0x08A0..=0x08FF | 0xFB50..=0xFDFF | 0xFE70..=0xFEFF) {
            arabic += 1;
        } else {
            latin += 1;
        }
    }
    let (zh, ja) = if kana > 0 && kana * 10 >= han + kana { (0, han + kana) } else { (han, kana) };
    let counts = [("en", latin), ("zh", zh), ("ja", ja), ("ko", hangul), ("ru", cyrillic), ("ar", arabic)];
    let mut best: Option<(&'static str, u64)> = None;
    for (lang, n) in counts {
        if n > 0 && best.is_none_or(|(_, b)| n > b) {
            best = Some((lang, n));
        }
    }
    best.map(|(lang, _)| lang)
}

/// Han ideographs: the CJK Unified Ideographs blocks and their extensions,
/// and the compatibility ideographs.
fn is_han(u: u32) -> bool {
    matches!(u, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F | 0x30000..=0x323AF)
}

/// Hiragana, Katakana (with its phonetic extensions) and half-width katakana.
fn is_kana(u: u32) -> bool {
    matches!(u, 0x3040..=0x309F | 0x30A0..=0x30FF | 0x31F0..=0x31FF | 0xFF66..=0xFF9D)
}

/// Hangul syllables and jamo.
fn is_hangul(u: u32) -> bool {
    matches!(u, 0x1100..=0x11FF | 0x3130..=0x318F | 0xA960..=0xA97F | 0xAC00..=0xD7AF | 0xD7B0..=0xD7FF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_as_openais_o200k_base() {
        // Reference counts from OpenAI's tiktoken (o200k_base).
        assert_eq!(count_tokens(""), 0);
        assert_eq!(count_tokens("hello world"), 2);
        assert_eq!(count_tokens("Hello, world!"), 4);
        assert_eq!(count_tokens("The quick brown fox jumps over the lazy dog."), 10);
        // Special-token text is ordinary text.
        assert!(count_tokens("<|endoftext|>") > 1);
        // More text, more tokens; CJK is counted, not estimated per byte.
        let text = "The quick brown fox jumps over the lazy dog. ".repeat(50);
        assert!(count_tokens(&text) >= count_tokens(&text[..100]));
        assert!((1..=6).contains(&count_tokens("你好世界")));
    }

    #[test]
    fn synthetic_prompts_count_exactly() {
        for n in [0, 1, 2, 3, 7, 100, 999, 4_096, 32_000] {
            assert_eq!(count_tokens(&synthetic_prompt(n, &[3, 1, 4], 512, 9)), n, "{n}");
        }
    }

    #[test]
    fn each_synthetic_word_is_one_token_wherever_it_stands() {
        for w in WORDS {
            assert_eq!(count_tokens(w), 1, "{w:?}");
        }
        let all: String = WORDS.concat();
        assert_eq!(count_tokens(&all), WORDS.len() as u32);
        assert_eq!(count_tokens(&(all.clone() + &all)), 2 * WORDS.len() as u32);
    }

    proptest::proptest! {
        /// A synthetic prompt counts exactly, and its full blocks' ids
        /// agree with another's exactly as far as the ids it was drawn from.
        #[test]
        fn synthetic_prompts_share_blocks_as_their_ids_do(
            tokens in 0u32..3_000,
            other in 0u32..3_000,
            ids in proptest::collection::vec(0u64..4, 0..7),
            others in proptest::collection::vec(0u64..4, 0..7),
            salts in (0u64..3, 0u64..3),
        ) {
            let (a, b) = (synthetic_prompt(tokens, &ids, 512, salts.0), synthetic_prompt(other, &others, 512, salts.1));
            let (ta, ia) = prompt_blocks(&a, 512);
            let (tb, ib) = prompt_blocks(&b, 512);
            proptest::prop_assert_eq!((ta, tb), (tokens, other));
            // The ids of each block: the given one, else the salt's own.
            let seed = |ids: &[u64], salt: u64, i: usize| ids.get(i).map_or((1, salt, i), |&id| (0, id, 0));
            let full = |n: u32| (n / 512) as usize;
            let expected = (0..full(tokens).min(full(other)))
                .take_while(|&i| seed(&ids, salts.0, i) == seed(&others, salts.1, i))
                .count();
            let shared = ia.iter().zip(&ib).take_while(|(x, y)| x == y).count();
            proptest::prop_assert_eq!(shared, expected);
        }
    }

    #[test]
    fn detects_each_script() {
        assert_eq!(detect_lang("Summarise this article in three bullet points."), Some("en"));
        assert_eq!(detect_lang("请把这篇文章总结成三点"), Some("zh"));
        assert_eq!(detect_lang("この記事を三つの要点にまとめてください"), Some("ja"));
        assert_eq!(detect_lang("이 기사를 세 가지 요점으로 요약해 주세요"), Some("ko"));
        assert_eq!(detect_lang("Кратко изложите эту статью"), Some("ru"));
        assert_eq!(detect_lang("لخص هذه المقالة في ثلاث نقاط"), Some("ar"));
    }

    #[test]
    fn no_letters_no_language() {
        assert_eq!(detect_lang(""), None);
        assert_eq!(detect_lang("  \n"), None);
        assert_eq!(detect_lang("3.14159 + 2 = ?"), None);
    }

    #[test]
    fn majority_of_letters_decides() {
        // An English instruction around a short Russian phrase.
        assert_eq!(detect_lang("Translate into English: привет"), Some("en"));
        // A Russian text with a Latin brand name.
        assert_eq!(detect_lang("Расскажите подробно о компании OpenAI и её продуктах"), Some("ru"));
        // Han-heavy Japanese still reads as Japanese once kana are a tenth.
        assert_eq!(detect_lang("東京都知事選挙の結果"), Some("ja"));
        // A Chinese text with one katakana word stays Chinese.
        assert_eq!(detect_lang("我们今天在北京的会议室讨论了关于人工智能发展的很多问题和未来计划ア"), Some("zh"));
    }
}
