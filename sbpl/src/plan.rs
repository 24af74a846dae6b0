//! From a policy to what Linux can enforce: Landlock grants for file
//! reading, writing and executing, a socket rule for IP networking, a
//! setuid/setgid rule, and a list of everything that cannot be enforced.

use std::borrow::Cow;

use crate::fasthash::FastMap;
use crate::policy::{op_matches, Action, Filter, Policy, Rule};

/// Access class bit for reading: file contents and directory listings
/// (`file-read*`; Landlock's read rights).
pub const READ: u8 = 1;
/// Access class bit for writing: file contents, creating, removing and
/// renaming entries (`file-write*`; Landlock's write rights).
pub const WRITE: u8 = 2;
/// Access class bit for executing files (`process-exec`; Landlock's execute
/// right).
pub const EXEC: u8 = 4;

/// A path that stays allowed for some access classes, for itself and
/// everything beneath it unless `literal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The path as the profile wrote it (not resolved); for a `prefix` or
    /// `regex` filter, the directory it was widened to.
    pub path: String,
    /// READ | WRITE | EXEC
    pub access: u8,
    /// From `(literal …)`: the path itself only. On a directory Landlock
    /// can only grant the whole subtree, so enforcement skips such a rule
    /// (stat of the directory keeps working; Landlock never restricts it).
    pub literal: bool,
}

/// What Linux can enforce of a [`Policy`] (Landlock file rules, a seccomp
/// socket rule, a seccomp setuid/setgid rule), and what it cannot.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Access classes denied by default (Landlock "handled" rights).
    pub handled: u8,
    /// Paths (and what beneath them) that stay allowed.
    pub grants: Vec<Grant>,
    /// Deny creating AF_INET/AF_INET6 sockets.
    pub deny_inet: bool,
    /// Deny setting setuid/setgid bits.
    pub deny_setugid: bool,
    /// Approximations that allow more than the profile does.
    pub widened: Vec<String>,
    /// What the profile restricts but Linux cannot.
    pub unenforced: Vec<String>,
}

impl Plan {
    /// Whether the plan enforces the profile exactly: nothing widened and
    /// nothing left unenforced.
    pub fn fully_enforced(&self) -> bool {
        self.unenforced.is_empty() && self.widened.is_empty()
    }
}

const CLASSES: &[(u8, &str, &[&str])] = &[
    (READ, "file-read", &["file-read-data"]),
    (
        WRITE,
        "file-write",
        &["file-write-data", "file-write-create", "file-write-unlink"],
    ),
    (EXEC, "process-exec", &["process-exec"]),
];

/// Operations Linux cannot restrict here, checked for any denial.
const UNENFORCEABLE: &[(&str, &str)] = &[
    (
        "file-read-metadata",
        "stat, readlink and access are never restricted by Landlock",
    ),
    (
        "mach-lookup",
        "Mach services are emulated by Darling in userspace",
    ),
    (
        "mach-register",
        "Mach services are emulated by Darling in userspace",
    ),
    ("sysctl-read", "sysctl is emulated by Darling in userspace"),
    ("sysctl-write", "sysctl is emulated by Darling in userspace"),
    ("iokit-open", "IOKit is emulated by Darling in userspace"),
    ("ipc-posix-shm", "POSIX IPC is not restricted"),
    ("ipc-sysv-shm", "System V IPC is not restricted"),
    ("process-fork", "fork is not restricted"),
    ("signal", "signals are not restricted"),
    (
        "process-info-pidinfo",
        "process information is not restricted",
    ),
    ("file-ioctl", "ioctl is not restricted"),
    ("system-socket", "system sockets are not restricted"),
];

fn applies_unfiltered(r: &Rule, op: &str) -> bool {
    r.filters.is_empty() && r.ops.iter().any(|p| op_matches(p, op))
}

fn applies_filtered(r: &Rule, op: &str) -> bool {
    !r.filters.is_empty() && r.ops.iter().any(|p| op_matches(p, op))
}

/// Index and action of the last unfiltered rule for `op` (macOS denies
/// when there is none).
fn class_default(rules: &[Rule], op: &str) -> (Option<usize>, Action) {
    match rules.iter().rposition(|r| applies_unfiltered(r, op)) {
        Some(i) => (Some(i), rules[i].action),
        None => (None, Action::Deny),
    }
}

fn describe(f: &Filter) -> String {
    match f {
        Filter::Literal(p) => format!("(literal \"{p}\")"),
        Filter::Subpath(p) => format!("(subpath \"{p}\")"),
        Filter::Prefix(p) => format!("(prefix \"{p}\")"),
        Filter::Regex(r) => format!("(regex #\"{r}\")"),
        Filter::GlobalName(n) => format!("(global-name \"{n}\")"),
        Filter::Network {
            remote,
            proto,
            addr,
        } => format!(
            "({} {proto}{})",
            if *remote { "remote" } else { "local" },
            addr.as_ref()
                .map(|a| format!(" \"{a}\""))
                .unwrap_or_default()
        ),
        Filter::UnixSocket { path, .. } => format!("(unix-socket \"{path}\")"),
        Filter::Target(t) => format!("(target {t})"),
        Filter::SysctlName(n) => format!("(sysctl-name \"{n}\")"),
        Filter::Other(n) => format!("({n} …)"),
        Filter::RequireAny(_) => "(require-any …)".into(),
        Filter::RequireAll(_) => "(require-all …)".into(),
        Filter::RequireNot(_) => "(require-not …)".into(),
    }
}

/// The directory part of a regex's literal prefix (`^/dev/pty[a-z]+` → `/dev`).
fn regex_dir(re: &str) -> Option<String> {
    let body = re.strip_prefix('^')?;
    let lit: String = body
        .chars()
        .take_while(|c| !"[](){}.*+?|\\$^".contains(*c))
        .collect();
    let dir = match lit.rfind('/') {
        Some(0) => "/".to_string(),
        Some(i) => lit[..i].to_string(),
        None => return None,
    };
    Some(dir)
}

fn overlaps(a: &str, b: &str) -> bool {
    let within = |x: &str, base: &str| {
        let base = base.trim_end_matches('/');
        base.is_empty()
            || x == base
            || (x.starts_with(base) && x.as_bytes().get(base.len()) == Some(&b'/'))
    };
    within(a, b) || within(b, a)
}

/// Why a filter cannot become Landlock paths.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotPaths {
    /// A regex without a literal directory prefix.
    #[error("{} has no fixed directory", describe(.0))]
    NoFixedDirectory(Filter),
    /// A filter about something other than paths (names, addresses, …).
    #[error("{} cannot be expressed as paths", describe(.0))]
    NotAPath(Filter),
}

/// A path a filter grants: `=path` for a literal, else the directory; a
/// note when it had to be widened. Borrowed from the policy when possible:
/// Nix's profiles have hundreds of subpaths.
type Granted<'a> = (Cow<'a, str>, Option<String>);

/// Paths a filter grants, with a note when it had to be widened.
fn grant_paths<'a>(f: &'a Filter, out: &mut Vec<Granted<'a>>) -> Result<(), NotPaths> {
    match f {
        Filter::Literal(p) => out.push((Cow::Owned(format!("={p}")), None)),
        Filter::Subpath(p) => out.push((Cow::Borrowed(p), None)),
        Filter::Prefix(p) => {
            let dir = p
                .rfind('/')
                .map(|i| {
                    if i == 0 {
                        "/".to_string()
                    } else {
                        p[..i].to_string()
                    }
                })
                .unwrap_or_else(|| "/".into());
            let note = format!("{} widened to everything under {dir}", describe(f));
            out.push((Cow::Owned(dir), Some(note)));
        }
        Filter::Regex(r) => match regex_dir(r) {
            Some(dir) => {
                let note = format!("{} widened to everything under {dir}", describe(f));
                out.push((Cow::Owned(dir), Some(note)))
            }
            None => return Err(NotPaths::NoFixedDirectory(f.clone())),
        },
        Filter::RequireAny(fs) => {
            for f in fs {
                grant_paths(f, out)?;
            }
        }
        other => return Err(NotPaths::NotAPath(other.clone())),
    }
    Ok(())
}

/// Maps a policy onto a [`Plan`]. For each access class the last rule
/// without filters sets the default (deny when there is none); under a
/// denying default, the `allow` rules with path filters after it become
/// grants. IP networking and setuid/setgid bits are decided the same way.
/// Whatever cannot be expressed exactly goes into `widened` or
/// `unenforced`, so this never fails.
pub fn plan(policy: &Policy) -> Plan {
    let rules = &policy.rules;
    let mut p = Plan::default();
    // Path → its access, in first-seen order; sorted at the end. Hashing
    // beats a tree here: Nix's paths share long prefixes.
    let filters: usize = rules.iter().map(|r| r.filters.len()).sum();
    let mut grants: Vec<(Cow<str>, u8)> = Vec::with_capacity(filters);
    let mut grant_index: FastMap<Cow<str>, usize> =
        FastMap::with_capacity_and_hasher(filters, Default::default());
    let mut paths = Vec::new();

    for &(bit, family, reps) in CLASSES {
        let rep = reps[0];
        let (last, action) = class_default(rules, rep);
        let after = last.map(|i| i + 1).unwrap_or(0);
        match action {
            Action::Deny => {
                p.handled |= bit;
                let mut granted: Vec<Cow<str>> = Vec::new();
                for r in &rules[after..] {
                    if !reps.iter().any(|op| applies_filtered(r, op)) {
                        continue;
                    }
                    match r.action {
                        Action::Allow => {
                            for f in &r.filters {
                                paths.clear();
                                match grant_paths(f, &mut paths) {
                                    Ok(()) => {
                                        for (path, note) in paths.drain(..) {
                                            match grant_index.get(&path) {
                                                Some(&i) => grants[i].1 |= bit,
                                                None => {
                                                    grant_index.insert(path.clone(), grants.len());
                                                    grants.push((path.clone(), bit));
                                                }
                                            }
                                            granted.push(path);
                                            if let Some(n) = note {
                                                p.widened
                                                    .push(format!("{family}: {n} ({})", r.origin));
                                            }
                                        }
                                    }
                                    Err(why) => p.unenforced.push(format!(
                                        "{family}: allow {why}; left denied ({})",
                                        r.origin
                                    )),
                                }
                            }
                        }
                        Action::Deny => {
                            for f in &r.filters {
                                paths.clear();
                                let carved = grant_paths(f, &mut paths).is_err()
                                    || paths.iter().any(|(d, _)| {
                                        granted.iter().any(|g| {
                                            overlaps(
                                                g.trim_start_matches('='),
                                                d.trim_start_matches('='),
                                            )
                                        })
                                    });
                                if carved {
                                    p.unenforced.push(format!(
                                        "{family}: deny {} inside an allowed area ({})",
                                        describe(f),
                                        r.origin
                                    ));
                                }
                            }
                        }
                    }
                }
            }
            Action::Allow => {
                for r in &rules[after..] {
                    if r.action == Action::Deny && reps.iter().any(|op| applies_filtered(r, op)) {
                        let what: Vec<String> = r.filters.iter().map(describe).collect();
                        p.unenforced.push(format!(
                            "{family}: deny {} while the default allows ({})",
                            what.join(" "),
                            r.origin
                        ));
                    }
                }
            }
        }
    }
    drop(grant_index);
    // Stable sort: it finds runs already in order (Nix lists its inputs
    // sorted) and merges them in linear time; the keys are unique.
    grants.sort_by(|a, b| a.0.cmp(&b.0));
    p.grants = grants
        .into_iter()
        .map(|(key, access)| match key.strip_prefix('=') {
            Some(path) => Grant {
                path: path.to_string(),
                access,
                literal: true,
            },
            None => Grant {
                path: key.into_owned(),
                access,
                literal: false,
            },
        })
        .collect();

    // Networking: IP sockets can be refused as a whole, not by address.
    let (last, action) = class_default(rules, "network-outbound");
    let after = last.map(|i| i + 1).unwrap_or(0);
    if action == Action::Deny {
        let ip_allows: Vec<&Rule> = rules[after..]
            .iter()
            .filter(|r| {
                r.action == Action::Allow
                    && ["network-outbound", "network-inbound", "network-bind"]
                        .iter()
                        .any(|op| applies_filtered(r, op))
                    && r.filters
                        .iter()
                        .any(|f| matches!(f, Filter::Network { .. }))
            })
            .collect();
        if ip_allows.is_empty() {
            p.deny_inet = true;
        } else {
            for r in ip_allows {
                let what: Vec<String> = r
                    .filters
                    .iter()
                    .filter(|f| matches!(f, Filter::Network { .. }))
                    .map(describe)
                    .collect();
                p.unenforced.push(format!(
                    "network: only {} is allowed, but all IP networking stays open ({})",
                    what.join(" "),
                    r.origin
                ));
            }
        }
    } else {
        for r in &rules[after..] {
            if r.action == Action::Deny && applies_filtered(r, "network-outbound") {
                // "All IP" (no address) is what a socket rule can refuse.
                let all_ip = r.filters.iter().all(|f| matches!(f, Filter::Network { addr: None, proto, .. } if proto.starts_with("ip")));
                if all_ip {
                    p.deny_inet = true;
                } else {
                    p.unenforced.push(format!(
                        "network: deny with filters while the default allows ({})",
                        r.origin
                    ));
                }
            }
        }
    }
    if p.deny_inet && action == Action::Deny {
        p.unenforced
            .push("network: unix-domain sockets stay allowed (Darling's own IPC uses them)".into());
    }

    // setuid/setgid bits.
    let (_, action) = class_default(rules, "file-write-setugid");
    p.deny_setugid = action == Action::Deny;

    // Everything else that the profile denies somewhere.
    for &(op, why) in UNENFORCEABLE {
        let (last, action) = class_default(rules, op);
        let after = last.map(|i| i + 1).unwrap_or(0);
        let denied = action == Action::Deny
            || rules[after..]
                .iter()
                .any(|r| r.action == Action::Deny && applies_filtered(r, op));
        if denied {
            p.unenforced.push(format!("{op}: {why}"));
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{evaluate, Options};

    fn plan_of(src: &str) -> Plan {
        plan(&evaluate(src, "t.sb", &Options::default()).unwrap())
    }

    #[test]
    fn minimal_profile_is_fully_enforceable() {
        let p = plan_of("(version 1)\n(allow default)\n(deny file-write-setugid)\n");
        assert_eq!(p.handled, 0);
        assert!(p.deny_setugid && !p.deny_inet);
        assert!(p.fully_enforced(), "{p:?}");
    }

    #[test]
    fn deny_default_with_subpaths() {
        let p = plan_of(
            "(version 1)(deny default)(allow file-read* (subpath \"/nix/store/a\") (literal \"/etc/hosts\"))\n\
             (allow file* process-exec (subpath \"/tmp/b\"))(allow file-read* (regex #\"^/dev/pty[a-z]+\"))",
        );
        assert_eq!(p.handled, READ | WRITE | EXEC);
        let g = |path: &str| p.grants.iter().find(|g| g.path == path).map(|g| g.access);
        assert!(p.grants.iter().any(|g| g.path == "/etc/hosts" && g.literal));
        assert_eq!(g("/nix/store/a"), Some(READ));
        assert_eq!(g("/etc/hosts"), Some(READ));
        assert_eq!(g("/tmp/b"), Some(READ | WRITE | EXEC));
        assert_eq!(g("/dev"), Some(READ));
        assert_eq!(p.widened.len(), 1);
        assert!(p.deny_inet && p.deny_setugid);
        assert!(p.unenforced.iter().any(|u| u.starts_with("mach-lookup")));
    }

    #[test]
    fn filters_that_are_not_paths_are_typed_and_reported() {
        let mut out = Vec::new();
        let g = Filter::GlobalName("com.apple.x".into());
        assert_eq!(
            grant_paths(&g, &mut out),
            Err(NotPaths::NotAPath(g.clone()))
        );
        let r = Filter::Regex("foo.*".into());
        assert_eq!(
            grant_paths(&r, &mut out),
            Err(NotPaths::NoFixedDirectory(r.clone()))
        );
        assert!(out.is_empty());
        let p = plan_of(
            "(version 1)(deny default)(allow file-read* (global-name \"com.apple.x\") (regex #\"foo.*\"))",
        );
        assert!(p.unenforced.contains(
            &"file-read: allow (global-name \"com.apple.x\") cannot be expressed as paths; left denied (t.sb:1:26)"
                .to_string()
        ), "{:?}", p.unenforced);
        assert!(p.unenforced.contains(
            &"file-read: allow (regex #\"foo.*\") has no fixed directory; left denied (t.sb:1:26)"
                .to_string()
        ), "{:?}", p.unenforced);
    }

    #[test]
    fn carve_outs_and_localhost_networking_are_reported() {
        let p = plan_of(
            "(version 1)(deny default)(allow file-read* (subpath \"/usr\"))(deny file-read* (subpath \"/usr/local\"))\n\
             (allow network* (remote ip \"localhost:*\"))",
        );
        assert!(
            p.unenforced
                .iter()
                .any(|u| u.contains("deny (subpath \"/usr/local\") inside an allowed area")),
            "{:?}",
            p.unenforced
        );
        assert!(!p.deny_inet);
        assert!(p.unenforced.iter().any(|u| u.starts_with("network: only")));
        let q = plan_of("(version 1)(allow default)(deny file-write* (subpath \"/etc\"))");
        assert!(q
            .unenforced
            .iter()
            .any(|u| u.contains("while the default allows")));
    }
}
