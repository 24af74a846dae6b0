//! One user or group record: its attributes, and what it keeps of its file
//! line.

use crate::attr;
use crate::sidecar::Attrs;

/// One user or group record.
#[derive(Debug, Clone)]
pub struct Record {
    pub(crate) attrs: Attrs,
    /// The name of this record's line in the files when loaded, to keep its
    /// place when the files are written again.
    pub(crate) origin: Option<String>,
    /// master.passwd fields with no dscl attribute.
    pub(crate) class: String,
    pub(crate) change: String,
    pub(crate) expire: String,
}

impl Record {
    pub(crate) fn new(attrs: Attrs) -> Record {
        Record {
            attrs,
            origin: None,
            class: String::new(),
            change: "0".into(),
            expire: "0".into(),
        }
    }

    /// The first RecordName.
    pub fn name(&self) -> &str {
        self.first(attr::RECORD_NAME).unwrap_or("")
    }

    /// Whether `name` is any of the RecordName values (the short name or an
    /// alias); comparison is exact, case included.
    pub fn has_name(&self, name: &str) -> bool {
        self.get(attr::RECORD_NAME)
            .is_some_and(|v| v.iter().any(|n| n == name))
    }

    /// All stored values of attribute `key` (a full, canonical name such as
    /// [`attr::UNIQUE_ID`]), in order; `None` when the record lacks it.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.attrs.get(key).map(Vec::as_slice)
    }

    /// The first stored value of attribute `key`, if any.
    pub fn first(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(|v| v.first()).map(String::as_str)
    }

    /// The stored attributes (no computed ones).
    pub fn attrs(&self) -> &Attrs {
        &self.attrs
    }
}
