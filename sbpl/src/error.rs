//! Errors carry `file:line:column`, as libsandbox's do.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub file: String,
    pub pos: Pos,
    pub msg: String,
}

impl Error {
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
