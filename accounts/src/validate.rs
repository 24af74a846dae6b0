//! Input checks applied before anything reaches passwd/group files.

use crate::attr;
use crate::DsStatus;

/// A record or member name: it becomes the first field of a passwd/group
/// line and an entry of a comma-separated member list. U+FFFD stands for
/// argv bytes that were not UTF-8 (`prefixfs::text_args`): refused. So is
/// a leading `#` (the line would read back as a comment: the record would
/// vanish) or `+`/`-` (NIS compat entries to Libinfo).
pub fn name(s: &str) -> Result<(), DsStatus> {
    let bad = s.is_empty()
        || s.len() > 255
        || s.starts_with(['-', '+', '#'])
        || s == "."
        || s == ".."
        || s.chars().any(|c| {
            matches!(c, ':' | ',' | '/' | prefixfs::NOT_UTF8) || c.is_whitespace() || c.is_control()
        });
    if bad {
        Err(DsStatus::InvalidRecordName)
    } else {
        Ok(())
    }
}

/// A free-text field stored in a passwd line (gecos, home, shell, password).
pub fn field(s: &str) -> Result<(), DsStatus> {
    if s.chars()
        .any(|c| matches!(c, ':' | ',' | prefixfs::NOT_UTF8) || c.is_control())
    {
        Err(DsStatus::SchemaError)
    } else {
        Ok(())
    }
}

/// A numeric id as stored in the files; returns the canonical decimal text.
/// macOS files use negative ids (`nobody` is -2), so the signed range is valid.
pub fn id(s: &str) -> Result<String, DsStatus> {
    let t = s.trim();
    let n: i64 = t.parse().map_err(|_| DsStatus::SchemaError)?;
    if !(i64::from(i32::MIN)..=i64::from(u32::MAX)).contains(&n) {
        return Err(DsStatus::SchemaError);
    }
    Ok(n.to_string())
}

/// Check (and canonicalise) the values of one attribute before a write.
pub fn values(key: &str, values: &[String]) -> Result<Vec<String>, DsStatus> {
    let mut out = Vec::with_capacity(values.len());
    for v in values {
        if v.contains(['\0', prefixfs::NOT_UTF8]) {
            return Err(DsStatus::SchemaError);
        }
        let v = match key {
            attr::UNIQUE_ID | attr::PRIMARY_GROUP_ID => id(v)?,
            attr::RECORD_NAME | attr::GROUP_MEMBERSHIP => {
                name(v)?;
                v.clone()
            }
            attr::REAL_NAME | attr::HOME | attr::SHELL | attr::PASSWORD => {
                field(v)?;
                v.clone()
            }
            _ => v.clone(),
        };
        out.push(v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["_nixbld1", "nixbld", "a.b-c_d", "Nobody"] {
            assert!(name(ok).is_ok(), "{ok}");
        }
        for ok in ["a#b", "a+b", "c++"] {
            assert!(name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "a:b", "a,b", "a\nb", "a b", "-x", "a/b", "..", "a\0b", "#x", "#", "+", "+foo", "-",
        ] {
            assert_eq!(name(bad), Err(DsStatus::InvalidRecordName), "{bad:?}");
        }
    }

    #[test]
    fn ids() {
        assert_eq!(id("351").unwrap(), "351");
        assert_eq!(id("-2").unwrap(), "-2");
        assert_eq!(id("0351").unwrap(), "351");
        assert_eq!(id("4294967295").unwrap(), "4294967295");
        for bad in ["", "x", "4294967296", "-2147483649", "1.5", "3 5"] {
            assert_eq!(id(bad), Err(DsStatus::SchemaError), "{bad:?}");
        }
    }

    #[test]
    fn fields() {
        assert!(field("Nix build user 1").is_ok());
        assert!(field("/var/empty").is_ok());
        assert_eq!(field("a:b"), Err(DsStatus::SchemaError));
        assert_eq!(field("a\nb"), Err(DsStatus::SchemaError));
        assert_eq!(field("x,y"), Err(DsStatus::SchemaError));
        // Free attributes that never reach a file may hold newlines (plists).
        assert!(values("dsAttrTypeNative:accountPolicyData", &["<a>\n</a>".into()]).is_ok());
    }
}
