//! BSD getopt(3): no argument permutation, stops at the first operand or `--`.

pub(crate) struct Getopt<'a> {
    args: &'a [String],
    spec: &'a str,
    index: usize,
    pos: usize,
}

impl<'a> Getopt<'a> {
    pub(crate) fn new(args: &'a [String], spec: &'a str) -> Getopt<'a> {
        Getopt {
            args,
            spec,
            index: 1,
            pos: 0,
        }
    }

    /// The index of the first operand once options are exhausted.
    pub(crate) fn index(&self) -> usize {
        self.index
    }

    fn takes_arg(&self, c: char) -> Option<bool> {
        let i = self.spec.find(c)?;
        Some(self.spec[i + c.len_utf8()..].starts_with(':'))
    }
}

impl Iterator for Getopt<'_> {
    /// The option and its argument, or BSD's diagnostic text.
    type Item = Result<(char, Option<String>), String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos == 0 {
            let arg = self.args.get(self.index)?;
            if arg == "--" {
                self.index += 1;
                return None;
            }
            if !arg.starts_with('-') || arg == "-" {
                return None;
            }
            self.pos = 1;
        }
        let arg = &self.args[self.index];
        let c = arg[self.pos..].chars().next()?;
        self.pos += c.len_utf8();
        let at_end = self.pos >= arg.len();
        let finish = |s: &mut Self| {
            s.index += 1;
            s.pos = 0;
        };
        match self.takes_arg(c).filter(|_| c != ':') {
            None => {
                if at_end {
                    finish(self);
                }
                Some(Err(format!("illegal option -- {c}")))
            }
            Some(false) => {
                if at_end {
                    finish(self);
                }
                Some(Ok((c, None)))
            }
            Some(true) => {
                if !at_end {
                    let val = arg[self.pos..].to_string();
                    finish(self);
                    Some(Ok((c, Some(val))))
                } else {
                    finish(self);
                    match self.args.get(self.index) {
                        Some(v) => {
                            let v = v.clone();
                            self.index += 1;
                            Some(Ok((c, Some(v))))
                        }
                        None => Some(Err(format!("option requires an argument -- {c}"))),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        std::iter::once("x")
            .chain(s.iter().copied())
            .map(String::from)
            .collect()
    }

    #[test]
    fn clustered_and_separate() {
        let a = args(&["-qo", "create", "-i350", "-r", "Nix build group", "nixbld"]);
        let mut g = Getopt::new(&a, "o:qi:r:");
        let got: Vec<_> = g.by_ref().map(Result::unwrap).collect();
        assert_eq!(
            got,
            vec![
                ('q', None),
                ('o', Some("create".into())),
                ('i', Some("350".into())),
                ('r', Some("Nix build group".into()))
            ]
        );
        assert_eq!(a[g.index()], "nixbld");
    }

    #[test]
    fn stops_at_operand_and_reports_errors() {
        let a = args(&["g", "-q"]);
        let mut g = Getopt::new(&a, "q");
        assert!(g.next().is_none());
        assert_eq!(g.index(), 1);
        let a = args(&["-x"]);
        assert_eq!(
            Getopt::new(&a, "q").next(),
            Some(Err("illegal option -- x".into()))
        );
        let a = args(&["-o"]);
        assert_eq!(
            Getopt::new(&a, "o:").next(),
            Some(Err("option requires an argument -- o".into()))
        );
    }
}
