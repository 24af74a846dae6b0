//! The evaluated policy: an ordered list of rules where the last matching
//! rule wins, and the question "is this operation on this resource allowed?".

use regex::Regex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Allow,
    Deny,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    Literal(String),
    Subpath(String),
    Prefix(String),
    Regex(String),
    GlobalName(String),
    /// `(local ip "host:port")`, `(remote ip)`, `(local tcp …)`: the
    /// direction, the protocol word and the address pattern if any.
    Network {
        remote: bool,
        proto: String,
        addr: Option<String>,
    },
    UnixSocket {
        remote: bool,
        path: String,
    },
    Target(String),
    SysctlName(String),
    /// Any other filter (vnode-type, extension, …), kept by name.
    Other(String),
    RequireAny(Vec<Filter>),
    RequireAll(Vec<Filter>),
    RequireNot(Box<Filter>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub action: Action,
    /// Operation names as written (`file-read*`, `default`, …).
    pub ops: Vec<String>,
    /// OR'ed; empty means "everywhere".
    pub filters: Vec<Filter>,
    pub modifiers: Vec<String>,
    /// Where the rule was written, for messages.
    pub origin: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    pub version: Option<i64>,
    pub rules: Vec<Rule>,
}

/// What an operation is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource<'a> {
    Path(&'a str),
    GlobalName(&'a str),
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
