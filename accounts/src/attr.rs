//! Attribute names: standard vs native, and the local node's native aliases.

/// Prefix of standard attribute types, the ones Directory Services defines
/// for every node (`dsAttrTypeStandard:`).
pub const STD: &str = "dsAttrTypeStandard:";
/// Prefix of native attribute types, keys of this node's own
/// (`dsAttrTypeNative:`); a bare key that is no known standard type gets it.
pub const NATIVE: &str = "dsAttrTypeNative:";

/// The record's names: the first is its short name, the `name` field of its
/// passwd or group line; further values are aliases, kept in the sidecar.
pub const RECORD_NAME: &str = "dsAttrTypeStandard:RecordName";
/// The `pw` field of master.passwd or group (the file holds `*` while it
/// is unset); passwd itself always shows `*`.
pub const PASSWORD: &str = "dsAttrTypeStandard:Password";
/// A user's numeric uid, the `uid` field; unique among users. A user has no
/// file line until it has one.
pub const UNIQUE_ID: &str = "dsAttrTypeStandard:UniqueID";
/// A numeric gid, the `gid` field: a user's primary group, or a group's own
/// id (unique among groups; a group has no file line until it has one).
pub const PRIMARY_GROUP_ID: &str = "dsAttrTypeStandard:PrimaryGroupID";
/// A user's full name, the gecos field; a group's is kept in the sidecar.
pub const REAL_NAME: &str = "dsAttrTypeStandard:RealName";
/// A user's home directory, the `home` field (the file holds `/var/empty`
/// until it is set).
pub const HOME: &str = "dsAttrTypeStandard:NFSHomeDirectory";
/// A user's login shell, the `shell` field (the file holds
/// `/usr/bin/false` until it is set).
pub const SHELL: &str = "dsAttrTypeStandard:UserShell";
/// A group's members by short name: the member list of its group line,
/// each name once there (duplicates from `dscl -append` stay in the sidecar).
/// Nix finds its build users through this list.
pub const GROUP_MEMBERSHIP: &str = "dsAttrTypeStandard:GroupMembership";
/// A group's members by GeneratedUID; kept in the sidecar only.
pub const GROUP_MEMBERS: &str = "dsAttrTypeStandard:GroupMembers";
/// The record's UUID, uppercase hex text: random (v4) for records our tools
/// create, computed from the id for records that exist only in the files.
pub const GENERATED_UID: &str = "dsAttrTypeStandard:GeneratedUID";
/// The node a record comes from: always `/Local/Default`; computed, never
/// stored.
pub const META_NODE_LOCATION: &str = "dsAttrTypeStandard:AppleMetaNodeLocation";
/// The record's type (`dsRecTypeStandard:Users` or `…:Groups`); computed,
/// never stored.
pub const RECORD_TYPE: &str = "dsAttrTypeStandard:RecordType";
/// Native attribute that marks an account as hidden from the login window and
/// user lists when `1`; the Nix installers set it on build users. Sidecar only.
pub const IS_HIDDEN: &str = "dsAttrTypeNative:IsHidden";

/// Standard attribute types the local node knows (the names a bare key is
/// matched against before it is taken as native).
const STANDARD_TYPES: &[&str] = &[
    "AdminLimitations",
    "AltSecurityIdentities",
    "AppleMetaNodeLocation",
    "AuthenticationAuthority",
    "AuthenticationHint",
    "Birthday",
    "Change",
    "City",
    "Comment",
    "Company",
    "Country",
    "Department",
    "EMailAddress",
    "Expire",
    "FirstName",
    "GeneratedUID",
    "GroupMembers",
    "GroupMembership",
    "HomeDirectory",
    "HomeDirectoryQuota",
    "HomeDirectorySoftQuota",
    "JobTitle",
    "JPEGPhoto",
    "Keywords",
    "LastName",
    "MCXFlags",
    "MCXSettings",
    "Member",
    "MiddleName",
    "NestedGroups",
    "NFSHomeDirectory",
    "NickName",
    "OrganizationName",
    "Password",
    "PasswordPolicyOptions",
    "PhoneNumber",
    "Picture",
    "PostalCode",
    "PrimaryGroupID",
    "RealName",
    "RecordName",
    "RecordType",
    "SMBHome",
    "SMBHomeDrive",
    "SMBPrimaryGroupSID",
    "SMBSID",
    "State",
    "Street",
    "TimeToLive",
    "UniqueID",
    "UserCertificate",
    "UserShell",
];

/// Native names the local node stores standard attributes under; writing
/// `uid` is writing UniqueID.
const NATIVE_ALIASES: &[(&str, &str)] = &[
    ("name", "RecordName"),
    ("uid", "UniqueID"),
    ("gid", "PrimaryGroupID"),
    ("home", "NFSHomeDirectory"),
    ("shell", "UserShell"),
    ("realname", "RealName"),
    ("passwd", "Password"),
    ("generateduid", "GeneratedUID"),
    ("users", "GroupMembership"),
    ("groupmembers", "GroupMembers"),
];

/// Attributes the node computes; they are never stored.
pub fn is_virtual(key: &str) -> bool {
    key == META_NODE_LOCATION || key == RECORD_TYPE
}

/// The full prefixed name dscl uses for a key as typed by a user, before
/// local-node aliasing (this is what "No such key" and plist output show).
pub fn prefixed(key: &str) -> String {
    if key.starts_with(STD) || key.starts_with(NATIVE) {
        key.to_string()
    } else if STANDARD_TYPES.contains(&key) {
        format!("{STD}{key}")
    } else {
        format!("{NATIVE}{key}")
    }
}

/// The key under which the local node stores `key`.
pub fn canonical(key: &str) -> String {
    let full = prefixed(key);
    if let Some(native) = full.strip_prefix(NATIVE) {
        if let Some((_, std)) = NATIVE_ALIASES.iter().find(|(n, _)| *n == native) {
            return format!("{STD}{std}");
        }
    }
    full
}

/// What `dscl` prints for a key: the standard prefix is stripped unless -raw.
pub fn display(key: &str, raw: bool) -> &str {
    if raw {
        key
    } else {
        key.strip_prefix(STD).unwrap_or(key)
    }
}

/// Apple's caseInsensitiveCompare on ASCII-folded text: lowercase folding, so
/// that `_x` sorts before `a`.
pub fn case_insensitive_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let fa = a.chars().flat_map(char::to_lowercase);
    let fb = b.chars().flat_map(char::to_lowercase);
    fa.cmp(fb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_names_resolve() {
        assert_eq!(canonical("UniqueID"), UNIQUE_ID);
        assert_eq!(canonical("uid"), UNIQUE_ID);
        assert_eq!(canonical("users"), GROUP_MEMBERSHIP);
        assert_eq!(canonical("IsHidden"), IS_HIDDEN);
        assert_eq!(
            canonical("dsAttrTypeNative:_writers_passwd"),
            "dsAttrTypeNative:_writers_passwd"
        );
        assert_eq!(prefixed("uid"), "dsAttrTypeNative:uid");
    }

    #[test]
    fn sorting_is_lowercase_folded() {
        use std::cmp::Ordering::*;
        assert_eq!(case_insensitive_cmp("_nixbld10", "_nixbld2"), Less);
        assert_eq!(case_insensitive_cmp("_x", "a"), Less);
        assert_eq!(case_insensitive_cmp("B", "a"), Greater);
        assert_eq!(
            case_insensitive_cmp("dsAttrTypeNative:z", "dsAttrTypeStandard:A"),
            Less
        );
    }
}
