//! Measuring prompt text without a tokenizer: [`estimate_tokens`] and
//! [`detect_lang`].
//!
//! Why not a real BPE tokenizer? The proxy counts prompt tokens *before*
//! routing only to check context fit and reserve budget; the bill comes from
//! the upstream's own `usage`. A tokenizer table would add megabytes and a
//! dependency for a number that is then multiplied by the endpoint's
//! `tokenizer_ratio` anyway. The estimate is deterministic and easy to
//! invert, which `load` needs: `4 × n` ASCII characters are exactly `n`
//! tokens.

/// Characters per token for text outside the CJK scripts: the usual rule of
/// thumb for English under OpenAI's BPE tokenizers (about 4 characters, or
/// three quarters of a word, per token).
const CHARS_PER_TOKEN: u64 = 4;

/// Rough token count of text: a stand-in for a BPE tokenizer, and an
/// estimate only.
///
/// Each CJK character (Han, kana, Hangul, CJK punctuation and full-width
/// forms) is one token; every other character (letters of any other script,
/// digits, punctuation, whitespace) counts a quarter: the total is
/// `cjk + ceil(other / 4)`. Deterministic; saturates at `u32::MAX`.
///
/// ```
/// use windtunnel_openai::estimate_tokens;
/// assert_eq!(estimate_tokens(""), 0);
/// assert_eq!(estimate_tokens("abcd"), 1);
/// assert_eq!(estimate_tokens("Hello, world"), 3);
/// assert_eq!(estimate_tokens("你好世界"), 4);
/// ```
pub fn estimate_tokens(text: &str) -> u32 {
    let mut wide: u64 = 0;
    let mut other: u64 = 0;
    for c in text.chars() {
        if is_wide(c) {
            wide += 1;
        } else {
            other += 1;
        }
    }
    u32::try_from(wide + other.div_ceil(CHARS_PER_TOKEN)).unwrap_or(u32::MAX)
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

/// Characters a BPE tokenizer spends about one token on: the CJK scripts,
/// CJK symbols and punctuation (`。`, `「`) and full-width forms.
fn is_wide(c: char) -> bool {
    let u = c as u32;
    is_han(u) || is_kana(u) || is_hangul(u) || matches!(u, 0x3000..=0x303F | 0xFF00..=0xFFEF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_text_is_about_four_characters_per_token() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("a"), 1);
        assert_eq!(estimate_tokens("abcd"), 1);
        assert_eq!(estimate_tokens("abcde"), 2);
        assert_eq!(estimate_tokens(&"x".repeat(4_000)), 1_000);
        // Non-ASCII letters count per character, not per byte.
        assert_eq!(estimate_tokens("éééé"), 1);
    }

    #[test]
    fn cjk_characters_are_one_token_each() {
        assert_eq!(estimate_tokens("你好"), 2);
        assert_eq!(estimate_tokens("こんにちは"), 5);
        assert_eq!(estimate_tokens("안녕하세요"), 5);
        assert_eq!(estimate_tokens("你好。"), 3);
        // Mixed: 2 wide + ceil(6 / 4).
        assert_eq!(estimate_tokens("你好 hello"), 4);
    }

    #[test]
    fn estimate_is_deterministic_and_monotone_in_length() {
        let text = "The quick brown fox jumps over the lazy dog. ".repeat(50);
        assert_eq!(estimate_tokens(&text), estimate_tokens(&text));
        assert!(estimate_tokens(&text) >= estimate_tokens(&text[..100]));
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
