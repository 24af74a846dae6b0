//! The S-expression reader: lists, symbols, strings with escapes, `#"…"`
//! regex literals, `#t`/`#f`, integers (`#o`/`#x` radix too) and `;`
//! comments. Every datum carries its line and column for error messages.
//! Lines starting with `# ` are read as comments too (Nix's own test puts one
//! in a profile; being lenient there costs nothing).

use crate::error::{Error, Kind, Pos};

/// One value as read, before evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum Datum {
    /// `( … )`; `'x` is read as `(quote x)`.
    List(Vec<Node>),
    /// A bare word that is not a decimal integer (`allow`, `file-read*`).
    Symbol(String),
    /// `"…"`, escapes resolved (`\n`, `\t`, `\r`; a backslash before any
    /// other character stands for that character); always UTF-8.
    Str(String),
    /// `#"…"`: a regex literal, its text verbatim up to the next `"`
    /// (backslashes are kept for the regex engine).
    Regex(String),
    /// `#t` or `#f`.
    Bool(bool),
    /// An integer: decimal, or `#x`, `#o`, `#b` or `#d` with its radix.
    Int(i64),
}

/// A datum and where it starts in the source.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub datum: Datum,
    /// Where the datum starts (for `'x`, the quote).
    pub pos: Pos,
}

struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
    line: u32,
    col: u32,
    file: &'a str,
}

const MAX_DEPTH: usize = 256;

impl<'a> Lexer<'a> {
    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            col: self.col,
        }
    }

    fn err(&self, pos: Pos, msg: impl Into<String>) -> Error {
        Error::of(Kind::Syntax, self.file, pos, msg)
    }

    fn bump(&mut self) -> Option<u8> {
        let c = *self.s.get(self.i)?;
        self.i += 1;
        if c == b'\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_space(&mut self) {
        loop {
            match self.peek() {
                Some(b'\n') => {
                    self.bump();
                }
                Some(c) if c.is_ascii_whitespace() => {
                    // Indentation a run at a time.
                    self.run(|c| c == b'\n' || !c.is_ascii_whitespace());
                }
                Some(b';') => self.skip_line(),
                Some(b'#')
                    if matches!(
                        self.s.get(self.i + 1),
                        Some(b' ') | Some(b'\t') | Some(b'\n') | None
                    ) =>
                {
                    self.skip_line()
                }
                Some(b'#') if self.s.get(self.i + 1) == Some(&b'|') => self.skip_block(),
                _ => return,
            }
        }
    }

    fn skip_line(&mut self) {
        while let Some(c) = self.bump() {
            if c == b'\n' {
                break;
            }
        }
    }

    fn skip_block(&mut self) {
        self.bump();
        self.bump();
        while let Some(c) = self.bump() {
            if c == b'|' && self.peek() == Some(b'#') {
                self.bump();
                return;
            }
        }
    }

    fn datum(&mut self, depth: usize) -> Result<Option<Node>, Error> {
        self.skip_space();
        let pos = self.pos();
        let Some(c) = self.peek() else {
            return Ok(None);
        };
        if depth > MAX_DEPTH {
            return Err(self.err(pos, "expression nested too deeply"));
        }
        let datum = match c {
            b'(' => {
                self.bump();
                let mut items = Vec::new();
                loop {
                    self.skip_space();
                    match self.peek() {
                        None => return Err(self.err(self.pos(), "syntax error: expecting ')'")),
                        Some(b')') => {
                            self.bump();
                            break;
                        }
                        _ => {
                            if let Some(n) = self.datum(depth + 1)? {
                                items.push(n);
                            }
                        }
                    }
                }
                Datum::List(items)
            }
            b')' => return Err(self.err(pos, "syntax error: unexpected ')'")),
            b'"' => {
                self.bump();
                Datum::Str(self.string(pos)?)
            }
            b'#' => {
                self.bump();
                match self.bump() {
                    Some(b'"') => {
                        let start = self.i;
                        loop {
                            match self.bump() {
                                None => {
                                    return Err(
                                        self.err(pos, "syntax error: unterminated regex literal")
                                    )
                                }
                                Some(b'"') => break,
                                _ => {}
                            }
                        }
                        Datum::Regex(
                            String::from_utf8_lossy(&self.s[start..self.i - 1]).into_owned(),
                        )
                    }
                    Some(b't') => Datum::Bool(true),
                    Some(b'f') => Datum::Bool(false),
                    Some(r @ (b'o' | b'x' | b'b' | b'd')) => {
                        let radix = match r {
                            b'o' => 8,
                            b'x' => 16,
                            b'b' => 2,
                            _ => 10,
                        };
                        let tok = self.token();
                        Datum::Int(i64::from_str_radix(&tok, radix).map_err(|_| {
                            self.err(pos, format!("syntax error: bad number #{}{tok}", r as char))
                        })?)
                    }
                    _ => return Err(self.err(pos, "syntax error: unknown # syntax")),
                }
            }
            b'\'' => {
                // 'x is (quote x).
                self.bump();
                let inner = self
                    .datum(depth + 1)?
                    .ok_or_else(|| self.err(pos, "syntax error: nothing after quote"))?;
                Datum::List(vec![
                    Node {
                        datum: Datum::Symbol("quote".into()),
                        pos,
                    },
                    inner,
                ])
            }
            _ => {
                let tok = self.token();
                if tok.is_empty() {
                    return Err(self.err(
                        pos,
                        format!("syntax error: unexpected character {:?}", c as char),
                    ));
                }
                match tok.parse::<i64>() {
                    Ok(n) => Datum::Int(n),
                    Err(_) => Datum::Symbol(tok),
                }
            }
        };
        Ok(Some(Node { datum, pos }))
    }

    /// Skips the bytes before the first one `stop` accepts (or the end),
    /// which must not include a newline, and returns them.
    fn run(&mut self, stop: impl Fn(u8) -> bool) -> &'a [u8] {
        let rest = &self.s[self.i..];
        let n = rest.iter().position(|&c| stop(c)).unwrap_or(rest.len());
        self.i += n;
        self.col += n as u32;
        &rest[..n]
    }

    fn token(&mut self) -> String {
        let tok = self.run(|c| c.is_ascii_whitespace() || matches!(c, b'(' | b')' | b'"' | b';'));
        String::from_utf8_lossy(tok).into_owned()
    }

    fn string(&mut self, pos: Pos) -> Result<String, Error> {
        let mut out = Vec::new();
        loop {
            // Plain bytes a run at a time: paths are most of Nix's profiles.
            out.extend_from_slice(self.run(|c| matches!(c, b'"' | b'\\' | b'\n')));
            match self.bump() {
                None => return Err(self.err(pos, "syntax error: unterminated string")),
                Some(b'"') => break,
                Some(b'\\') => match self.bump() {
                    Some(b'n') => out.push(b'\n'),
                    Some(b't') => out.push(b'\t'),
                    Some(b'r') => out.push(b'\r'),
                    Some(c) => out.push(c),
                    None => return Err(self.err(pos, "syntax error: unterminated string")),
                },
                Some(c) => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| self.err(pos, "syntax error: string is not UTF-8"))
    }
}

/// Reads every top-level datum of `src`; `file` names it in errors.
pub fn read_all(src: &str, file: &str) -> Result<Vec<Node>, Error> {
    let mut lx = Lexer {
        s: src.as_bytes(),
        i: 0,
        line: 1,
        col: 1,
        file,
    };
    let mut out = Vec::new();
    while let Some(n) = lx.datum(0)? {
        out.push(n);
    }
    Ok(out)
}

impl Node {
    /// The name, when this node is a symbol.
    pub fn symbol(&self) -> Option<&str> {
        match &self.datum {
            Datum::Symbol(s) => Some(s),
            _ => None,
        }
    }

    /// The elements, when this node is a list.
    pub fn list(&self) -> Option<&[Node]> {
        match &self.datum {
            Datum::List(l) => Some(l),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_lexical_forms() {
        let src = "; c\n(version 1)\n# a Nix-style comment\n(allow file-read* (regex #\"^/dev/pty[a-z]+\") (literal \"a\\\"b\") #t #o0004 -2)";
        let v = read_all(src, "t.sb").unwrap();
        assert_eq!(v.len(), 2);
        let l = v[1].list().unwrap();
        assert_eq!(l[0].symbol(), Some("allow"));
        assert_eq!(
            l[2].list().unwrap()[1].datum,
            Datum::Regex("^/dev/pty[a-z]+".into())
        );
        assert_eq!(l[3].list().unwrap()[1].datum, Datum::Str("a\"b".into()));
        assert_eq!(l[4].datum, Datum::Bool(true));
        assert_eq!(l[5].datum, Datum::Int(4));
        assert_eq!(l[6].datum, Datum::Int(-2));
        assert_eq!(v[1].pos, Pos { line: 4, col: 1 });
    }

    #[test]
    fn errors_have_positions() {
        let e = read_all("(version 1)\n  (allow file-read*", "p.sb").unwrap_err();
        assert_eq!(e.to_string(), "p.sb:2:20: syntax error: expecting ')'");
        let e = read_all("(a))", "<input string>").unwrap_err();
        assert_eq!(
            e.to_string(),
            "<input string>:1:4: syntax error: unexpected ')'"
        );
    }
}
