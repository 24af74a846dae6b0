//! fetch-tarball: the Nix binary tarball, a local file or downloaded with
//! curl, checked against its sha256 and Darling's limits.

use std::fs;
use std::path::PathBuf;

use super::{Action, ActionId};
use crate::error::{io_at, Error};
use crate::files::{sha256_file, Changes};
use crate::tarball::version_gate;
use crate::{Cx, Settings};

pub(super) struct FetchTarball;

impl Action for FetchTarball {
    fn id(&self) -> ActionId {
        ActionId::FetchTarball
    }

    fn describe(&self, s: &Settings) -> String {
        format!(
            "get and verify the Nix tarball {}",
            s.tarball.as_deref().unwrap_or("(none given)")
        )
    }

    /// Only needed while the store is not unpacked.
    fn is_done(&self, cx: &Cx) -> Result<bool, Error> {
        super::unpack_store::UnpackStore.is_done(cx)
    }

    fn execute(&self, cx: &mut Cx, changes: &mut Changes) -> Result<(), Error> {
        let src = cx.s.tarball.clone().ok_or(Error::NoTarball)?;
        if let Some(warning) = version_gate(&src)? {
            eprintln!("nix-install: warning: {warning}");
        }
        let local = if src.starts_with("https://") || src.starts_with("http://") {
            if cx.s.sha256.is_none() {
                return Err(Error::NeedsSha256);
            }
            let name = src.rsplit('/').next().unwrap_or("nix.tar.xz");
            let dest = cx.s.cache_dir.join(name);
            fs::create_dir_all(&cx.s.cache_dir).map_err(io_at(&cx.s.cache_dir))?;
            let partial = dest.with_extension("partial");
            let curl = which::which("curl").map_err(|e| Error::Spawn {
                program: "curl".into(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, e),
            })?;
            // Progress on our stderr; the exit status is ours to judge.
            let args: [&std::ffi::OsStr; 5] = [
                "-fL".as_ref(),
                "--progress-bar".as_ref(),
                "-o".as_ref(),
                partial.as_os_str(),
                src.as_ref(),
            ];
            let out = duct::cmd(&curl, args)
                .unchecked()
                .stdout_to_stderr()
                .run()
                .map_err(|source| Error::Spawn {
                    program: curl.display().to_string(),
                    source,
                })?;
            if !out.status.success() {
                let _ = fs::remove_file(&partial);
                return Err(Error::Download {
                    url: src,
                    status: out.status.to_string(),
                });
            }
            changes.created(cx, &dest)?;
            fs::rename(&partial, &dest).map_err(io_at(&dest))?;
            dest
        } else {
            PathBuf::from(&src)
        };
        if let Some(want) = &cx.s.sha256 {
            let got = sha256_file(&local)?;
            if !got.eq_ignore_ascii_case(want.trim()) {
                return Err(Error::Sha256 {
                    path: local,
                    got,
                    want: want.clone(),
                });
            }
        }
        cx.tarball_local = Some(local);
        Ok(())
    }
}
