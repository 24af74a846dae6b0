//! daemon: in daemon mode, the launchd job for nix-daemon
//! (`/Library/LaunchDaemons/org.nixos.nix-daemon.plist`).

use std::fs;
use std::path::PathBuf;

use plist::{Dictionary, Value};

use super::{Action, ActionId};
use crate::error::Error;
use crate::files::Changes;
use crate::{Cx, Mode, Settings};

pub(super) struct Daemon;

pub(super) const LABEL: &str = "org.nixos.nix-daemon";

fn plist_path(cx: &Cx) -> PathBuf {
    cx.root()
        .join("Library/LaunchDaemons")
        .join(format!("{LABEL}.plist"))
}

/// The launchd job as XML.
pub(super) fn plist_bytes(s: &Settings) -> Vec<u8> {
    let mut d = Dictionary::new();
    let mut env = Dictionary::new();
    if !s.libsandbox_fixed {
        // Darling's libsandbox cannot run Nix's sandbox profile yet.
        env.insert("_NIX_TEST_NO_SANDBOX".into(), Value::String("1".into()));
    }
    if s.has_xnu_fixes_dylib() {
        // The daemon, and every builder it starts, with xnu-fixes.
        env.insert(
            "DYLD_INSERT_LIBRARIES".into(),
            Value::String(format!("/{}", crate::XNU_FIXES_DYLIB.1)),
        );
    }
    if !env.is_empty() {
        d.insert("EnvironmentVariables".into(), Value::Dictionary(env));
    }
    d.insert("Label".into(), Value::String(LABEL.into()));
    d.insert("KeepAlive".into(), Value::Boolean(true));
    d.insert(
        "ProgramArguments".into(),
        Value::Array(vec![Value::String(
            "/nix/var/nix/profiles/default/bin/nix-daemon".into(),
        )]),
    );
    d.insert("RunAtLoad".into(), Value::Boolean(true));
    d.insert(
        "StandardErrorPath".into(),
        Value::String("/var/log/nix-daemon.log".into()),
    );
    let mut out = Vec::new();
    plist::to_writer_xml(&mut out, &Value::Dictionary(d)).expect("writing to memory");
    out.push(b'\n');
    out
}

impl Action for Daemon {
    fn id(&self) -> ActionId {
        ActionId::Daemon
    }

    fn describe(&self, s: &Settings) -> String {
        match s.mode {
            Mode::Daemon => "write the launchd plist for nix-daemon".into(),
            Mode::Single => "no daemon (single-user mode)".into(),
        }
    }

    fn is_done(&self, cx: &Cx) -> Result<bool, Error> {
        if cx.s.mode == Mode::Single {
            return Ok(true);
        }
        Ok(fs::read(plist_path(cx)).ok() == Some(plist_bytes(cx.s)))
    }

    fn execute(&self, cx: &mut Cx, changes: &mut Changes) -> Result<(), Error> {
        let p = plist_path(cx);
        cx.replace_file(changes, &p, &plist_bytes(cx.s), 0o644)
    }
}
