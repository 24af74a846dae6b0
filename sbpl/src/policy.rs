//! The evaluated policy: an ordered list of rules where the last matching
//! rule wins, and the question "is this operation on this resource allowed?".

use regex::Regex;

/// What a rule decides for the requests it applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `(allow …)`: the operation is permitted.
    Allow,
    /// `(deny …)`: the operation is refused.
    Deny,
}

/// What a rule is restricted to. [`Filter::matches`] checks path and
/// global-name filters; the others are kept for the planner and messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// `(literal "/p")` or `(path-literal "/p")`: exactly this path.
    Literal(String),
    /// `(subpath "/p")`: the path and everything beneath it, by whole
    /// components (`/nix/store` does not cover `/nix/storefront`).
    Subpath(String),
    /// `(prefix "/p")`: any path that starts with this text.
    Prefix(String),
    /// `(regex #"…")`: paths the regular expression matches anywhere
    /// (anchor with `^`), in the `regex` crate's syntax; checked to compile
    /// when evaluated.
    Regex(String),
    /// `(global-name "…")`: a Mach service name, as `mach-lookup` asks for.
    /// `global-name-regex` and `local-name` land here too, their text
    /// compared as is.
    GlobalName(String),
    /// `(local ip "host:port")`, `(remote ip)`, `(local tcp …)`: the
    /// direction, the protocol word and the address pattern if any.
    Network {
        /// `remote` (the peer's address) rather than `local` (our own).
        remote: bool,
        /// The protocol word: `ip`, `tcp` or `udp`, optionally with `4`/`6`.
        proto: String,
        /// `host:port`, where host is an IP address, `localhost` or `*` and
        /// port a number or `*`; `None` for any address.
        addr: Option<String>,
    },
    /// `(local unix-socket …)` or `(remote unix-socket …)`: a unix-domain
    /// socket.
    UnixSocket {
        /// `remote` (the peer's socket) rather than `local` (our own).
        remote: bool,
        /// The socket's path, from a path filter or string argument; empty
        /// when none was given.
        path: String,
    },
    /// `(target …)`: whom a process or signal operation is aimed at
    /// (`self`, `others`, …), as written.
    Target(String),
    /// `(sysctl-name "…")` or `(sysctl-name-prefix "…")`: a sysctl name.
    SysctlName(String),
    /// Any other filter (vnode-type, extension, …), kept by name.
    Other(String),
    /// `(require-any …)`: matches when any of the filters does.
    RequireAny(Vec<Filter>),
    /// `(require-all …)`: matches when all of the filters do.
    RequireAll(Vec<Filter>),
    /// `(require-not …)`: matches when the filter does not.
    RequireNot(Box<Filter>),
}

/// One `allow` or `deny` form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Whether the rule allows or denies.
    pub action: Action,
    /// Operation names as written (`file-read*`, `default`, …).
    pub ops: Vec<String>,
    /// OR'ed; empty means "everywhere".
    pub filters: Vec<Filter>,
    /// Names given with `(with …)` (`report`, `no-log`, …); kept, not acted
    /// on.
    pub modifiers: Vec<String>,
    /// Where the rule was written, for messages.
    pub origin: String,
}

/// An evaluated profile: its rules in evaluation order, imported files'
/// rules where the import stood. The last rule that applies decides; when
/// none does, the answer is deny.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    /// The number given by `(version …)` (only 1 is accepted); `None` when
    /// the profile has no such form.
    pub version: Option<i64>,
    /// Every `allow`/`deny`, in evaluation order.
    pub rules: Vec<Rule>,
}

/// What an operation is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource<'a> {
    /// A file system path, as the request names it (not resolved).
    Path(&'a str),
    /// A Mach service name.
    GlobalName(&'a str),
    /// No resource (a process or system operation): no path or name filter
    /// matches it.
    Nothing,
}

/// Whether rule operation `pattern` covers requested operation `op`.
pub fn op_matches(pattern: &str, op: &str) -> bool {
    if pattern == "default" {
        return true;
    }
    match pattern.strip_suffix('*') {
        Some(prefix) => op.starts_with(prefix),
        None => pattern == op,
    }
}

fn subpath_matches(base: &str, path: &str) -> bool {
    let base = base.trim_end_matches('/');
    base.is_empty()
        || path == base
        || (path.starts_with(base) && path.as_bytes().get(base.len()) == Some(&b'/'))
}

impl Filter {
    /// Whether this filter matches `r`: path filters against a
    /// [`Resource::Path`], `GlobalName` against a [`Resource::GlobalName`],
    /// and the `require-*` combinators over those. Every other filter
    /// matches nothing.
    pub fn matches(&self, r: &Resource) -> bool {
        match (self, r) {
            (Filter::Literal(p), Resource::Path(x)) => p == x,
            (Filter::Subpath(p), Resource::Path(x)) => subpath_matches(p, x),
            (Filter::Prefix(p), Resource::Path(x)) => x.starts_with(p.as_str()),
            (Filter::Regex(re), Resource::Path(x)) => {
                Regex::new(re).map(|r| r.is_match(x)).unwrap_or(false)
            }
            (Filter::GlobalName(n), Resource::GlobalName(x)) => n == x,
            (Filter::RequireAny(fs), r) => fs.iter().any(|f| f.matches(r)),
            (Filter::RequireAll(fs), r) => fs.iter().all(|f| f.matches(r)),
            (Filter::RequireNot(f), r) => !f.matches(r),
            _ => false,
        }
    }
}

impl Rule {
    /// Whether this rule covers operation `op` on `r`: one of its operation
    /// patterns covers `op` ([`op_matches`]), and it has no filters or one of
    /// them matches.
    pub fn applies(&self, op: &str, r: &Resource) -> bool {
        self.ops.iter().any(|p| op_matches(p, op))
            && (self.filters.is_empty() || self.filters.iter().any(|f| f.matches(r)))
    }
}

impl Policy {
    /// The decision for `op` on `r`: the last rule that applies, else deny.
    pub fn decide(&self, op: &str, r: &Resource) -> Action {
        self.rules
            .iter()
            .rev()
            .find(|rule| rule.applies(op, r))
            .map(|rule| rule.action)
            .unwrap_or(Action::Deny)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_and_subpaths() {
        assert!(op_matches("file*", "file-read-data"));
        assert!(op_matches("file-read*", "file-read-metadata"));
        assert!(!op_matches("file-read*", "file-write-data"));
        assert!(op_matches("default", "mach-lookup"));
        assert!(subpath_matches("/nix/store", "/nix/store/abc"));
        assert!(!subpath_matches("/nix/store", "/nix/storefront"));
        assert!(subpath_matches("/", "/anything"));
    }
}
