//! Attribute names: standard vs native, and the local node's native aliases.

pub const STD: &str = "dsAttrTypeStandard:";
pub const NATIVE: &str = "dsAttrTypeNative:";

pub const RECORD_NAME: &str = "dsAttrTypeStandard:RecordName";
pub const PASSWORD: &str = "dsAttrTypeStandard:Password";
pub const UNIQUE_ID: &str = "dsAttrTypeStandard:UniqueID";
pub const PRIMARY_GROUP_ID: &str = "dsAttrTypeStandard:PrimaryGroupID";
pub const REAL_NAME: &str = "dsAttrTypeStandard:RealName";
pub const HOME: &str = "dsAttrTypeStandard:NFSHomeDirectory";
pub const SHELL: &str = "dsAttrTypeStandard:UserShell";
pub const GROUP_MEMBERSHIP: &str = "dsAttrTypeStandard:GroupMembership";
pub const GROUP_MEMBERS: &str = "dsAttrTypeStandard:GroupMembers";
pub const GENERATED_UID: &str = "dsAttrTypeStandard:GeneratedUID";
pub const META_NODE_LOCATION: &str = "dsAttrTypeStandard:AppleMetaNodeLocation";
pub const RECORD_TYPE: &str = "dsAttrTypeStandard:RecordType";
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
