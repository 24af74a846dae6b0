//! Messages to Nix. The hook's stdout and stderr are one pipe that Nix
//! reads line by line: `# ...` lines are replies, `@nix {json}` lines are
//! log messages, and after an accept only `@nix` lines are shown. So every
//! diagnostic is an `@nix` `msg`, written in one `write` call.

use std::io::Write;

pub const ERROR: u8 = 0;
pub const WARN: u8 = 1;
pub const NOTICE: u8 = 2;
pub const INFO: u8 = 3;
pub const TALKATIVE: u8 = 4;
pub const CHATTY: u8 = 5;

#[derive(Debug, Clone, Copy)]
pub struct Log {
    pub verbosity: u8,
}

impl Log {
    pub fn new(verbosity: u8) -> Self {
        Log { verbosity }
    }

    pub fn msg(&self, level: u8, text: &str) {
        if level > self.verbosity {
            return;
        }
        let line = format!(
            "@nix {}\n",
            serde_json::json!({"action": "msg", "level": level, "msg": text})
        );
        let _ = std::io::stderr().write_all(line.as_bytes());
    }

    pub fn error(&self, text: &str) {
        self.msg(ERROR, text)
    }

    pub fn warn(&self, text: &str) {
        self.msg(WARN, text)
    }

    pub fn info(&self, text: &str) {
        self.msg(INFO, text)
    }

    pub fn talk(&self, text: &str) {
        self.msg(TALKATIVE, text)
    }
}

/// Writes a reply line (or the accept pair) in one call.
pub fn reply(line: &str) -> std::io::Result<()> {
    let mut e = std::io::stderr().lock();
    e.write_all(line.as_bytes())?;
    e.flush()
}
