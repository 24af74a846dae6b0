//! What can go wrong, with the path or command it went wrong on.

use std::io;
use std::path::PathBuf;

use crate::actions::ActionId;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: {source} (build the tools, or pass --tools-dir)", path.display())]
    ToolMissing {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: corrupt receipt ({source}); nothing was changed: repair or remove it by hand", path.display())]
    CorruptReceipt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("`{argv}`: {source}")]
    Run {
        argv: String,
        #[source]
        source: darling_host::HostError,
    },
    #[error("`{argv}` exited {code}: {stderr}")]
    Exited {
        argv: String,
        code: i32,
        stderr: String,
    },
    #[error("{program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: io::Error,
    },
    #[error("{} is not an initialised Darling prefix (no etc)", .0.display())]
    NotPrefix(PathBuf),
    #[error("no Nix tarball given (--tarball PATH|URL)")]
    NoTarball,
    #[error("downloading needs --sha256 (the hash published next to the tarball)")]
    NeedsSha256,
    #[error("downloading {url} failed ({status})")]
    Download { url: String, status: String },
    #[error("{}: sha256 is {got}, expected {want}", path.display())]
    Sha256 {
        path: PathBuf,
        got: String,
        want: String,
    },
    #[error("`{name}` is for {system}; Darling runs x86_64-darwin only")]
    WrongSystem { name: String, system: String },
    #[error("Nix {version} refuses macOS older than 14 and Darling reports 11.7.4; use Nix 2.34.x or older")]
    TooNew { version: String },
    #[error("unpacking {} failed ({status})", tarball.display())]
    Unpack { tarball: PathBuf, status: String },
    #[error("{}: no <dir>/store and <dir>/.reginfo (is it a Nix binary tarball?)", .0.display())]
    NotNixTarball(PathBuf),
    #[error("{}: no nix-<version> store path with bin/nix-store in the tarball", .0.display())]
    NoNixInTarball(PathBuf),
    #[error("no tarball fetched (fetch-tarball did not run)")]
    NoTarballFetched,
    #[error("{}: {source}", path.display())]
    Db {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
}

/// `map_err(io_at(&path))`: an I/O error that keeps its path.
pub fn io_at(path: &std::path::Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Why `install` or `uninstall` stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{action}: {source}")]
    Action {
        action: ActionId,
        #[source]
        source: Error,
    },
    #[error(transparent)]
    Receipt(Error),
}
