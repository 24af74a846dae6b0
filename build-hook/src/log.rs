//! Messages to Nix. The hook's stdout and stderr are one pipe that Nix
//! reads line by line: `# ...` lines are replies, `@nix {json}` lines are
//! log messages, and after an accept only `@nix` lines are shown. So every
//! diagnostic is an `@nix` `msg`, written in one `write` call.

use std::io::Write;

// Nix's verbosity levels, as the hook's verbosity argument and the `level`
// of a `@nix` `msg` count them (6 and 7 are not used here).

/// Level 0: errors, written at every verbosity.
pub const ERROR: u8 = 0;
/// Level 1: warnings.
pub const WARN: u8 = 1;
/// Level 2: notices.
pub const NOTICE: u8 = 2;
/// Level 3: notes, such as why outputs were registered
/// through `nix-store` instead of the database.
pub const INFO: u8 = 3;
/// Level 4: progress of the hook, such as waiting for and taking a slot.
pub const TALKATIVE: u8 = 4;
/// Level 5: why each request was declined.
pub const CHATTY: u8 = 5;

/// Sends diagnostics to Nix as `@nix` `msg` lines on stderr, dropping those
/// above the verbosity Nix passed.
#[derive(Debug, Clone, Copy)]
pub struct Log {
    /// The verbosity Nix passed as the hook's last argument (0 to 7).
    pub verbosity: u8,
}

impl Log {
    /// A logger for the verbosity Nix passed.
    pub fn new(verbosity: u8) -> Self {
        Log { verbosity }
    }

    /// Writes `text` as one `@nix {"action":"msg","level":…,"msg":…}` line,
    /// in one write, when `level` is at most the verbosity. A failed write
    /// is ignored.
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

    /// [`Log::msg`] at [`ERROR`]: always written.
    pub fn error(&self, text: &str) {
        self.msg(ERROR, text)
    }

    /// [`Log::msg`] at [`WARN`].
    pub fn warn(&self, text: &str) {
        self.msg(WARN, text)
    }

    /// [`Log::msg`] at [`INFO`].
    pub fn info(&self, text: &str) {
        self.msg(INFO, text)
    }

    /// [`Log::msg`] at [`TALKATIVE`].
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
