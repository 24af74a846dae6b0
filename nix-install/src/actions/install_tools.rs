//! install-tools: our dscl, dseditgroup, sysadminctl, diskutil and
//! sandbox-exec where the installers and Nix call them, and
//! libxnu_fixes.dylib when the tools directory has one.

use std::fs;

use super::{Action, ActionId};
use crate::error::Error;
use crate::files::Changes;
use crate::{Cx, Settings, TOOLS, XNU_FIXES_DYLIB};

pub(super) struct InstallTools;

impl Action for InstallTools {
    fn id(&self) -> ActionId {
        ActionId::InstallTools
    }

    fn describe(&self, s: &Settings) -> String {
        let dylib = if s.has_xnu_fixes_dylib() {
            " and libxnu_fixes.dylib"
        } else {
            ""
        };
        format!(
            "install dscl, dseditgroup, sysadminctl, diskutil and sandbox-exec{dylib} from {} into the prefix",
            s.tools_dir.display()
        )
    }

    fn is_done(&self, cx: &Cx) -> Result<bool, Error> {
        let root = cx.root();
        let same = |name: &str, at: &str| {
            let (a, b) = (cx.s.tools_dir.join(name), root.join(at));
            matches!((fs::read(&a), fs::read(&b)), (Ok(x), Ok(y)) if x == y)
        };
        let (dylib, at) = XNU_FIXES_DYLIB;
        Ok(TOOLS.iter().all(|(name, at)| same(name, at))
            && (!cx.s.has_xnu_fixes_dylib() || same(dylib, at)))
    }

    fn execute(&self, cx: &mut Cx, changes: &mut Changes) -> Result<(), Error> {
        for (name, at) in TOOLS {
            let src = cx.s.tools_dir.join(name);
            let data = fs::read(&src).map_err(|source| Error::ToolMissing {
                path: src.clone(),
                source,
            })?;
            cx.replace_file(changes, &cx.root().join(at), &data, 0o755)?;
        }
        if cx.s.has_xnu_fixes_dylib() {
            let (name, at) = XNU_FIXES_DYLIB;
            let src = cx.s.tools_dir.join(name);
            let data = fs::read(&src).map_err(|source| Error::ToolMissing {
                path: src.clone(),
                source,
            })?;
            cx.replace_file(changes, &cx.root().join(at), &data, 0o644)?;
        }
        Ok(())
    }
}
