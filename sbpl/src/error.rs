//! Errors carry `file:line:column`, as libsandbox's do, and their
//! [`Kind`]: libsandbox shows a syntax error or an unbound variable in a
//! profile given as a string (`sandbox-exec -p`) in its own shapes.

use std::fmt;

/// A place in profile text. `0:0` (the default) when an error concerns no
/// place, e.g. a profile file that cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// Line number, from 1.
    pub line: u32,
    /// Column, from 1, counted in bytes.
    pub col: u32,
}

/// Where a failed `import` is reported: libsandbox implements `import` in
/// its embedded prelude, so a file it cannot open is an error there,
/// whatever the profile (`<internal init prelude>:292:47: unable to open
/// x.sb: not found` on macOS).
pub const PRELUDE: &str = "<internal init prelude>";

/// The position in [`PRELUDE`] of a failed `import`, as macOS reports it.
pub const IMPORT_POS: Pos = Pos { line: 292, col: 47 };

/// What kind of problem an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kind {
    /// The reader could not read the text (`syntax error: expecting ')'`
    /// and the like, or nesting too deep).
    Syntax,
    /// A symbol with no value, such as an unknown operation
    /// (`unbound variable: bogus`).
    Unbound,
    /// Anything else the evaluator refuses.
    #[default]
    Other,
}

/// A profile that cannot be read or evaluated, and where; shown as
/// `file:line:column: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The profile's name: its path, or the label the caller gave the text
    /// (such as `<input string>`); inside an import, the imported file's path;
    /// [`PRELUDE`] for an `import` that fails.
    pub file: String,
    /// Where in `file` the problem was found.
    pub pos: Pos,
    /// What is wrong, without the position.
    pub msg: String,
    /// What kind of problem it is.
    pub kind: Kind,
}

impl Error {
    /// An error at `pos` in `file`, of kind [`Kind::Other`].
    pub fn at(file: &str, pos: Pos, msg: impl Into<String>) -> Error {
        Error::of(Kind::Other, file, pos, msg)
    }

    /// An error of kind `kind` at `pos` in `file`.
    pub fn of(kind: Kind, file: &str, pos: Pos, msg: impl Into<String>) -> Error {
        Error {
            file: file.to_string(),
            pos,
            msg: msg.into(),
            kind,
        }
    }

    /// `unbound variable: <name>` at `pos` in `file`.
    pub fn unbound(file: &str, pos: Pos, name: &str) -> Error {
        Error::of(
            Kind::Unbound,
            file,
            pos,
            format!("unbound variable: {name}"),
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.pos.line, self.pos.col, self.msg
        )
    }
}

impl std::error::Error for Error {}
