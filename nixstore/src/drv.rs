//! Reader for store derivations (`.drv` files), which Nix writes in the
//! ATerm form `Derive([outputs],[inputDrvs],[inputSrcs],"system","builder",
//! [args],[env])`.

use std::collections::BTreeMap;

/// One entry of a derivation's output list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The output's name (`out`, `dev`, …).
    pub name: String,
    /// Empty for content-addressed outputs whose path is not known yet.
    pub path: String,
    /// `""` for input-addressed outputs; `sha256` (flat) or `r:sha256`
    /// (recursive) for fixed-output ones.
    pub hash_algo: String,
    /// A fixed output's expected hash, in hexadecimal as `.drv` files
    /// write it; `""` for other outputs.
    pub hash: String,
}

impl Output {
    /// Whether its content is fixed in advance (it has an expected hash).
    pub fn is_fixed(&self) -> bool {
        !self.hash.is_empty()
    }
}

/// The contents of a store derivation, field by field.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Derivation {
    /// The outputs, in the file's order (Nix sorts them by name).
    pub outputs: Vec<Output>,
    /// The derivations to build first: each one's `.drv` store path and
    /// the names of its outputs this one uses.
    pub input_drvs: Vec<(String, Vec<String>)>,
    /// Store paths used as they are (sources, nothing to build).
    pub input_srcs: Vec<String>,
    /// The platform it must be built on (`x86_64-darwin`).
    pub system: String,
    /// The program run to build it (a path).
    pub builder: String,
    /// The builder's arguments.
    pub args: Vec<String>,
    /// The builder's environment, variable name to value.
    pub env: BTreeMap<String, String>,
}

impl Derivation {
    /// The output called `name`, if it has one.
    pub fn output(&self, name: &str) -> Option<&Output> {
        self.outputs.iter().find(|o| o.name == name)
    }

    /// Whether it is a fixed-output derivation: a single output, with an
    /// expected hash.
    pub fn is_fixed_output(&self) -> bool {
        self.outputs.len() == 1 && self.outputs[0].is_fixed()
    }

    /// The derivation's attributes as JSON (the `__json` variable), when it
    /// uses structured attributes.
    pub fn structured_attrs(&self) -> Option<&str> {
        self.env.get("__json").map(String::as_str)
    }
}

/// Why a `.drv` file could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DrvError {
    /// The text breaks the ATerm grammar (or a string is not UTF-8).
    #[error("byte {pos}: expected {expected}")]
    Expected {
        /// Offset of the offending byte from the start of the file.
        pos: usize,
        /// What the grammar wanted there.
        expected: &'static str,
    },
    /// The file is not a `Derive(...)` term (for example the
    /// `DrvWithVersion(...)` of dynamic derivations); holds the name before
    /// its `(`.
    #[error("derivation format `{0}` is not supported (only `Derive(...)`)")]
    Unsupported(String),
    /// Bytes follow the complete derivation.
    #[error("byte {pos}: trailing data after the derivation")]
    Trailing {
        /// Offset of the first extra byte.
        pos: usize,
    },
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn expect(&mut self, lit: &'static str) -> Result<(), DrvError> {
        if self.s[self.pos..].starts_with(lit.as_bytes()) {
            self.pos += lit.len();
            Ok(())
        } else {
            Err(DrvError::Expected {
                pos: self.pos,
                expected: lit,
            })
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn string(&mut self) -> Result<String, DrvError> {
        self.expect("\"")?;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => {
                    return Err(DrvError::Expected {
                        pos: self.pos,
                        expected: "closing quote",
                    })
                }
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => {
                    let Some(c) = self.s.get(self.pos + 1).copied() else {
                        return Err(DrvError::Expected {
                            pos: self.pos + 1,
                            expected: "an escaped character",
                        });
                    };
                    out.push(match c {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        other => other,
                    });
                    self.pos += 2;
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
        String::from_utf8(out).map_err(|_| DrvError::Expected {
            pos: self.pos,
            expected: "UTF-8 text",
        })
    }

    /// `[item,item,...]`
    fn list<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<T, DrvError>,
    ) -> Result<Vec<T>, DrvError> {
        self.expect("[")?;
        let mut v = Vec::new();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(v);
        }
        loop {
            v.push(item(self)?);
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(v);
                }
                _ => {
                    return Err(DrvError::Expected {
                        pos: self.pos,
                        expected: "`,` or `]`",
                    })
                }
            }
        }
    }
}

/// Parses a whole `.drv` file. Strings must be UTF-8; the escapes `\n`,
/// `\r` and `\t` are decoded and any other escaped character stands for
/// itself.
pub fn parse(text: &[u8]) -> Result<Derivation, DrvError> {
    let mut p = Parser { s: text, pos: 0 };
    if !text.starts_with(b"Derive(") {
        let head: String = String::from_utf8_lossy(&text[..text.len().min(20)])
            .chars()
            .take_while(|c| *c != '(')
            .collect();
        return Err(DrvError::Unsupported(head));
    }
    p.expect("Derive(")?;
    let outputs = p.list(|p| {
        p.expect("(")?;
        let name = p.string()?;
        p.expect(",")?;
        let path = p.string()?;
        p.expect(",")?;
        let hash_algo = p.string()?;
        p.expect(",")?;
        let hash = p.string()?;
        p.expect(")")?;
        Ok(Output {
            name,
            path,
            hash_algo,
            hash,
        })
    })?;
    p.expect(",")?;
    let input_drvs = p.list(|p| {
        p.expect("(")?;
        let path = p.string()?;
        p.expect(",")?;
        let outs = p.list(Parser::string)?;
        p.expect(")")?;
        Ok((path, outs))
    })?;
    p.expect(",")?;
    let input_srcs = p.list(Parser::string)?;
    p.expect(",")?;
    let system = p.string()?;
    p.expect(",")?;
    let builder = p.string()?;
    p.expect(",")?;
    let args = p.list(Parser::string)?;
    p.expect(",")?;
    let env = p.list(|p| {
        p.expect("(")?;
        let k = p.string()?;
        p.expect(",")?;
        let v = p.string()?;
        p.expect(")")?;
        Ok((k, v))
    })?;
    p.expect(")")?;
    if p.pos != text.len() {
        return Err(DrvError::Trailing { pos: p.pos });
    }
    Ok(Derivation {
        outputs,
        input_drvs,
        input_srcs,
        system,
        builder,
        args,
        env: env.into_iter().collect(),
    })
}

/// The derivation's name: the store path's name without `.drv`.
pub fn drv_name(drv_path: &str) -> &str {
    let base = drv_path.rsplit('/').next().unwrap_or(drv_path);
    let name = base.split_once('-').map(|(_, n)| n).unwrap_or(base);
    name.strip_suffix(".drv").unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"Derive([("dev","/nix/store/aaaa-x-dev","",""),("out","/nix/store/bbbb-x","","")],[("/nix/store/cccc-dep.drv",["out"])],["/nix/store/dddd-src"],"x86_64-darwin","/bin/sh",["-c","echo \"hi\\there\"\n"],[("builder","/bin/sh"),("name","x"),("outputs","dev out")])"#;

    #[test]
    fn parses_every_field_and_escapes() {
        let d = parse(SAMPLE.as_bytes()).unwrap();
        assert_eq!(d.outputs.len(), 2);
        assert_eq!(d.output("out").unwrap().path, "/nix/store/bbbb-x");
        assert_eq!(
            d.input_drvs,
            vec![(
                "/nix/store/cccc-dep.drv".to_string(),
                vec!["out".to_string()]
            )]
        );
        assert_eq!(d.input_srcs, vec!["/nix/store/dddd-src"]);
        assert_eq!(d.system, "x86_64-darwin");
        assert_eq!(d.args[1], "echo \"hi\\there\"\n");
        assert_eq!(d.env["outputs"], "dev out");
        assert!(!d.is_fixed_output());
    }

    #[test]
    fn errors_carry_positions_and_never_panic() {
        for cut in 0..SAMPLE.len() {
            assert!(parse(&SAMPLE.as_bytes()[..cut]).is_err(), "cut {cut}");
        }
        assert_eq!(
            parse(b"DrvWithVersion(\"xp-dyn-drv\",[])"),
            Err(DrvError::Unsupported("DrvWithVersion".into()))
        );
        let mut extra = SAMPLE.to_string();
        extra.push('x');
        assert!(matches!(
            parse(extra.as_bytes()),
            Err(DrvError::Trailing { .. })
        ));
    }

    #[test]
    fn names() {
        assert_eq!(drv_name("/nix/store/abc-hello-2.1.drv"), "hello-2.1");
    }
}
