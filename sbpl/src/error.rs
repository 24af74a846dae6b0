//! Errors carry `file:line:column`, as libsandbox's do.

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

/// A profile that cannot be read or evaluated, and where; shown as
/// `file:line:column: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The profile's name: its path, or the label the caller gave the text
    /// (such as `<input string>`); inside an import, the imported file's path.
    pub file: String,
    /// Where in `file` the problem was found.
    pub pos: Pos,
    /// What is wrong, without the position.
    pub msg: String,
}

impl Error {
    /// An error at `pos` in `file`.
    pub fn at(file: &str, pos: Pos, msg: impl Into<String>) -> Error {
        Error {
            file: file.to_string(),
            pos,
            msg: msg.into(),
        }
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
