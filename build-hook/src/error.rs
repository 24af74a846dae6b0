//! The hook's one error type. Every way a run can go wrong is a variant of
//! [`Error`]; its text is what Nix's user reads, and [`Error::exit_code`]
//! is the status the hook ends with.
//!
//! Errors of the libraries underneath (the wire format, I/O) travel inside
//! a variant as its source, with the context that makes them readable.

use std::io;

use crate::wire::WireError;

/// Exit statuses Nix 2.8 to 2.28 tell apart (later versions treat any
/// non-zero status alike and show our message).
pub const EXIT_OK: i32 = 0;
/// The hook itself failed: configuration, protocol, store, or set-up.
pub const EXIT_HOOK_ERROR: i32 = 1;
/// Usage error on the command line (`--help` says so).
pub const EXIT_USAGE: i32 = 2;
/// The builder ran and failed (Nix: a permanent build failure).
pub const EXIT_BUILD_FAILED: i32 = 100;
/// The builder exceeded `timeout` or `max-silent-time`.
pub const EXIT_TIMED_OUT: i32 = 101;

/// Shorthand for results carrying the hook's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the hook.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // The configuration: the hook declines every build while it is wrong.
    /// The configuration file cannot be read or parsed.
    #[error("{path}: {msg}")]
    ConfigFile {
        /// The file.
        path: String,
        /// What is wrong with it.
        msg: String,
    },
    /// A key that is not one of ours (file, environment or `--set`).
    #[error("{origin}: unknown setting `{key}`")]
    UnknownKey {
        /// Where the key came from, as the user wrote it.
        origin: String,
        /// The key.
        key: String,
    },
    /// A known key with a value it cannot take.
    #[error("{origin}: `{key}` = `{value}`: {msg}")]
    BadValue {
        /// Where the setting came from.
        origin: String,
        /// The key.
        key: String,
        /// The value as given.
        value: String,
        /// What the key accepts.
        msg: String,
    },
    /// Settings that are each valid but do not make sense together.
    #[error("{0}")]
    InvalidConfig(String),

    // `--nix-conf`.
    /// A path Nix would split into several words.
    #[error("`{0}` cannot go into nix.conf (Nix splits build-hook and remote-program into words, and Nix 2.8 runs remote-program through bash): use a path without spaces or shell characters")]
    Unsplittable(String),
    /// `--route hook` asked of a Nix that drops nix.conf's `build-hook`.
    #[error("{path} is Nix {major}.{minor}, which {why}: use --route serve (or auto)")]
    HookIgnored {
        /// The Nix asked about (its nix-store).
        path: String,
        /// Its major version.
        major: u32,
        /// Its minor version.
        minor: u32,
        /// How it treats the setting.
        why: &'static str,
    },
    /// `--nix` names a program that is not Nix.
    #[error("{0} does not answer `--version` as Nix does")]
    NotNix(String),
    /// A usage error the argument parser cannot see.
    #[error("{0}")]
    Usage(String),

    // Signing keys (`secret-key-files`).
    /// A key file that cannot be read.
    #[error("reading secret key {0}: {1}")]
    KeyRead(String, #[source] io::Error),
    /// A key file that is not `<name>:<base64 of 64 bytes>`.
    #[error("secret key {0} is not `<name>:<base64 of 64 bytes>`")]
    KeyFormat(String),

    // Talking to Nix.
    /// Nix sent something the hook protocol does not allow.
    #[error("bad {what} from Nix: {source}")]
    FromNix {
        /// The part of the conversation.
        what: &'static str,
        /// What was wrong with it.
        source: WireError,
    },
    /// Nix sent something the `ssh://` store protocol does not allow.
    #[error("{0}")]
    Wire(#[from] WireError),
    /// A system call failed; `context` says what the hook was doing.
    #[error("{context}: {source}")]
    Io {
        /// What the hook was doing.
        context: String,
        /// The failure.
        source: io::Error,
    },
    /// `--serve` was started by something other than Nix's `ssh://` client.
    #[error("not Nix's `ssh://` store protocol (first word {0:#x})")]
    NotServe(u64),
    /// A serve protocol major version other than 2.
    #[error("protocol version {0:#x} is not 2.x")]
    ServeVersion(u64),
    /// Nix tried to copy a path into our store, which is its own.
    #[error("Nix asked to copy {0} into this store; it shares Nix's own store, so every input should be here already (is `remote-store` set to another store?)")]
    Upload(String),
    /// Nix asked for a path this session did not build.
    #[error("Nix asked for {0}, which this session did not build")]
    NotBuilt(String),
    /// A serve command `nix __build-remote` never sends.
    #[error("command {0} of the ssh:// protocol is not served here (only what `nix __build-remote` uses)")]
    ServeCommand(u64),

    /// Nix 2.32+'s `build.json` is not one the hook can run.
    #[error("{path}: {msg}")]
    BuildJson {
        /// The file.
        path: String,
        /// What is wrong with it.
        msg: String,
    },

    /// The store: its location, a path in it, or registering outputs.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),

    // One build.
    /// The hook could not prepare, run, check or register a build.
    #[error("{0}")]
    Build(String),
    /// The builder failed, or its outputs break the derivation's rules.
    #[error("{0}")]
    BuildFailed(String),
    /// The builder exceeded `timeout` or `max-silent-time`.
    #[error("{0}")]
    TimedOut(String),
    /// The builder wrote more than `max-build-log-size` and was killed.
    #[error("{0}")]
    LogLimit(String),
    /// The hook was asked to stop (SIGTERM) before the build ended.
    #[error("{0}")]
    Interrupted(String),
}

impl Error {
    /// The status the hook exits with for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::BuildFailed(_) => EXIT_BUILD_FAILED,
            Error::TimedOut(_) => EXIT_TIMED_OUT,
            Error::Usage(_) => EXIT_USAGE,
            _ => EXIT_HOOK_ERROR,
        }
    }

    /// Wraps an I/O error with what the hook was doing, for `map_err`.
    pub fn io(context: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
        let context = context.into();
        move |source| Error::Io { context, source }
    }

    /// Wraps a malformed message from Nix, for `map_err`.
    pub fn from_nix(what: &'static str) -> impl FnOnce(WireError) -> Error {
        move |source| Error::FromNix { what, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_the_ones_nix_tells_apart() {
        assert_eq!(Error::BuildFailed("x".into()).exit_code(), 100);
        assert_eq!(Error::TimedOut("x".into()).exit_code(), 101);
        assert_eq!(Error::LogLimit("x".into()).exit_code(), 1);
        assert_eq!(Error::Usage("x".into()).exit_code(), 2);
        assert_eq!(Error::Build("x".into()).exit_code(), 1);
        assert_eq!(Error::NotServe(7).exit_code(), 1);
    }

    #[test]
    fn context_comes_first() {
        let e = Error::io("writing a reply to Nix")(io::Error::from(io::ErrorKind::BrokenPipe));
        assert_eq!(e.to_string(), "writing a reply to Nix: broken pipe");
        let e = Error::from_nix("settings block")(WireError::Truncated { what: "a string" });
        assert_eq!(
            e.to_string(),
            "bad settings block from Nix: input ended in the middle of a string"
        );
    }
}
