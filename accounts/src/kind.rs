//! The two record types of the local node.

use crate::attr;

/// A record type of the local node, the first component of a dscl path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `/Users`: accounts, one line each in master.passwd and passwd once
    /// they have a UniqueID.
    Users,
    /// `/Groups`: groups, one line each in group once they have a
    /// PrimaryGroupID.
    Groups,
}

impl Kind {
    /// The record type as it appears in a dscl path (`/Users/x`).
    pub fn from_path(component: &str) -> Option<Kind> {
        match component {
            "Users" => Some(Kind::Users),
            "Groups" => Some(Kind::Groups),
            _ => None,
        }
    }

    /// The full record type name the RecordType attribute shows
    /// (`dsRecTypeStandard:Users` or `dsRecTypeStandard:Groups`).
    pub fn record_type(self) -> &'static str {
        match self {
            Kind::Users => "dsRecTypeStandard:Users",
            Kind::Groups => "dsRecTypeStandard:Groups",
        }
    }

    /// Attributes that live in this kind's file fields.
    pub(crate) fn mapped(self) -> &'static [&'static str] {
        match self {
            Kind::Users => &[
                attr::RECORD_NAME,
                attr::PASSWORD,
                attr::UNIQUE_ID,
                attr::PRIMARY_GROUP_ID,
                attr::REAL_NAME,
                attr::HOME,
                attr::SHELL,
            ],
            Kind::Groups => &[
                attr::RECORD_NAME,
                attr::PASSWORD,
                attr::PRIMARY_GROUP_ID,
                attr::GROUP_MEMBERSHIP,
            ],
        }
    }

    /// The id attribute that must be unique among records of this kind.
    pub(crate) fn id_key(self) -> &'static str {
        match self {
            Kind::Users => attr::UNIQUE_ID,
            Kind::Groups => attr::PRIMARY_GROUP_ID,
        }
    }
}
