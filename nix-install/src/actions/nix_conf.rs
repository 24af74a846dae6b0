//! nix-conf: `/etc/nix/nix.conf`, the shell environment
//! `/etc/nix/nix-darling.sh`, and one line sourcing it in `/etc/bashrc` and
//! `/etc/zshenv`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::{Action, ActionId};
use crate::error::{io_at, Error};
use crate::files::Changes;
use crate::{Cx, Mode, Settings, GROUP};

pub(super) struct NixConf;

const HOOK_LINE: &str = "[ -r /etc/nix/nix-darling.sh ] && . /etc/nix/nix-darling.sh # darling-nix";

fn desired_conf(s: &Settings) -> String {
    let group = if s.mode == Mode::Daemon { GROUP } else { "" };
    format!("# Written by darling-nix nix-install.\nbuild-users-group = {group}\nsandbox = false\nsystem = x86_64-darwin\n")
}

fn desired_env(s: &Settings) -> String {
    let mut t = String::from("# Written by darling-nix nix-install; sourced by /etc/bashrc and /etc/zshenv.\nexport PATH=\"/nix/var/nix/profiles/default/bin:$PATH\"\n");
    if !s.libsandbox_fixed {
        t.push_str("# Darling's libsandbox cannot run Nix's sandbox profile yet.\nexport _NIX_TEST_NO_SANDBOX=1\n");
    }
    t
}

/// How a file should look: all of it ours, or one line of ours in it.
enum Want {
    Whole(String),
    Line(&'static str),
}

fn files(cx: &Cx) -> [(PathBuf, Want); 4] {
    let etc = cx.etc();
    [
        (etc.join("nix/nix.conf"), Want::Whole(desired_conf(cx.s))),
        (
            etc.join("nix/nix-darling.sh"),
            Want::Whole(desired_env(cx.s)),
        ),
        (etc.join("bashrc"), Want::Line(HOOK_LINE)),
        (etc.join("zshenv"), Want::Line(HOOK_LINE)),
    ]
}

fn read(p: &Path) -> Result<Option<String>, Error> {
    match fs::read_to_string(p) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_at(p)(e)),
    }
}

impl Action for NixConf {
    fn id(&self) -> ActionId {
        ActionId::NixConf
    }

    fn describe(&self, s: &Settings) -> String {
        format!(
            "write /etc/nix/nix.conf and the shell environment{}",
            if s.libsandbox_fixed {
                ""
            } else {
                " (with _NIX_TEST_NO_SANDBOX=1)"
            }
        )
    }

    fn is_done(&self, cx: &Cx) -> Result<bool, Error> {
        for (p, want) in files(cx) {
            let ok = match (read(&p)?, want) {
                (Some(t), Want::Whole(w)) => t == w,
                (Some(t), Want::Line(l)) => t.lines().any(|x| x == l),
                (None, _) => false,
            };
            if !ok {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn execute(&self, cx: &mut Cx, changes: &mut Changes) -> Result<(), Error> {
        for (p, want) in files(cx) {
            let new = match want {
                Want::Whole(w) => w,
                Want::Line(line) => {
                    let old = read(&p)?.unwrap_or_default();
                    if old.lines().any(|l| l == line) {
                        continue;
                    }
                    let mut new = old;
                    if !new.is_empty() && !new.ends_with('\n') {
                        new.push('\n');
                    }
                    new.push_str(line);
                    new.push('\n');
                    new
                }
            };
            cx.replace_file(changes, &p, new.as_bytes(), 0o644)?;
        }
        Ok(())
    }
}
