//! install-tools: our dscl, dseditgroup, sysadminctl, diskutil and
//! sandbox-exec where the installers and Nix call them.

use std::fs;

use super::{Action, ActionId};
use crate::error::Error;
use crate::files::Changes;
use crate::{Cx, Settings, TOOLS};

pub(super) struct InstallTools;

impl Action for InstallTools {
    fn id(&self) -> ActionId {
        ActionId::InstallTools
    }

    fn describe(&self, s: &Settings) -> String {
        format!(
            "install dscl, dseditgroup, sysadminctl, diskutil and sandbox-exec from {} into the prefix",
            s.tools_dir.display()
        )
    }

    fn is_done(&self, cx: &Cx) -> Result<bool, Error> {
        let root = cx.root();
        Ok(TOOLS.iter().all(|(name, at)| {
            let (a, b) = (cx.s.tools_dir.join(name), root.join(at));
            matches!((fs::read(&a), fs::read(&b)), (Ok(x), Ok(y)) if x == y)
        }))
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
        Ok(())
    }
}
