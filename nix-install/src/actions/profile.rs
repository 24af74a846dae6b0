//! profile: `/nix/var/nix/profiles/default -> default-1-link -> <nix>`.

use std::fs;
use std::path::Path;

use super::{nix_store_path, Action, ActionId};
use crate::error::{io_at, Error};
use crate::files::{symlink_atomic, Changes};
use crate::{Cx, Settings};

pub(super) struct Profile;

impl Action for Profile {
    fn id(&self) -> ActionId {
        ActionId::Profile
    }

    fn describe(&self, _: &Settings) -> String {
        "point /nix/var/nix/profiles/default at the installed Nix".into()
    }

    fn is_done(&self, cx: &Cx) -> Result<bool, Error> {
        let Ok(nix) = nix_store_path(cx) else {
            return Ok(false);
        };
        let dir = cx.root().join("nix/var/nix/profiles");
        Ok(
            fs::read_link(dir.join("default-1-link")).ok().as_deref() == Some(Path::new(&nix))
                && fs::read_link(dir.join("default")).is_ok(),
        )
    }

    fn execute(&self, cx: &mut Cx, changes: &mut Changes) -> Result<(), Error> {
        let nix = nix_store_path(cx)?;
        let dir = cx.root().join("nix/var/nix/profiles");
        cx.check_inside(&dir.join("default"))?;
        fs::create_dir_all(&dir).map_err(io_at(&dir))?;
        // Relative links inside the profiles dir, absolute to the (logical)
        // store.
        for (link, target) in [
            ("default-1-link", nix.as_str()),
            ("default", "default-1-link"),
        ] {
            let p = dir.join(link);
            if fs::symlink_metadata(&p).is_err() {
                changes.created(cx, &p)?;
            }
            symlink_atomic(target, &p)?;
        }
        Ok(())
    }
}
