//! A light scan of a script's text: where each `fn` is defined (name, line,
//! column, parameter count) and which string literals look like endpoint
//! names.
//!
//! Why scan the text when rhai has the AST? rhai's public AST (without its
//! `internals` feature, which would expose the whole evaluator) gives a
//! function's name and parameters but not its position, and keeps functions
//! in a hash table, not in file order. Error messages need `file:line:col`
//! for a hook, and `policy test` must run tests in file order. The scan skips
//! comments and strings, so a `fn` inside either is not mistaken for a
//! definition; it never decides whether the script is valid (rhai does).

/// One `fn NAME(...)` definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FnDef {
    /// The function's name.
    pub(crate) name: String,
    /// 1-based line of the `fn` keyword.
    pub(crate) line: u32,
    /// 1-based column of the `fn` keyword.
    pub(crate) col: u32,
    /// Number of parameters.
    pub(crate) params: usize,
}

/// What the scan found, in file order.
#[derive(Clone, Debug, Default)]
pub(crate) struct Outline {
    /// Function definitions.
    pub(crate) fns: Vec<FnDef>,
    /// String literals shaped like `provider/model`, each with the line and
    /// column of its first appearance.
    pub(crate) endpoint_literals: Vec<(String, u32, u32)>,
}

impl Outline {
    /// The first definition of `name` with `params` parameters, else the first of `name`.
    pub(crate) fn find(&self, name: &str, params: usize) -> Option<&FnDef> {
        self.fns
            .iter()
            .find(|f| f.name == name && f.params == params)
            .or_else(|| self.fns.iter().find(|f| f.name == name))
    }

    /// The position of `name`'s definition, or `(1, 1)`.
    pub(crate) fn position(&self, name: &str, params: usize) -> (u32, u32) {
        self.find(name, params).map_or((1, 1), |f| (f.line, f.col))
    }
}

/// A token the scan cares about.
#[derive(Debug, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Punct(char),
}

/// Scans `source`.
pub(crate) fn outline(source: &str) -> Outline {
    let toks = tokens(source);
    let mut out = Outline::default();
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            (Tok::Ident(kw), line, col) if kw == "fn" => {
                if let Some((Tok::Ident(name), ..)) = toks.get(i + 1)
                    && matches!(toks.get(i + 2), Some((Tok::Punct('('), ..)))
                {
                    let mut params = 0;
                    let mut j = i + 3;
                    while let Some((t, ..)) = toks.get(j) {
                        match t {
                            Tok::Ident(_) => params += 1,
                            Tok::Punct(')') => break,
                            _ => {}
                        }
                        j += 1;
                    }
                    out.fns.push(FnDef { name: name.clone(), line: *line, col: *col, params });
                    i = j;
                }
            }
            (Tok::Str(s), line, col) if looks_like_endpoint(s) && !out.endpoint_literals.iter().any(|e| e.0 == *s) => {
                out.endpoint_literals.push((s.clone(), *line, *col));
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// `provider/model`: one slash inside, no spaces, name-like characters.
fn looks_like_endpoint(s: &str) -> bool {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '/' | '@');
    match s.split_once('/') {
        Some((p, m)) => !p.is_empty() && !m.is_empty() && s.chars().all(ok),
        None => false,
    }
}

/// A character cursor that tracks rhai-style positions (1-based line and
/// column, one column per character).
struct Cursor<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: u32,
    col: u32,
}

impl Cursor<'_> {
    fn next(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.line += 1;
            self.col = 0;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn peek(&mut self) -> Option<char> {
        self.chars.peek().copied()
    }
}

fn tokens(source: &str) -> Vec<(Tok, u32, u32)> {
    let mut cur = Cursor { chars: source.chars().peekable(), line: 1, col: 0 };
    let mut out = Vec::new();
    while let Some(c) = cur.next() {
        let (line, col) = (cur.line, cur.col);
        match c {
            '/' if cur.peek() == Some('/') => {
                while cur.peek().is_some_and(|c| c != '\n') {
                    cur.next();
                }
            }
            '/' if cur.peek() == Some('*') => {
                cur.next();
                let mut depth = 1u32;
                while depth > 0 {
                    match cur.next() {
                        Some('*') if cur.peek() == Some('/') => {
                            cur.next();
                            depth -= 1;
                        }
                        Some('/') if cur.peek() == Some('*') => {
                            cur.next();
                            depth += 1;
                        }
                        Some(_) => {}
                        None => break,
                    }
                }
            }
            '"' => {
                let mut s = String::new();
                while let Some(c) = cur.next() {
                    match c {
                        '\\' => {
                            if let Some(e) = cur.next() {
                                s.push(e);
                            }
                        }
                        '"' => break,
                        c => s.push(c),
                    }
                }
                out.push((Tok::Str(s), line, col));
            }
            '`' => {
                let mut s = String::new();
                while let Some(c) = cur.next() {
                    if c == '`' {
                        break;
                    }
                    s.push(c);
                }
                out.push((Tok::Str(s), line, col));
            }
            '\'' => {
                // A character literal: at most an escape and a character.
                while let Some(c) = cur.next() {
                    match c {
                        '\\' => {
                            cur.next();
                        }
                        '\'' | '\n' => break,
                        _ => {}
                    }
                }
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut s = String::from(c);
                while let Some(n) = cur.peek().filter(|n| n.is_alphanumeric() || *n == '_') {
                    s.push(n);
                    cur.next();
                }
                out.push((Tok::Ident(s), line, col));
            }
            c if c.is_whitespace() => {}
            c => out.push((Tok::Punct(c), line, col)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_definitions_in_order_with_positions_and_arity() {
        let src = "// fn fake(a) in a comment\n/* fn nope() /* nested */ */\nfn route(req, ctx) {\n  let s = \"fn x(y)\";\n  \"openai/gpt-4o\"\n}\n  private fn helper() { 'x' }\nfn test_b() {}\n";
        let o = outline(src);
        let got: Vec<_> = o.fns.iter().map(|f| (f.name.as_str(), f.line, f.col, f.params)).collect();
        assert_eq!(got, vec![("route", 3, 1, 2), ("helper", 7, 11, 0), ("test_b", 8, 1, 0)]);
        assert_eq!(o.endpoint_literals.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(), vec!["openai/gpt-4o"]);
        assert_eq!(o.position("helper", 0), (7, 11));
        assert_eq!(o.position("missing", 0), (1, 1));
    }

    #[test]
    fn endpoint_literals_are_name_shaped() {
        assert!(looks_like_endpoint("deepseek/deepseek-chat"));
        assert!(looks_like_endpoint("local/llama3.1:8b"));
        assert!(!looks_like_endpoint("a / b"));
        assert!(!looks_like_endpoint("/x"));
        assert!(!looks_like_endpoint("plain"));
    }
}
