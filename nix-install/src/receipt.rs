//! The receipt: what each action changed, in order, so that `uninstall` can
//! revert it. Replaced atomically after every action, so an interrupted
//! install can still be undone.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::actions::ActionId;
use crate::error::{io_at, Error};
use crate::files::{write_atomic, Changes};

/// One action's changes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Record {
    /// The action that made them; uninstall calls its
    /// [`revert`](crate::Action::revert).
    pub id: ActionId,
    /// What it created, replaced and added; flattened into the record's
    /// JSON object next to `id`.
    #[serde(flatten)]
    pub changes: Changes,
}

/// The receipt file's content,
/// `/var/db/darling-nix/install-receipt.json` inside the prefix (pretty
/// JSON).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Receipt {
    /// The receipt's format version, 1.
    pub version: u32,
    /// One record per action that changed something, in the order they
    /// ran; uninstall reverts them from the last, dropping each once it is
    /// reverted.
    pub records: Vec<Record>,
}

impl Default for Receipt {
    fn default() -> Self {
        Receipt {
            version: 1,
            records: Vec::new(),
        }
    }
}

impl Receipt {
    /// The receipt at `path`; none there is an empty one. A receipt that
    /// cannot be read is an error that names the file: reading it as empty
    /// would make `uninstall` do nothing and `install` forget what it did.
    pub fn load(path: &Path) -> Result<Receipt, Error> {
        let bytes = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Receipt::default()),
            Err(e) => return Err(io_at(path)(e)),
        };
        serde_json::from_slice(&bytes).map_err(|source| Error::CorruptReceipt {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Checks that every path recorded is one this version of nix-install
    /// writes, and puts each in its lexically normal form (absolute, no
    /// `.`): files and directories strictly inside `bounds.prefix`, backups
    /// strictly inside `bounds.backups`, and fetch-tarball's download also
    /// directly in `bounds.cache_dir`; no path may have a `..` component.
    /// The first path that is not is returned, with what is wrong with it.
    /// (The receipt is a file in the prefix: anything in the prefix can
    /// write it, and uninstall removes and overwrites what it names.)
    pub fn check(&mut self, bounds: &Bounds) -> Result<(), (String, String)> {
        let inside = |entry: &mut String, base: &Path, what: &str| {
            let p = Path::new(entry.as_str());
            if p.components().any(|c| c == Component::ParentDir) {
                return Err((entry.clone(), "has a `..` component".to_string()));
            }
            let p = lexical(p);
            match p.strip_prefix(base) {
                Ok(rel) if rel.components().next().is_some() => {
                    *entry = p.display().to_string();
                    Ok(())
                }
                _ => Err((
                    entry.clone(),
                    format!("is not inside {what} {}", base.display()),
                )),
            }
        };
        for r in &mut self.records {
            let c = &mut r.changes;
            for e in &mut c.created {
                // A download: one file in the cache directory.
                let in_cache = r.id == ActionId::FetchTarball
                    && Path::new(e.as_str()).parent().map(lexical).as_deref()
                        == Some(bounds.cache_dir.as_path())
                    && !Path::new(e.as_str())
                        .components()
                        .any(|c| c == Component::ParentDir);
                if !in_cache {
                    inside(e, &bounds.prefix, "the prefix")?;
                }
            }
            for e in &mut c.dirs {
                inside(e, &bounds.prefix, "the prefix")?;
            }
            for (path, backup) in &mut c.replaced {
                inside(path, &bounds.prefix, "the prefix")?;
                inside(backup, &bounds.backups, "nix-install's backup directory")?;
            }
        }
        Ok(())
    }

    /// Writes the receipt to `path` as pretty JSON, mode 0644, replacing
    /// the old one atomically (never a torn receipt).
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let text = serde_json::to_vec_pretty(self).expect("a receipt serialises");
        write_atomic(path, &text, 0o644)
    }
}

/// Where a receipt's paths may be ([`Receipt::check`]), each absolute and
/// lexically normal ([`lexical`]).
#[derive(Debug, Clone)]
pub struct Bounds {
    /// The prefix directory: every file and directory recorded is inside.
    pub prefix: PathBuf,
    /// nix-install's backup directory in the prefix: every backup is inside.
    pub backups: PathBuf,
    /// Where fetch-tarball downloads to: its download may be directly in it.
    pub cache_dir: PathBuf,
}

/// `p` made absolute (against the working directory) and lexically normal:
/// no `.` components, each `..` taking away the component before it. No
/// symlink is looked at.
pub fn lexical(p: &Path) -> PathBuf {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt(json: &str) -> Receipt {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn paths_outside_their_places_are_refused() {
        let bounds = Bounds {
            prefix: "/p".into(),
            backups: "/p/private/var/db/darling-nix/backup".into(),
            cache_dir: "/c/darling-nix".into(),
        };
        let check = |json: &str| {
            receipt(json)
                .check(&bounds)
                .map_err(|(e, why)| format!("{e} {why}"))
        };
        let ok = r#"{"version":1,"records":[
            {"id":"install-tools","created":["/p/usr/bin/dscl","/p/./usr/sbin/x"],
             "replaced":[["/p/usr/sbin/diskutil","/p/private/var/db/darling-nix/backup/diskutil"]],
             "dirs":["/p/usr/local"]},
            {"id":"fetch-tarball","created":["/c/darling-nix/nix.tar.xz"]}]}"#;
        let mut r = receipt(ok);
        r.check(&bounds).unwrap();
        assert_eq!(r.records[0].changes.created[1], "/p/usr/sbin/x");
        for (json, want) in [
            (
                r#"{"id":"install-tools","created":["/tmp/x"]}"#,
                "/tmp/x is not inside the prefix /p",
            ),
            (
                r#"{"id":"install-tools","created":["/p"]}"#,
                "/p is not inside the prefix",
            ),
            (
                r#"{"id":"install-tools","created":["/prefix2/x"]}"#,
                "not inside the prefix",
            ),
            (
                r#"{"id":"install-tools","created":["/p/../tmp/x"]}"#,
                "/p/../tmp/x has a `..` component",
            ),
            (
                r#"{"id":"install-tools","created":["/p/a/../b"]}"#,
                "has a `..` component",
            ),
            (
                r#"{"id":"install-tools","dirs":["/etc"]}"#,
                "/etc is not inside the prefix",
            ),
            (
                r#"{"id":"nix-conf","replaced":[["/tmp/victim","/p/private/var/db/darling-nix/backup/x"]]}"#,
                "/tmp/victim is not inside the prefix",
            ),
            (
                r#"{"id":"nix-conf","replaced":[["/p/private/etc/group","/p/evil"]]}"#,
                "/p/evil is not inside nix-install's backup directory",
            ),
            (
                r#"{"id":"install-tools","created":["/c/darling-nix/x"]}"#,
                "not inside the prefix",
            ),
            (
                r#"{"id":"fetch-tarball","created":["/c/darling-nix/a/b"]}"#,
                "not inside the prefix",
            ),
            (
                r#"{"id":"fetch-tarball","created":["/c/darling-nix/a/.."]}"#,
                "has a `..` component",
            ),
        ] {
            let json = format!(r#"{{"version":1,"records":[{json}]}}"#);
            let e = check(&json).unwrap_err();
            assert!(e.contains(want), "{json}: {e}");
        }
    }
}
