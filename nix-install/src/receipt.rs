//! The receipt: what each action changed, in order, so that `uninstall` can
//! revert it. Replaced atomically after every action, so an interrupted
//! install can still be undone.

use std::fs;
use std::io;
use std::path::Path;

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

    /// Writes the receipt to `path` as pretty JSON, mode 0644, replacing
    /// the old one atomically (never a torn receipt).
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let text = serde_json::to_vec_pretty(self).expect("a receipt serialises");
        write_atomic(path, &text, 0o644)
    }
}
