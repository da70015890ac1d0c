//! Borrowed JSON field access, shared by our JSONL reader and the Mooncake
//! importer.
//!
//! # Why not `#[derive(Deserialize)]`
//! A derived struct would parse as fast, but its errors are serde's
//! (`invalid type: string "x", expected u32 at line 1 column 18`): they name
//! neither the field nor the column of the value, and they say `u32` to a user
//! who wrote a trace by hand. Here a line is scanned once into borrowed
//! [`RawValue`] slices, one per known field (unknown fields are skipped
//! without allocating), and each field is then checked by code that knows its
//! name. The slice borrows from the line, so its offset in the line *is* the
//! column to blame.

use crate::error::{Problem, TraceError, escape_for_display};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// Integers above this cannot come exactly from a JSON float (`1.5e3`).
const MAX_EXACT_FLOAT: f64 = 9_007_199_254_740_992.0; // 2^53

/// How much of a bad string value an error quotes.
const QUOTE_CHARS: usize = 40;

/// A problem and the column it was found at: a [`TraceError`] without its
/// file and line.
#[derive(Debug, PartialEq)]
pub(crate) struct Bad {
    pub(crate) col: Option<u64>,
    pub(crate) problem: Problem,
}

impl Bad {
    pub(crate) fn at(self, file: &Arc<str>, line: u64) -> TraceError {
        TraceError::Line { file: file.clone(), line, col: self.col, problem: self.problem }
    }
}

impl From<Problem> for Bad {
    fn from(problem: Problem) -> Bad {
        Bad { col: None, problem }
    }
}

/// Scans one line holding a JSON object: the raw value of each field named in
/// `names`, `None` for absent fields. Other fields are skipped.
pub(crate) fn scan_object<'a, const N: usize>(
    line: &'a str,
    names: &'static [&'static str; N],
) -> Result<[Option<&'a RawValue>; N], Bad> {
    if !line.trim_start().starts_with('{') {
        return Err(not_an_object(line));
    }
    let mut values = [None; N];
    let mut duplicate = None;
    let mut de = serde_json::Deserializer::from_str(line);
    let scanned = Scan { names, values: &mut values, duplicate: &mut duplicate }.deserialize(&mut de);
    if let Err(e) = scanned.and_then(|()| de.end()) {
        return Err(syntax(&e));
    }
    if let Some(field) = duplicate {
        return Err(Problem::DuplicateField { field }.into());
    }
    Ok(values)
}

/// A line that does not start an object: either other JSON or not JSON.
fn not_an_object(line: &str) -> Bad {
    match serde_json::from_str::<&RawValue>(line) {
        Ok(raw) => Bad { col: Some(1), problem: Problem::NotAnObject { found: found(raw.get()) } },
        Err(e) => syntax(&e),
    }
}

/// A serde_json syntax error, with its position moved out of the message.
fn syntax(e: &serde_json::Error) -> Bad {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let detail = text.strip_suffix(&suffix).unwrap_or(&text);
    let detail = match detail.strip_prefix("EOF while") {
        Some(rest) => format!("end of line while{rest}"),
        None => detail.to_string(),
    };
    Bad { col: (e.column() > 0).then_some(e.column() as u64), problem: Problem::InvalidJson { detail } }
}

/// How an error describes a JSON value: `string "x"`, `number 1.5`,
/// `boolean true`, `null`, `object`, `array`.
pub(crate) fn found(raw: &str) -> String {
    match raw.as_bytes().first() {
        Some(b'"') => format!("string {}", escape_for_display(raw, QUOTE_CHARS)),
        Some(b'{') => "object".to_string(),
        Some(b'[') => "array".to_string(),
        Some(b't' | b'f') => format!("boolean {raw}"),
        Some(b'n') => "null".to_string(),
        _ => format!("number {raw}"),
    }
}

/// How much of a CSV-looking line [`csv_hint`] quotes.
const CSV_QUOTE_CHARS: usize = 60;

/// The problem of a JSON-lines file's first line that is not JSON but looks
/// like CSV (a header such as `TIMESTAMP,ContextTokens,GeneratedTokens`, or a
/// row): commas, and not the start of a JSON object or array. `None` when the
/// line does not look like CSV.
pub(crate) fn csv_hint(line: &str) -> Option<Problem> {
    let t = line.trim();
    let looks = t.contains(',') && !t.starts_with('{') && !t.starts_with('[');
    looks.then(|| Problem::LooksLikeCsv { found: escape_for_display(t, CSV_QUOTE_CHARS) })
}

/// A number's text as a non-negative integer: `12`, or an integral float such
/// as `12.0` or `1.2e3` (some tools write every number as a float).
pub(crate) fn integer_text(text: &str) -> Option<u64> {
    if let Ok(v) = text.parse::<u64>() {
        return Some(v);
    }
    let f: f64 = text.parse().ok()?;
    (f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f <= MAX_EXACT_FLOAT).then_some(f as u64)
}

/// `None` for an absent field and for an explicit `null`.
pub(crate) fn present(raw: Option<&RawValue>) -> Option<&RawValue> {
    raw.filter(|r| r.get() != "null")
}

/// FNV-1a, 64 bits: a fixed algorithm, so a string `prefix_hash` hashes the
/// same on every machine and every build.
pub(crate) fn fnv1a64(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

// === Field ===

/// One field's raw value, its name and the line it came from.
#[derive(Clone, Copy)]
pub(crate) struct Field<'a> {
    pub(crate) line: &'a str,
    pub(crate) name: &'static str,
    pub(crate) raw: &'a RawValue,
}

impl<'a> Field<'a> {
    /// The 1-based column (in characters) where the value starts.
    pub(crate) fn col(&self) -> Option<u64> {
        let offset = (self.raw.get().as_ptr() as usize).checked_sub(self.line.as_ptr() as usize)?;
        let before = self.line.get(..offset)?;
        Some(before.chars().count() as u64 + 1)
    }

    fn text(&self) -> &'a str {
        self.raw.get()
    }

    fn is_number(&self) -> bool {
        matches!(self.text().as_bytes().first(), Some(b'-' | b'0'..=b'9'))
    }

    pub(crate) fn invalid_type(&self, expected: &'static str) -> Bad {
        Bad {
            col: self.col(),
            problem: Problem::InvalidType { field: self.name.into(), found: found(self.text()), expected },
        }
    }

    pub(crate) fn invalid_value(&self, expected: &'static str) -> Bad {
        Bad {
            col: self.col(),
            problem: Problem::InvalidValue { field: self.name.into(), found: found(self.text()), expected },
        }
    }

    /// A non-negative integer.
    pub(crate) fn u64(&self) -> Result<u64, Bad> {
        if !self.is_number() {
            return Err(self.invalid_type("an integer"));
        }
        integer_text(self.text()).ok_or_else(|| self.invalid_value("a non-negative integer"))
    }

    /// A token count.
    pub(crate) fn u32(&self) -> Result<u32, Bad> {
        let v = self.u64()?;
        u32::try_from(v).map_err(|_| self.invalid_value("an integer from 0 to 4294967295"))
    }

    /// `true` or `false`.
    pub(crate) fn bool(&self) -> Result<bool, Bad> {
        match self.text() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(self.invalid_type("a boolean")),
        }
    }

    /// A string, borrowed unless it holds escapes.
    pub(crate) fn str(&self) -> Result<Cow<'a, str>, Bad> {
        let text = self.text();
        if !text.starts_with('"') {
            return Err(self.invalid_type("a string"));
        }
        let inner = text.strip_prefix('"').and_then(|t| t.strip_suffix('"'));
        if let Some(inner) = inner.filter(|t| !t.contains('\\')) {
            return Ok(Cow::Borrowed(inner));
        }
        serde_json::from_str::<String>(text).map(Cow::Owned).map_err(|_| self.invalid_type("a string"))
    }

    /// A string or an integer, as text (ids).
    pub(crate) fn str_or_integer(&self) -> Result<Cow<'a, str>, Bad> {
        if self.is_number() {
            return self.u64().map(|_| Cow::Borrowed(self.text()));
        }
        self.str().map_err(|_| self.invalid_type("a string or an integer"))
    }

    /// An object of tags: string values as their text, others as JSON text.
    pub(crate) fn tags(&self) -> Result<BTreeMap<String, String>, Bad> {
        if !self.text().starts_with('{') {
            return Err(self.invalid_type("an object"));
        }
        let mut de = serde_json::Deserializer::from_str(self.text());
        TagsVisitor.deserialize(&mut de).map_err(|_| self.invalid_type("an object"))
    }

    /// A JSON array whose elements are all objects (chat messages), checked
    /// without collecting it.
    pub(crate) fn array_of_objects(&self) -> Result<(), Bad> {
        const EXPECTED: &str = "an array of objects";
        if !self.text().starts_with('[') {
            return Err(self.invalid_type(EXPECTED));
        }
        let mut bad = None;
        let mut de = serde_json::Deserializer::from_str(self.text());
        if (&mut de).deserialize_seq(ObjectsVisitor { bad: &mut bad }).is_err() {
            return Err(self.invalid_type(EXPECTED));
        }
        match bad {
            None => Ok(()),
            Some((index, raw)) => {
                let element = Field { line: self.line, name: self.name, raw };
                Err(Bad {
                    col: element.col(),
                    problem: Problem::InvalidType {
                        field: format!("{}[{index}]", self.name).into(),
                        found: found(raw.get()),
                        expected: "an object",
                    },
                })
            }
        }
    }

    /// An array of non-negative integers (`hash_ids`), in order.
    pub(crate) fn u64_array(&self) -> Result<Box<[u64]>, Bad> {
        if !self.text().starts_with('[') {
            return Err(self.invalid_type("an array of integers"));
        }
        let mut seen = ArraySeen::default();
        let mut de = serde_json::Deserializer::from_str(self.text());
        if (&mut de).deserialize_seq(ArrayVisitor { seen: &mut seen }).is_err() {
            return Err(self.invalid_type("an array of integers"));
        }
        if let Some((index, raw)) = seen.bad {
            let element = Field { line: self.line, name: self.name, raw };
            return Err(Bad {
                col: element.col(),
                problem: Problem::InvalidValue {
                    field: format!("{}[{index}]", self.name).into(),
                    found: found(raw.get()),
                    expected: "a non-negative integer",
                },
            });
        }
        Ok(seen.all.into_boxed_slice())
    }
}

// === serde plumbing ===

/// The field scan over one object.
struct Scan<'s, 'a, const N: usize> {
    names: &'static [&'static str; N],
    values: &'s mut [Option<&'a RawValue>; N],
    duplicate: &'s mut Option<&'static str>,
}

impl<'de, const N: usize> DeserializeSeed<'de> for Scan<'_, 'de, N> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, const N: usize> Visitor<'de> for Scan<'_, 'de, N> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a json object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match self.names.iter().position(|n| *n == key) {
                Some(i) => {
                    let value: &'de RawValue = map.next_value()?;
                    if let Some(slot) = self.values.get_mut(i) {
                        if slot.is_some() && self.duplicate.is_none() {
                            *self.duplicate = self.names.get(i).copied();
                        }
                        *slot = Some(value);
                    }
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// An object key, borrowed unless it holds escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key<'de>, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// Tags: string values unescaped, other values kept as JSON text.
struct TagsVisitor;

impl<'de> DeserializeSeed<'de> for TagsVisitor {
    type Value = BTreeMap<String, String>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TagsVisitor {
    type Value = BTreeMap<String, String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut tags = BTreeMap::new();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let raw: &'de RawValue = map.next_value()?;
            let text = raw.get();
            let value = if text.starts_with('"') {
                serde_json::from_str::<String>(text).map_err(de::Error::custom)?
            } else {
                text.to_string()
            };
            tags.insert(key.into_owned(), value);
        }
        Ok(tags)
    }
}

/// Finds the first element of an array that is not an object.
struct ObjectsVisitor<'s, 'a> {
    bad: &'s mut Option<(u64, &'a RawValue)>,
}

impl<'de> Visitor<'de> for ObjectsVisitor<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            if self.bad.is_none() && !raw.get().starts_with('{') {
                *self.bad = Some((index, raw));
            }
            index += 1;
        }
        Ok(())
    }
}

/// What [`ArrayVisitor`] saw.
#[derive(Default)]
struct ArraySeen<'a> {
    len: u64,
    /// Every element, in order, while all are valid.
    all: Vec<u64>,
    bad: Option<(u64, &'a RawValue)>,
}

/// Counts an array's elements, checking each is a non-negative integer.
struct ArrayVisitor<'s, 'a> {
    seen: &'s mut ArraySeen<'a>,
}

impl<'de> Visitor<'de> for ArrayVisitor<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            let ok =
                matches!(raw.get().as_bytes().first(), Some(b'0'..=b'9')).then(|| integer_text(raw.get())).flatten();
            match ok {
                Some(v) => {
                    if self.seen.bad.is_none() {
                        self.seen.all.push(v);
                    }
                }
                None => {
                    if self.seen.bad.is_none() {
                        self.seen.bad = Some((self.seen.len, raw));
                    }
                }
            }
            self.seen.len += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; 3] = ["a", "b", "c"];

    fn field<'a>(line: &'a str, values: &[Option<&'a RawValue>; 3], i: usize) -> Field<'a> {
        Field { line, name: NAMES[i], raw: values[i].unwrap() }
    }

    #[test]
    fn scan_borrows_known_fields_and_skips_others() {
        let line = r#"{"a": 5, "zz": {"x": [1, 2]}, "c": "hi"}"#;
        let v = scan_object(line, &NAMES).unwrap();
        assert_eq!(v[0].unwrap().get(), "5");
        assert!(v[1].is_none());
        assert_eq!(field(line, &v, 2).str().unwrap(), "hi");
        assert!(matches!(field(line, &v, 2).str().unwrap(), Cow::Borrowed(_)));
        assert_eq!(field(line, &v, 2).col(), Some(36));
    }

    #[test]
    fn syntax_errors_carry_the_column_not_the_message() {
        let bad = scan_object(r#"{"a": 5,"#, &NAMES).unwrap_err();
        assert_eq!(bad.problem.to_string(), "invalid json: end of line while parsing a value");
        assert_eq!(bad.col, Some(8));
        let bad = scan_object("[1, 2]", &NAMES).unwrap_err();
        assert_eq!(bad.problem.to_string(), "invalid line: found array, expected a json object");
        let bad = scan_object("nope", &NAMES).unwrap_err();
        assert!(bad.problem.to_string().starts_with("invalid json: expected"), "{}", bad.problem);
        let bad = scan_object(r#"{"a": 1, "a": 2}"#, &NAMES).unwrap_err();
        assert_eq!(bad.problem.to_string(), "duplicate field `a`");
    }

    #[test]
    fn integers_accept_integral_floats_only() {
        assert_eq!(integer_text("12"), Some(12));
        assert_eq!(integer_text("12.0"), Some(12));
        assert_eq!(integer_text("1.5e3"), Some(1500));
        assert_eq!(integer_text("12.5"), None);
        assert_eq!(integer_text("-1"), None);
        assert_eq!(integer_text("18446744073709551615"), Some(u64::MAX));
    }

    #[test]
    fn typed_getters_name_what_they_found() {
        let line = r#"{"a": "x", "b": -3, "c": 5000000000}"#;
        let v = scan_object(line, &NAMES).unwrap();
        let e = field(line, &v, 0).u32().unwrap_err();
        assert_eq!(e.problem.to_string(), "invalid type for `a`: found string \"x\", expected an integer");
        assert_eq!(e.col, Some(7));
        let e = field(line, &v, 1).u64().unwrap_err();
        assert_eq!(e.problem.to_string(), "invalid value for `b`: found number -3, expected a non-negative integer");
        let e = field(line, &v, 2).u32().unwrap_err();
        assert_eq!(
            e.problem.to_string(),
            "invalid value for `c`: found number 5000000000, expected an integer from 0 to 4294967295"
        );
    }

    #[test]
    fn tags_keep_strings_as_text_and_others_as_json() {
        let line = r#"{"a": {"k": "v\"q", "n": 1, "o": {"x": [true]}}}"#;
        let v = scan_object(line, &NAMES).unwrap();
        let tags = field(line, &v, 0).tags().unwrap();
        assert_eq!(tags["k"], "v\"q");
        assert_eq!(tags["n"], "1");
        assert_eq!(tags["o"], r#"{"x": [true]}"#);
    }

    #[test]
    fn arrays_are_counted_and_checked() {
        let line = r#"{"a": [7, 8, 9], "b": [], "c": [1, "z"]}"#;
        let v = scan_object(line, &NAMES).unwrap();
        assert_eq!(&*field(line, &v, 0).u64_array().unwrap(), &[7, 8, 9]);
        assert!(field(line, &v, 1).u64_array().unwrap().is_empty());
        let e = field(line, &v, 2).u64_array().unwrap_err();
        assert_eq!(
            e.problem.to_string(),
            "invalid value for `c[1]`: found string \"z\", expected a non-negative integer"
        );
        assert_eq!(e.col, Some(36));
    }

    #[test]
    fn long_strings_are_quoted_short() {
        let long = format!("\"{}\"", "y".repeat(100));
        assert!(found(&long).ends_with("..."));
        assert!(found(&long).len() < 60);
    }
}
