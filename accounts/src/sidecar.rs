//! The sidecar: attributes `passwd`/`group` cannot hold, as JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub(crate) type Attrs = BTreeMap<String, Vec<String>>;

#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct Sidecar {
    pub version: u32,
    #[serde(default, rename = "Users")]
    pub users: BTreeMap<String, Overlay>,
    #[serde(default, rename = "Groups")]
    pub groups: BTreeMap<String, Overlay>,
}

/// What to apply over the record a file line gives: attributes to set
/// (overriding any file-derived value), and file-derived ones to hide because
/// they were never set (a placeholder fills the field). An `incomplete` record
/// has no file line at all yet (a user without UniqueID, a group without
/// PrimaryGroupID) and lives here entirely.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct Overlay {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub set: Attrs,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unset: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub incomplete: bool,
}

impl Sidecar {
    pub(crate) const VERSION: u32 = 1;

    pub(crate) fn parse(text: &str) -> Result<Sidecar, serde_json::Error> {
        serde_json::from_str(text)
    }

    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }
}
