//! What can go wrong, with the path or command it went wrong on.

use std::io;
use std::path::PathBuf;

use crate::actions::ActionId;

/// Why an action (or reading or writing the receipt) failed. Every variant
/// ends install or uninstall, through [`RunError`], and nix-install then
/// exits 1.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file or directory on the host failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the system call reported.
        #[source]
        source: io::Error,
    },
    /// install-tools could not read a tool, or the xnu-fixes dylib or
    /// probe, from the tools directory; the message suggests building the
    /// tools or passing `--tools-dir`.
    #[error("{}: {source} (build the tools, or pass --tools-dir)", path.display())]
    ToolMissing {
        /// The file in the tools directory.
        path: PathBuf,
        /// Why it could not be read (usually: not found).
        #[source]
        source: io::Error,
    },
    /// The receipt exists but is not a receipt's JSON. Install, uninstall
    /// and the uninstall plan stop before changing anything: a receipt is
    /// never read as empty, which would make uninstall do nothing.
    #[error("{}: corrupt receipt ({source}); nothing was changed: repair or remove it by hand", path.display())]
    CorruptReceipt {
        /// The receipt file.
        path: PathBuf,
        /// Where and why parsing failed.
        #[source]
        source: serde_json::Error,
    },
    /// The receipt records a path that this version of nix-install never
    /// writes: a file or directory outside the prefix (or, for
    /// fetch-tarball, outside the download cache), a backup outside its
    /// backup directory, or a path with a `..` component. Install,
    /// uninstall and the uninstall plan stop before changing anything: the
    /// receipt is a file in the prefix, which anything running in the
    /// prefix can write.
    #[error("{}: refused receipt: {entry} {why}; nothing was changed: repair or remove it by hand", path.display())]
    UnsafeReceipt {
        /// The receipt file.
        path: PathBuf,
        /// The path it records, as it records it.
        entry: String,
        /// What is wrong with it.
        why: String,
    },
    /// A command inside the prefix ([`Cx::run`](crate::Cx::run)) did not
    /// run to an exit status: it could not be started, the prefix would not
    /// start, or it timed out and was killed.
    #[error("`{argv}`: {source}")]
    Run {
        /// The command as messages show it: its arguments joined by spaces,
        /// a script of several lines as `<script of N lines>`.
        argv: String,
        /// The runner's error.
        #[source]
        source: darling_host::HostError,
    },
    /// A command inside the prefix exited with a status other than 0.
    #[error("`{argv}` exited {code}: {stderr}")]
    Exited {
        /// The command, shown as for [`Error::Run`].
        argv: String,
        /// Its exit status (128 plus the signal number when a signal ended
        /// it).
        code: i32,
        /// What it wrote to standard error, trimmed.
        stderr: String,
    },
    /// A host program (curl to download, tar to unpack) was not found on
    /// `PATH` or could not be started.
    #[error("{program}: {source}")]
    Spawn {
        /// The program's name, or its path once found.
        program: String,
        /// Why it could not be found or started.
        #[source]
        source: io::Error,
    },
    /// check-darling: the prefix (the path held) has no `etc` even after a
    /// command ran inside, so it is not an initialised Darling prefix.
    #[error("{} is not an initialised Darling prefix (no etc)", .0.display())]
    NotPrefix(PathBuf),
    /// fetch-tarball has to run and no `--tarball` was given.
    #[error("no Nix tarball given (--tarball PATH|URL)")]
    NoTarball,
    /// The tarball is a URL and no `--sha256` was given; nothing was
    /// downloaded.
    #[error("downloading needs --sha256 (the hash published next to the tarball)")]
    NeedsSha256,
    /// curl did not succeed in downloading the tarball; its partial file
    /// was removed.
    #[error("downloading {url} failed ({status})")]
    Download {
        /// The tarball's URL, without its userinfo and query
        /// ([`redact_url`](crate::tarball::redact_url)).
        url: String,
        /// curl's exit status, as the system describes it.
        status: String,
    },
    /// The tarball's sha256 is not the one `--sha256` gave.
    #[error("{}: sha256 is {got}, expected {want}", path.display())]
    Sha256 {
        /// The tarball on the host: the local file, or the download in the
        /// cache directory.
        path: PathBuf,
        /// Its actual sha256, in lowercase hex.
        got: String,
        /// The expected sha256, as given.
        want: String,
    },
    /// The tarball's name says it is for a system other than
    /// `x86_64-darwin`, the only one Darling runs.
    #[error("`{name}` is for {system}; Darling runs x86_64-darwin only")]
    WrongSystem {
        /// The tarball, as given (a path, or a URL without its userinfo
        /// and query).
        name: String,
        /// The system in its name, e.g. `aarch64-darwin`.
        system: String,
    },
    /// The tarball's name says Nix 2.35 or later, which refuses to run on
    /// macOS older than 14, while Darling reports 11.7.4.
    #[error("Nix {version} refuses macOS older than 14 and Darling reports 11.7.4; use Nix 2.34.x or older")]
    TooNew {
        /// The version in the tarball's name.
        version: String,
    },
    /// `tar -xf` exited with an error on the tarball.
    #[error("unpacking {} failed ({status})", tarball.display())]
    Unpack {
        /// The tarball on the host.
        tarball: PathBuf,
        /// tar's exit status, as the system describes it.
        status: String,
    },
    /// The unpacked tarball has no top-level directory holding both
    /// `store` and `.reginfo`, so it is not a Nix binary tarball. Holds the
    /// temporary directory it was unpacked into.
    #[error("{}: no <dir>/store and <dir>/.reginfo (is it a Nix binary tarball?)", .0.display())]
    NotNixTarball(PathBuf),
    /// None of the store paths in the saved `.reginfo` (the path held) is
    /// Nix itself (`<hash>-nix-<version>`) with a `bin/nix-store` in the
    /// prefix; load-db and profile need one.
    #[error("{}: no nix-<version> store path with bin/nix-store in the tarball", .0.display())]
    NoNixInTarball(PathBuf),
    /// unpack-store has to run but no tarball was fetched in this run (for
    /// example, fetch-tarball was skipped).
    #[error("no tarball fetched (fetch-tarball did not run)")]
    NoTarballFetched,
    /// load-db could not open or query the store database to tell whether
    /// it is loaded.
    #[error("{}: {source}", path.display())]
    Db {
        /// The database, `nix/var/nix/db/db.sqlite` in the prefix.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// Uninstall would remove something under a mount point in the prefix
    /// (the host's `/nix` shared in at `<prefix>/nix`, for example), or a
    /// tree holding one: nothing in it was removed, and the action's record
    /// stays in the receipt.
    #[error("{}: a mount point (for example the host store shared into the prefix); nothing in it was removed: unmount it, or stop the prefix, and run uninstall again", path.display())]
    MountPoint {
        /// The mount point, as the receipt spells paths (under the prefix).
        path: PathBuf,
    },
    /// A file to write or remove is not inside the prefix once symlinks are
    /// followed (for example `/etc/nix` a symlink to a directory outside):
    /// nothing was written there.
    #[error("{}: resolves to {}, outside the prefix; refusing to write or remove it", path.display(), resolved.display())]
    OutsidePrefix {
        /// The path as the action meant it.
        path: PathBuf,
        /// Where its directory really is.
        resolved: PathBuf,
    },
}

/// `map_err(io_at(&path))`: an I/O error that keeps its path.
pub fn io_at(path: &std::path::Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Why `install` or `uninstall` stopped. nix-install prints it (or puts it
/// in the JSON's `error`) and exits 1.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// An action failed: deciding whether it is done, running it, or
    /// reverting it (or, during install, saving the receipt after it). Its
    /// step is the last one reported, with status `failed`.
    #[error("{action}: {source}")]
    Action {
        /// The action that failed.
        action: ActionId,
        /// What went wrong.
        #[source]
        source: Error,
    },
    /// The receipt could not be loaded before any action ran (unreadable,
    /// [`Error::CorruptReceipt`] or [`Error::UnsafeReceipt`]); or, during
    /// uninstall, saving it after a revert (or removing the reverted
    /// record's backups then), or removing it and the emptied state
    /// directories at the end, failed.
    #[error(transparent)]
    Receipt(Error),
    /// Taking nix-install's lock on the prefix directory failed.
    #[error(transparent)]
    Lock(Error),
}
