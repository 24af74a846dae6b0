//! install-tools: our dscl, dseditgroup, sysadminctl, diskutil and
//! sandbox-exec where the installers and Nix call them, and
//! libxnu_fixes.dylib when the tools directory has one.

use std::fs;

use super::{Action, ActionId};
use crate::error::Error;
use crate::files::Changes;
use crate::{Cx, Settings, TOOLS, XNU_FIXES_DYLIB, XNU_FIXES_PROBE};

/// The xnu-fixes files installed when the tools directory has the dylib:
/// (name there, path in the prefix, mode). The probe is optional.
fn extras(s: &Settings) -> Vec<(&'static str, &'static str, u32)> {
    let mut v = Vec::new();
    if s.has_xnu_fixes_dylib() {
        v.push((XNU_FIXES_DYLIB.0, XNU_FIXES_DYLIB.1, 0o644));
        if s.tools_dir.join(XNU_FIXES_PROBE.0).is_file() {
            v.push((XNU_FIXES_PROBE.0, XNU_FIXES_PROBE.1, 0o755));
        }
    }
    v
}

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
        Ok(TOOLS.iter().all(|(name, at)| same(name, at))
            && extras(cx.s).iter().all(|(name, at, _)| same(name, at)))
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
        for (name, at, mode) in extras(cx.s) {
            let src = cx.s.tools_dir.join(name);
            let data = fs::read(&src).map_err(|source| Error::ToolMissing {
                path: src.clone(),
                source,
            })?;
            cx.replace_file(changes, &cx.root().join(at), &data, mode)?;
        }
        Ok(())
    }
}
