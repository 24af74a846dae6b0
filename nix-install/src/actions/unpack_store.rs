//! unpack-store: the tarball's store paths moved into `<prefix>/nix/store`,
//! its `.reginfo` kept for load-db.

use std::fs;
use std::path::{Path, PathBuf};

use super::{saved_reginfo, Action, ActionId};
use crate::error::{io_at, Error};
use crate::files::{write_atomic, Changes};
use crate::tarball::reginfo_paths;
use crate::{Cx, Settings};

pub(super) struct UnpackStore;

/// `store/` and `.reginfo` of an unpacked tarball (`<dir>/store`).
fn unpacked(dir: &Path) -> Result<(PathBuf, PathBuf), Error> {
    for e in fs::read_dir(dir).map_err(io_at(dir))? {
        let p = e.map_err(io_at(dir))?.path();
        if p.join("store").is_dir() && p.join(".reginfo").is_file() {
            return Ok((p.join("store"), p.join(".reginfo")));
        }
    }
    Err(Error::NotNixTarball(dir.to_path_buf()))
}

impl Action for UnpackStore {
    fn id(&self) -> ActionId {
        ActionId::UnpackStore
    }

    fn describe(&self, _: &Settings) -> String {
        "unpack the tarball's store paths into <prefix>/nix/store".into()
    }

    fn is_done(&self, cx: &Cx) -> Result<bool, Error> {
        let Ok(text) = fs::read_to_string(saved_reginfo(cx)) else {
            return Ok(false);
        };
        let paths = reginfo_paths(&text);
        let root = cx.root();
        Ok(!paths.is_empty()
            && paths
                .iter()
                .all(|p| root.join(p.trim_start_matches('/')).exists()))
    }

    fn execute(&self, cx: &mut Cx, changes: &mut Changes) -> Result<(), Error> {
        let tarball = cx.tarball_local.clone().ok_or(Error::NoTarballFetched)?;
        // Unpacked on the prefix's file system, so the store paths move by
        // rename.
        let root = cx.root();
        let tmp_base = prefixfs::Prefix::at(&root).tmp_dir();
        cx.check_inside(&tmp_base.join("nix-install"))?;
        fs::create_dir_all(&tmp_base).map_err(io_at(&tmp_base))?;
        let work = tempfile::Builder::new()
            .prefix("nix-install.")
            .tempdir_in(&tmp_base)
            .map_err(io_at(&tmp_base))?;
        let tar = which::which("tar").map_err(|e| Error::Spawn {
            program: "tar".into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, e),
        })?;
        let args: [&std::ffi::OsStr; 4] = [
            "-xf".as_ref(),
            tarball.as_os_str(),
            "-C".as_ref(),
            work.path().as_os_str(),
        ];
        let out = duct::cmd(&tar, args)
            .unchecked()
            .stdout_to_stderr()
            .run()
            .map_err(|source| Error::Spawn {
                program: tar.display().to_string(),
                source,
            })?;
        if !out.status.success() {
            return Err(Error::Unpack {
                tarball,
                status: out.status.to_string(),
            });
        }
        let (store, reginfo) = unpacked(work.path())?;
        let nix_root = root.join("nix");
        let nix_ours = fs::symlink_metadata(&nix_root).is_err();
        if nix_ours {
            // Ours entirely: revert may remove all of /nix. (A /nix that
            // already exists, such as the host store bind-mounted for direct
            // mode, is never recorded and never removed.)
            changes.created(cx, &nix_root)?;
        }
        let store_dir = nix_root.join("store");
        cx.check_inside(&store_dir.join("x"))?;
        if !nix_ours && fs::symlink_metadata(&store_dir).is_err() {
            // In a /nix that was there: removed again when empty.
            changes.dirs.push(cx.record(&store_dir));
            cx.note(changes)?;
        }
        fs::create_dir_all(&store_dir).map_err(io_at(&store_dir))?;
        for e in fs::read_dir(&store).map_err(io_at(&store))? {
            let p = e.map_err(io_at(&store))?.path();
            let dest = store_dir.join(p.file_name().unwrap_or_default());
            if dest.exists() {
                continue;
            }
            changes.created(cx, &dest)?;
            fs::rename(&p, &dest).map_err(io_at(&dest))?;
        }
        let text = fs::read(&reginfo).map_err(io_at(&reginfo))?;
        let saved = saved_reginfo(cx);
        cx.check_inside(&saved)?;
        changes.created(cx, &saved)?;
        write_atomic(&saved, &text, 0o644)?;
        Ok(())
    }
}
