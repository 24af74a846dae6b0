//! check-darling: the prefix can be driven; `darling shell true` creates a
//! missing one.

use super::{Action, ActionId};
use crate::error::Error;
use crate::files::Changes;
use crate::{Cx, Settings};

pub(super) struct CheckDarling;

impl Action for CheckDarling {
    fn id(&self) -> ActionId {
        ActionId::CheckDarling
    }

    fn describe(&self, _: &Settings) -> String {
        "check that the prefix can be driven (darling or the fixture runner)".into()
    }

    /// Always checked again: the prefix may have gone since.
    fn is_done(&self, _: &Cx) -> Result<bool, Error> {
        Ok(false)
    }

    fn execute(&self, cx: &mut Cx, _: &mut Changes) -> Result<(), Error> {
        // Started (and created if missing) now, so that the other actions
        // see the prefix as Darling does (see `Cx::root`).
        cx.run(&["true"], None)?;
        if !cx.etc().is_dir() {
            return Err(Error::NotPrefix(cx.s.prefix.clone()));
        }
        Ok(())
    }
}
