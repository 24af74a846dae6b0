//! The BSD account files: parse them keeping unknown lines, and format them.

/// One line of an account file: an entry we understand, or anything else
/// (comments, blank or malformed lines), kept byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A parsed entry, by its name (the first field); the entry itself is in
    /// the list returned alongside.
    Entry(String),
    /// A line kept verbatim, without its newline: comment, blank, wrong field
    /// count, empty name, or a later duplicate of a name.
    Other(String),
}

/// `/etc/master.passwd`: name:pw:uid:gid:class:change:expire:gecos:home:shell
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterEntry {
    /// Login name (RecordName).
    pub name: String,
    /// The password field as written: a hash, or `*` when the account has no
    /// usable password.
    pub pw: String,
    /// Numeric uid as written (UniqueID); may be negative, e.g. `-2` (see
    /// [`id`]).
    pub uid: String,
    /// The primary group's numeric gid as written (PrimaryGroupID).
    pub gid: String,
    /// Login class (usually empty); master.passwd only.
    pub class: String,
    /// When the password must next be changed, in seconds since the epoch;
    /// `0` for never. master.passwd only.
    pub change: String,
    /// When the account expires, in seconds since the epoch; `0` for never.
    /// master.passwd only.
    pub expire: String,
    /// Full name (RealName); may be empty.
    pub gecos: String,
    /// Home directory path (NFSHomeDirectory).
    pub home: String,
    /// Login shell path (UserShell).
    pub shell: String,
}

/// `/etc/group`: name:pw:gid:m1,m2
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    /// Group name (RecordName).
    pub name: String,
    /// Group password, normally `*`.
    pub pw: String,
    /// Numeric gid as written (PrimaryGroupID); may be negative, e.g. `-2`.
    pub gid: String,
    /// Member user names (GroupMembership), in file order; empty items of
    /// the comma list are dropped.
    pub members: Vec<String>,
}

fn is_entry_line(line: &str) -> bool {
    !line.is_empty() && !line.starts_with('#')
}

/// Parses `/etc/master.passwd` (10 fields). Returns every line in order
/// and the entries it holds; the first entry of a name wins.
pub fn parse_master(text: &str) -> (Vec<Line>, Vec<MasterEntry>) {
    parse_with(text, 10, |f| MasterEntry {
        name: f[0].into(),
        pw: f[1].into(),
        uid: f[2].into(),
        gid: f[3].into(),
        class: f[4].into(),
        change: f[5].into(),
        expire: f[6].into(),
        gecos: f[7].into(),
        home: f[8].into(),
        shell: f[9].into(),
    })
}

/// `/etc/passwd` has 7 fields; the 3 master-only ones get their defaults.
pub fn parse_passwd(text: &str) -> (Vec<Line>, Vec<MasterEntry>) {
    parse_with(text, 7, |f| MasterEntry {
        name: f[0].into(),
        pw: f[1].into(),
        uid: f[2].into(),
        gid: f[3].into(),
        class: String::new(),
        change: "0".into(),
        expire: "0".into(),
        gecos: f[4].into(),
        home: f[5].into(),
        shell: f[6].into(),
    })
}

/// Parses `/etc/group` (4 fields), like [`parse_master`].
pub fn parse_group(text: &str) -> (Vec<Line>, Vec<GroupEntry>) {
    parse_with(text, 4, |f| GroupEntry {
        name: f[0].into(),
        pw: f[1].into(),
        gid: f[2].into(),
        members: f[3]
            .split(',')
            .filter(|m| !m.is_empty())
            .map(String::from)
            .collect(),
    })
}

fn parse_with<T>(text: &str, nfields: usize, make: impl Fn(&[&str]) -> T) -> (Vec<Line>, Vec<T>)
where
    T: HasName,
{
    let mut lines = Vec::new();
    let mut entries: Vec<T> = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(':').collect();
        if is_entry_line(line) && fields.len() == nfields && !fields[0].is_empty() {
            let e = make(&fields);
            // A duplicate name is kept as an opaque line: the first one wins,
            // as in getpwnam.
            if entries.iter().any(|x| x.name() == e.name()) {
                lines.push(Line::Other(line.to_string()));
            } else {
                lines.push(Line::Entry(e.name().to_string()));
                entries.push(e);
            }
        } else {
            lines.push(Line::Other(line.to_string()));
        }
    }
    (lines, entries)
}

/// An entry of an account file, known by its name (the first field).
pub trait HasName {
    /// The entry's name, unique within its file.
    fn name(&self) -> &str;
}
impl HasName for MasterEntry {
    fn name(&self) -> &str {
        &self.name
    }
}
impl HasName for GroupEntry {
    fn name(&self) -> &str {
        &self.name
    }
}

impl MasterEntry {
    /// The entry as a master.passwd line (10 fields, no newline).
    pub fn master_line(&self) -> String {
        format!(
            "{}:{}:{}:{}:{}:{}:{}:{}:{}:{}",
            self.name,
            self.pw,
            self.uid,
            self.gid,
            self.class,
            self.change,
            self.expire,
            self.gecos,
            self.home,
            self.shell
        )
    }

    /// passwd never carries the hash; `*` as on macOS.
    pub fn passwd_line(&self) -> String {
        format!(
            "{}:*:{}:{}:{}:{}:{}",
            self.name, self.uid, self.gid, self.gecos, self.home, self.shell
        )
    }
}

impl GroupEntry {
    /// The entry as a group line (`name:pw:gid:m1,m2`, no newline).
    pub fn line(&self) -> String {
        format!(
            "{}:{}:{}:{}",
            self.name,
            self.pw,
            self.gid,
            self.members.join(",")
        )
    }
}

/// A uid or gid as the files may spell it: macOS writes `-2` for
/// 4294967294, and both name the same id.
pub fn id(s: &str) -> Option<u32> {
    s.trim().parse::<i64>().ok().map(|v| v as u32)
}

/// Lay out a file: existing entries stay where they were (in their new form,
/// or dropped), unknown lines are kept, new entries go at the end.
pub fn render(lines: &[Line], entries: &[(Option<String>, String)]) -> String {
    let mut out = String::new();
    let mut used = vec![false; entries.len()];
    for line in lines {
        match line {
            Line::Other(text) => {
                out.push_str(text);
                out.push('\n');
            }
            Line::Entry(orig) => {
                if let Some(i) = entries.iter().position(|(o, _)| o.as_deref() == Some(orig)) {
                    if !used[i] {
                        used[i] = true;
                        out.push_str(&entries[i].1);
                        out.push('\n');
                    }
                }
            }
        }
    }
    for (i, (_, text)) in entries.iter().enumerate() {
        if !used[i] {
            out.push_str(text);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_match_in_either_spelling() {
        assert_eq!(id("-2"), Some(4294967294));
        assert_eq!(id("4294967294"), Some(4294967294));
        assert_eq!(id("501"), Some(501));
        assert_eq!(id("x"), None);
    }

    const MASTER: &str = "##\n# User Database\n##\nroot:*:0:0::0:0:System Administrator:/var/root:/bin/sh\nnobody:*:-2:-2::0:0:Unprivileged User:/var/empty:/usr/bin/false\nbroken:line\n";

    #[test]
    fn master_round_trip_keeps_comments_and_unknown_lines() {
        let (lines, entries) = parse_master(MASTER);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].uid, "-2");
        let rendered = render(
            &lines,
            &entries
                .iter()
                .map(|e| (Some(e.name.clone()), e.master_line()))
                .collect::<Vec<_>>(),
        );
        assert_eq!(rendered, MASTER);
    }

    #[test]
    fn render_drops_and_appends() {
        let (lines, _) = parse_master(MASTER);
        let out = render(
            &lines,
            &[
                (None, "new:*:1:1::0:0:::".into()),
                (Some("root".into()), "root:x".into()),
            ],
        );
        assert!(out.contains("root:x\n"));
        assert!(!out.contains("nobody"));
        assert!(out.ends_with("broken:line\nnew:*:1:1::0:0:::\n"));
    }

    #[test]
    fn group_members() {
        let (_, g) = parse_group("nixbld:*:350:_nixbld1,_nixbld2\nempty:*:1:\n");
        assert_eq!(g[0].members, vec!["_nixbld1", "_nixbld2"]);
        assert!(g[1].members.is_empty());
        assert_eq!(g[0].line(), "nixbld:*:350:_nixbld1,_nixbld2");
    }

    #[test]
    fn passwd_has_seven_fields() {
        let (_, p) = parse_passwd("daemon:*:1:1:System Services:/var/root:/usr/bin/false\n");
        assert_eq!(p[0].gecos, "System Services");
        assert_eq!(
            p[0].passwd_line(),
            "daemon:*:1:1:System Services:/var/root:/usr/bin/false"
        );
    }
}
