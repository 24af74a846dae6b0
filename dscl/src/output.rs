//! dscl's output formats, byte for byte.

use std::io::{self, Write};

use accounts::attr;

use crate::Options;

type Attrs = std::collections::BTreeMap<String, Vec<String>>;

fn url_encode(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/:".contains(&b) {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// One `Key: v1 v2` line; if any value contains a space every value goes on
/// its own line, indented by one space.
pub(crate) fn attribute(
    w: &mut dyn Write,
    key: &str,
    values: &[String],
    opts: &Options,
) -> io::Result<()> {
    write!(w, "{}:", attr::display(key, opts.raw))?;
    let spaced = values.iter().any(|v| v.contains(' '));
    for v in values {
        let v = if opts.url { url_encode(v) } else { v.clone() };
        if spaced {
            write!(w, "\n {v}")?;
        } else {
            write!(w, " {v}")?;
        }
    }
    writeln!(w)
}

/// A record in text form: keys sorted case-insensitively on the full key.
pub(crate) fn record_text(w: &mut dyn Write, attrs: &Attrs, opts: &Options) -> io::Result<()> {
    let mut keys: Vec<&String> = attrs.keys().collect();
    keys.sort_by(|a, b| attr::case_insensitive_cmp(a, b));
    for k in keys {
        attribute(w, k, &attrs[k], opts)?;
    }
    Ok(())
}

fn plist_dict(attrs: &Attrs) -> plist::Value {
    let mut d = plist::Dictionary::new();
    // CoreFoundation writes dictionary keys in sorted order.
    for (k, vs) in attrs {
        d.insert(
            k.clone(),
            plist::Value::Array(vs.iter().map(|v| plist::Value::String(v.clone())).collect()),
        );
    }
    plist::Value::Dictionary(d)
}

/// A CF-style XML plist, as `CFPropertyListCreateXMLData` lays it out.
pub(crate) fn plist(w: &mut dyn Write, value: &plist::Value) -> io::Result<()> {
    let mut buf = Vec::new();
    value.to_writer_xml(&mut buf).map_err(io::Error::other)?;
    w.write_all(&buf)?;
    if !buf.ends_with(b"\n") {
        w.write_all(b"\n")?;
    }
    Ok(())
}

pub(crate) fn record_plist(w: &mut dyn Write, attrs: &Attrs) -> io::Result<()> {
    plist(w, &plist_dict(attrs))
}

pub(crate) fn records_plist(w: &mut dyn Write, records: &[Attrs]) -> io::Result<()> {
    plist(
        w,
        &plist::Value::Array(records.iter().map(plist_dict).collect()),
    )
}

/// `-list path key`: name, padding to the longest name plus two, then the
/// values each behind one space.
pub(crate) fn list_with_values(
    w: &mut dyn Write,
    rows: &[(String, Vec<String>)],
    opts: &Options,
) -> io::Result<()> {
    let width = rows.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    for (name, values) in rows {
        write!(w, "{name}{}", " ".repeat(width - name.len() + 2))?;
        for v in values {
            let v = if opts.url { url_encode(v) } else { v.clone() };
            write!(w, " {v}")?;
        }
        writeln!(w)?;
    }
    Ok(())
}

/// NSArray's description, as `-search` prints it.
fn ns_array(values: &[String]) -> String {
    let quoted: Vec<String> = values
        .iter()
        .map(|v| {
            let plain = !v.is_empty()
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_$./:".contains(c));
            if plain {
                format!("    {v}")
            } else {
                format!("    \"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
            }
        })
        .collect();
    format!("(\n{}\n)", quoted.join(",\n"))
}

pub(crate) fn search_hit(
    w: &mut dyn Write,
    name: &str,
    key: &str,
    values: &[String],
) -> io::Result<()> {
    writeln!(
        w,
        "{name}\t\t{} = {}",
        attr::display(key, false),
        ns_array(values)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn attribute_lines() {
        let o = Options::default();
        let mut b = Vec::new();
        attribute(&mut b, attr::UNIQUE_ID, &s(&["351"]), &o).unwrap();
        attribute(&mut b, attr::REAL_NAME, &s(&["Nix build user 1"]), &o).unwrap();
        attribute(&mut b, attr::GROUP_MEMBERSHIP, &s(&["a", "b", "c"]), &o).unwrap();
        attribute(&mut b, attr::IS_HIDDEN, &s(&["1"]), &o).unwrap();
        attribute(&mut b, attr::GROUP_MEMBERSHIP, &[], &o).unwrap();
        assert_eq!(
            String::from_utf8(b).unwrap(),
            "UniqueID: 351\nRealName:\n Nix build user 1\nGroupMembership: a b c\ndsAttrTypeNative:IsHidden: 1\nGroupMembership:\n"
        );
    }

    #[test]
    fn list_padding() {
        let mut b = Vec::new();
        let rows = vec![
            ("_nixbld1".to_string(), s(&["351"])),
            ("_nixbld10".to_string(), s(&["360"])),
        ];
        list_with_values(&mut b, &rows, &Options::default()).unwrap();
        assert_eq!(
            String::from_utf8(b).unwrap(),
            "_nixbld1    351\n_nixbld10   360\n"
        );
    }

    #[test]
    fn plist_layout() {
        let mut a = Attrs::new();
        a.insert("dsAttrTypeStandard:PrimaryGroupID".into(), s(&["350"]));
        a.insert("dsAttrTypeStandard:GroupMembership".into(), s(&[]));
        let mut b = Vec::new();
        record_plist(&mut b, &a).unwrap();
        let text = String::from_utf8(b).unwrap();
        assert!(
            text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC")
        );
        assert!(text.contains("<dict>\n\t<key>dsAttrTypeStandard:GroupMembership</key>\n\t<array/>\n\t<key>dsAttrTypeStandard:PrimaryGroupID</key>\n\t<array>\n\t\t<string>350</string>\n\t</array>\n</dict>\n</plist>\n"), "{text}");
    }

    #[test]
    fn search_format() {
        let mut b = Vec::new();
        search_hit(&mut b, "_nixbld1", attr::UNIQUE_ID, &s(&["351"])).unwrap();
        assert_eq!(
            String::from_utf8(b).unwrap(),
            "_nixbld1\t\tUniqueID = (\n    351\n)\n"
        );
    }
}
