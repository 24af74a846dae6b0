//! A small evaluator for the SBPL subset Nix and nixpkgs write: `version`,
//! `allow`/`deny`, `define` (values and simple functions), `param`, `if`,
//! `begin`, `let`, `import`, `string-append`, boolean helpers, the filters
//! and the `with` modifiers. Not a Scheme: anything else is an error with
//! a position, as libsandbox's would be.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::error::{Error, Pos, IMPORT_POS, PRELUDE};
use crate::policy::{Action, Filter, Policy, Rule};
use crate::reader::{self, Datum, Node};

/// Where profiles come from and what they may import.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `-D key=value` parameters.
    pub params: BTreeMap<String, String>,
    /// Directories searched for relative imports (after `IMPORT_DIR`).
    pub import_paths: Vec<PathBuf>,
}

#[derive(Debug, Clone)]
enum Value {
    Str(String),
    Bool(bool),
    Int(i64),
    Regex(String),
    Filter(Filter),
    Modifier(String),
    Lambda(Rc<[String]>, Rc<[Node]>),
    Unspecified,
}

impl Value {
    fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Regex(_) => "regex",
            Value::Filter(_) => "filter",
            Value::Modifier(_) => "modifier",
            Value::Lambda(..) => "procedure",
            Value::Unspecified => "unspecified",
        }
    }
    /// Roughly the bytes cloning this value copies (lambdas are shared).
    fn size(&self) -> usize {
        match self {
            Value::Str(s) | Value::Regex(s) | Value::Modifier(s) => s.len(),
            Value::Filter(f) => filter_size(f),
            Value::Bool(_) | Value::Int(_) | Value::Lambda(..) | Value::Unspecified => 0,
        }
    }
    fn truthy(&self) -> bool {
        !matches!(self, Value::Bool(false))
    }
}

/// Every operation name we know; anything else is an unbound variable.
pub const OPERATIONS: &[&str] = &[
    "default",
    "file*",
    "file-read*",
    "file-read-data",
    "file-read-metadata",
    "file-read-xattr",
    "file-write*",
    "file-write-data",
    "file-write-create",
    "file-write-unlink",
    "file-write-mode",
    "file-write-owner",
    "file-write-times",
    "file-write-xattr",
    "file-write-flags",
    "file-write-setugid",
    "file-ioctl",
    "file-link",
    "file-revoke",
    "file-chroot",
    "file-clone",
    "file-mknod",
    "file-mount",
    "file-unmount",
    "file-search",
    "file-issue-extension",
    "process*",
    "process-exec",
    "process-exec*",
    "process-exec-interpreter",
    "process-fork",
    "process-info*",
    "process-info-pidinfo",
    "process-info-setcontrol",
    "process-info-dirtycontrol",
    "process-info-codesignature",
    "process-info-listpids",
    "process-info-rusage",
    "process-codesigning*",
    "signal",
    "sysctl*",
    "sysctl-read",
    "sysctl-write",
    "ipc*",
    "ipc-posix*",
    "ipc-posix-sem",
    "ipc-posix-shm",
    "ipc-posix-shm-read-data",
    "ipc-posix-shm-write-data",
    "ipc-posix-shm-read*",
    "ipc-posix-shm-write*",
    "ipc-sysv*",
    "ipc-sysv-msg",
    "ipc-sysv-sem",
    "ipc-sysv-shm",
    "system*",
    "system-socket",
    "system-audit",
    "system-sched",
    "system-fsctl",
    "system-info",
    "system-privilege",
    "system-set-time",
    "network*",
    "network-inbound",
    "network-outbound",
    "network-bind",
    "mach*",
    "mach-lookup",
    "mach-register",
    "mach-priv*",
    "mach-priv-task-port",
    "mach-priv-host-port",
    "mach-task-name",
    "mach-per-user-lookup",
    "iokit*",
    "iokit-open",
    "iokit-set-properties",
    "iokit-get-properties",
    "job-creation",
    "lsopen",
    "nvram*",
    "user-preference*",
    "user-preference-read",
    "user-preference-write",
    "authorization-right-obtain",
    "distributed-notification-post",
    "appleevent-send",
    "pseudo-tty",
    "hid-control",
    "darwin-notification-post",
];

const MAX_IMPORT_DEPTH: usize = 16;
const MAX_CALL_DEPTH: usize = 64;

/// Bounds on the work one evaluation may do, so that a hostile profile ends
/// in a positioned error instead of a hang, a stack overflow or an aborted
/// allocation.
#[derive(Debug, Clone, Copy)]
struct Limits {
    /// Evaluation steps in total (one per form evaluated, plus one per
    /// [`STR_BYTES_PER_STEP`] bytes of string copied).
    steps: u64,
    /// Forms being evaluated at once, across procedure calls and imports.
    depth: usize,
    /// Bytes in one string built by `string-append`.
    string_len: usize,
}

/// The limits every profile is evaluated under. A generated Nix profile
/// with thousands of paths takes a few tens of thousands of steps and a
/// depth of about ten.
const LIMITS: Limits = Limits {
    steps: 5_000_000,
    depth: 512,
    string_len: 1 << 20,
};

/// Copying this many bytes of a value costs one evaluation step.
const STR_BYTES_PER_STEP: usize = 16;

/// Roughly the bytes cloning `f` copies: its text plus 64 bytes a node.
fn filter_size(f: &Filter) -> usize {
    64 + match f {
        Filter::Literal(s)
        | Filter::Subpath(s)
        | Filter::Prefix(s)
        | Filter::Regex(s)
        | Filter::GlobalName(s)
        | Filter::Target(s)
        | Filter::SysctlName(s)
        | Filter::Other(s) => s.len(),
        Filter::Network { proto, addr, .. } => proto.len() + addr.as_ref().map_or(0, String::len),
        Filter::UnixSocket { path, .. } => path.len(),
        Filter::RequireAny(fs) | Filter::RequireAll(fs) => fs.iter().map(filter_size).sum(),
        Filter::RequireNot(f) => filter_size(f),
    }
}

struct Eval<'o> {
    opts: &'o Options,
    scopes: Vec<BTreeMap<String, Value>>,
    policy: Policy,
    imports: usize,
    calls: usize,
    limits: Limits,
    steps: u64,
    depth: usize,
}

fn err(file: &str, pos: Pos, msg: impl Into<String>) -> Error {
    Error::at(file, pos, msg)
}

/// Evaluates profile text. `file` names it in errors and locates relative
/// imports when it is a path.
pub fn evaluate(src: &str, file: &str, opts: &Options) -> Result<Policy, Error> {
    evaluate_limited(src, file, opts, LIMITS)
}

fn evaluate_limited(
    src: &str,
    file: &str,
    opts: &Options,
    limits: Limits,
) -> Result<Policy, Error> {
    let mut e = Eval {
        opts,
        scopes: vec![BTreeMap::new()],
        policy: Policy::default(),
        imports: 0,
        calls: 0,
        limits,
        steps: 0,
        depth: 0,
    };
    e.run(src, file)?;
    Ok(e.policy)
}

/// Evaluates a profile file.
pub fn evaluate_file(path: &Path, opts: &Options) -> Result<Policy, Error> {
    let name = path.display().to_string();
    let src =
        std::fs::read_to_string(path).map_err(|e| err(&name, Pos::default(), e.to_string()))?;
    evaluate(&src, &name, opts)
}

impl Eval<'_> {
    fn run(&mut self, src: &str, file: &str) -> Result<(), Error> {
        for node in reader::read_all(src, file)? {
            self.top(&node, file)?;
        }
        Ok(())
    }

    fn lookup(&self, name: &str) -> Option<&Value> {
        self.scopes.iter().rev().find_map(|s| s.get(name))
    }

    /// A top-level (or `begin`/`if` body) form: may produce rules.
    fn top(&mut self, node: &Node, file: &str) -> Result<(), Error> {
        self.eval(node, file).map(|_| ())
    }

    /// Charges `n` evaluation steps, failing at `pos` past the budget.
    fn charge(&mut self, n: u64, file: &str, pos: Pos) -> Result<(), Error> {
        self.steps = self.steps.saturating_add(n);
        if self.steps > self.limits.steps {
            return Err(err(
                file,
                pos,
                format!(
                    "evaluation exceeds {} steps (runaway recursion?)",
                    self.limits.steps
                ),
            ));
        }
        Ok(())
    }

    fn eval(&mut self, node: &Node, file: &str) -> Result<Value, Error> {
        self.charge(1, file, node.pos)?;
        if self.depth >= self.limits.depth {
            return Err(err(
                file,
                node.pos,
                format!("evaluation nested more than {} deep", self.limits.depth),
            ));
        }
        self.depth += 1;
        let r = self.eval_inner(node, file);
        self.depth -= 1;
        let v = r?;
        self.charge((v.size() / STR_BYTES_PER_STEP) as u64, file, node.pos)?;
        Ok(v)
    }

    fn eval_inner(&mut self, node: &Node, file: &str) -> Result<Value, Error> {
        match &node.datum {
            Datum::Str(s) => Ok(Value::Str(s.clone())),
            Datum::Bool(b) => Ok(Value::Bool(*b)),
            Datum::Int(i) => Ok(Value::Int(*i)),
            Datum::Regex(r) => Ok(Value::Regex(r.clone())),
            Datum::Symbol(s) => self
                .lookup(s)
                .cloned()
                .ok_or_else(|| Error::unbound(file, node.pos, s)),
            Datum::List(items) => self.call(node, items, file),
        }
    }

    fn string(&mut self, node: &Node, file: &str, what: &str) -> Result<String, Error> {
        match self.eval(node, file)? {
            Value::Str(s) => Ok(s),
            v => Err(err(
                file,
                node.pos,
                format!(
                    "invalid data type of {what}; expected string, got {}",
                    v.type_name()
                ),
            )),
        }
    }

    fn path_pattern(&mut self, node: &Node, file: &str) -> Result<String, Error> {
        match self.eval(node, file)? {
            Value::Str(s) => Ok(s),
            v => Err(err(
                file,
                node.pos,
                format!(
                    "invalid data type of path filter; expected pattern, got {}",
                    v.type_name()
                ),
            )),
        }
    }

    fn call(&mut self, node: &Node, items: &[Node], file: &str) -> Result<Value, Error> {
        let Some(head) = items.first() else {
            return Err(err(file, node.pos, "empty application"));
        };
        let args = &items[1..];
        let name = match head.symbol() {
            Some(n) => n,
            None => return Err(err(file, head.pos, "illegal function")),
        };
        if let Some(v) = self.special_form(name, node, args, file)? {
            return Ok(v);
        }
        if let Some(v) = self.builtin(name, node, args, file)? {
            return Ok(v);
        }
        if let Some(v) = self.filter(name, node, args, file)? {
            return Ok(v);
        }
        self.procedure(name, head, node, args, file)
    }

    /// Forms that define, decide or add rules: `version`, `allow`/`deny`,
    /// `define`, `param`, `if`, `when`/`unless`, `begin`, `let`, `import`.
    /// `Ok(None)`: not one of them (likewise below).
    fn special_form(
        &mut self,
        name: &str,
        node: &Node,
        args: &[Node],
        file: &str,
    ) -> Result<Option<Value>, Error> {
        let v = match name {
            "version" => {
                let v = match args.first().map(|a| self.eval(a, file)).transpose()? {
                    Some(Value::Int(v)) => v,
                    _ => return Err(err(file, node.pos, "version: expected an integer")),
                };
                if v != 1 {
                    return Err(err(
                        file,
                        node.pos,
                        format!("unsupported SBPL version {v} (only 1)"),
                    ));
                }
                self.policy.version = Some(v);
                Ok(Value::Unspecified)
            }
            "allow" | "deny" => {
                self.rule(
                    if name == "allow" {
                        Action::Allow
                    } else {
                        Action::Deny
                    },
                    node,
                    args,
                    file,
                )?;
                Ok(Value::Unspecified)
            }
            "define" | "define-once" => {
                let Some(target) = args.first() else {
                    return Err(err(file, node.pos, "define: missing name"));
                };
                match &target.datum {
                    Datum::Symbol(n) => {
                        if name == "define-once" && self.lookup(n).is_some() {
                            return Ok(Some(Value::Unspecified));
                        }
                        let v = match args.get(1) {
                            Some(e) => self.eval(e, file)?,
                            None => Value::Unspecified,
                        };
                        self.scopes.last_mut().expect("scope").insert(n.clone(), v);
                    }
                    Datum::List(sig) => {
                        let names: Option<Vec<String>> =
                            sig.iter().map(|n| n.symbol().map(str::to_string)).collect();
                        let Some(names) = names.filter(|n| !n.is_empty()) else {
                            return Err(err(file, target.pos, "define: bad procedure signature"));
                        };
                        self.scopes.last_mut().expect("scope").insert(
                            names[0].clone(),
                            Value::Lambda(names[1..].into(), args[1..].into()),
                        );
                    }
                    _ => return Err(err(file, target.pos, "define: bad name")),
                }
                Ok(Value::Unspecified)
            }
            "param" => {
                let key = self.string(
                    args.first()
                        .ok_or_else(|| err(file, node.pos, "param: missing name"))?,
                    file,
                    "param",
                )?;
                Ok(self
                    .opts
                    .params
                    .get(&key)
                    .map(|v| Value::Str(v.clone()))
                    .unwrap_or(Value::Bool(false)))
            }
            "if" => {
                let c = self.eval(
                    args.first()
                        .ok_or_else(|| err(file, node.pos, "if: missing condition"))?,
                    file,
                )?;
                match if c.truthy() { args.get(1) } else { args.get(2) } {
                    Some(n) => self.eval(n, file),
                    None => Ok(Value::Unspecified),
                }
            }
            "when" | "unless" => {
                let c = self.eval(
                    args.first()
                        .ok_or_else(|| err(file, node.pos, "missing condition"))?,
                    file,
                )?;
                if c.truthy() == (name == "when") {
                    self.body(&args[1..], file)
                } else {
                    Ok(Value::Unspecified)
                }
            }
            "begin" => self.body(args, file),
            "let" | "let*" => {
                let Some(binds) = args.first().and_then(Node::list) else {
                    return Err(err(file, node.pos, "let: bad bindings"));
                };
                self.scopes.push(BTreeMap::new());
                for b in binds {
                    let pair = b
                        .list()
                        .filter(|p| p.len() == 2)
                        .ok_or_else(|| err(file, b.pos, "let: bad binding"))?;
                    let n = pair[0]
                        .symbol()
                        .ok_or_else(|| err(file, pair[0].pos, "let: bad name"))?
                        .to_string();
                    let v = self.eval(&pair[1], file)?;
                    self.scopes.last_mut().expect("scope").insert(n, v);
                }
                let r = self.body(&args[1..], file);
                self.scopes.pop();
                r
            }
            "import" => {
                let target = self.string(
                    args.first()
                        .ok_or_else(|| err(file, node.pos, "import: missing file"))?,
                    file,
                    "import",
                )?;
                self.import(&target, file)?;
                Ok(Value::Unspecified)
            }
            _ => return Ok(None),
        };
        v.map(Some)
    }

    /// Plain functions on values: strings, booleans, `quote`, `with`.
    fn builtin(
        &mut self,
        name: &str,
        node: &Node,
        args: &[Node],
        file: &str,
    ) -> Result<Option<Value>, Error> {
        let v = match name {
            "string-append" => {
                let mut s = String::new();
                for a in args {
                    let part = self.string(a, file, "string-append argument")?;
                    if s.len().saturating_add(part.len()) > self.limits.string_len {
                        return Err(err(
                            file,
                            node.pos,
                            format!(
                                "string-append: result longer than {} bytes",
                                self.limits.string_len
                            ),
                        ));
                    }
                    s.push_str(&part);
                }
                Ok(Value::Str(s))
            }
            "not" => Ok(Value::Bool(
                !self
                    .eval(
                        args.first()
                            .ok_or_else(|| err(file, node.pos, "not: missing argument"))?,
                        file,
                    )?
                    .truthy(),
            )),
            "and" => {
                let mut last = Value::Bool(true);
                for a in args {
                    last = self.eval(a, file)?;
                    if !last.truthy() {
                        return Ok(Some(last));
                    }
                }
                Ok(last)
            }
            "or" => {
                for a in args {
                    let v = self.eval(a, file)?;
                    if v.truthy() {
                        return Ok(Some(v));
                    }
                }
                Ok(Value::Bool(false))
            }
            "equal?" | "string=?" | "eq?" => {
                let (a, b) = match args {
                    [a, b] => (self.eval(a, file)?, self.eval(b, file)?),
                    _ => {
                        return Err(err(
                            file,
                            node.pos,
                            format!("{name}: expected two arguments"),
                        ))
                    }
                };
                Ok(Value::Bool(match (a, b) {
                    (Value::Str(a), Value::Str(b)) => a == b,
                    (Value::Int(a), Value::Int(b)) => a == b,
                    (Value::Bool(a), Value::Bool(b)) => a == b,
                    _ => false,
                }))
            }
            "quote" => match args.first().map(|a| &a.datum) {
                Some(Datum::Symbol(s)) => Ok(Value::Str(s.clone())),
                _ => Err(err(file, node.pos, "quote: only symbols are supported")),
            },
            "with" => {
                let m = args
                    .first()
                    .and_then(Node::symbol)
                    .ok_or_else(|| err(file, node.pos, "with: expected a modifier name"))?;
                Ok(Value::Modifier(m.to_string()))
            }
            "debug" | "trace" => Ok(Value::Unspecified),
            _ => return Ok(None),
        };
        v.map(Some)
    }

    /// Filters: paths, names, network addresses, `target`, the
    /// `require-*` combinators.
    fn filter(
        &mut self,
        name: &str,
        node: &Node,
        args: &[Node],
        file: &str,
    ) -> Result<Option<Value>, Error> {
        let v = match name {
            "literal" | "subpath" | "prefix" | "path-literal" => {
                let p = self.path_pattern(
                    args.first()
                        .ok_or_else(|| err(file, node.pos, format!("{name}: missing path")))?,
                    file,
                )?;
                Ok(Value::Filter(match name {
                    "literal" | "path-literal" => Filter::Literal(p),
                    "subpath" => Filter::Subpath(p),
                    _ => Filter::Prefix(p),
                }))
            }
            "regex" => {
                let a = args
                    .first()
                    .ok_or_else(|| err(file, node.pos, "regex: missing pattern"))?;
                let r = match self.eval(a, file)? {
                    Value::Regex(r) | Value::Str(r) => r,
                    v => {
                        return Err(err(
                            file,
                            a.pos,
                            format!(
                                "invalid data type of regex filter; expected regex, got {}",
                                v.type_name()
                            ),
                        ))
                    }
                };
                if regex::Regex::new(&r).is_err() {
                    return Err(err(file, a.pos, format!("invalid regular expression: {r}")));
                }
                Ok(Value::Filter(Filter::Regex(r)))
            }
            "global-name" | "global-name-regex" | "local-name" => {
                let n = self.string(
                    args.first()
                        .ok_or_else(|| err(file, node.pos, format!("{name}: missing name")))?,
                    file,
                    name,
                )?;
                Ok(Value::Filter(Filter::GlobalName(n)))
            }
            "local" | "remote" => {
                let remote = name == "remote";
                let proto = args.first().and_then(Node::symbol).ok_or_else(|| {
                    err(
                        file,
                        node.pos,
                        format!("{name}: expected ip, tcp, udp or unix-socket"),
                    )
                })?;
                match proto {
                    "ip" | "ip4" | "ip6" | "tcp" | "tcp4" | "tcp6" | "udp" | "udp4" | "udp6" => {
                        let addr = match args.get(1) {
                            Some(a) => Some(self.string(a, file, "network address")?),
                            None => None,
                        };
                        if let Some(a) = &addr {
                            check_address(a).map_err(|e| err(file, args[1].pos, e.to_string()))?;
                        }
                        Ok(Value::Filter(Filter::Network {
                            remote,
                            proto: proto.to_string(),
                            addr,
                        }))
                    }
                    "unix-socket" | "unix" => {
                        let path = match args.get(1).map(|a| self.eval(a, file)).transpose()? {
                            Some(Value::Filter(Filter::Literal(p))) | Some(Value::Str(p)) => p,
                            Some(Value::Filter(Filter::Subpath(p))) => p,
                            None => String::new(),
                            Some(v) => {
                                return Err(err(
                                    file,
                                    node.pos,
                                    format!(
                                        "unix-socket: expected a path filter, got {}",
                                        v.type_name()
                                    ),
                                ))
                            }
                        };
                        Ok(Value::Filter(Filter::UnixSocket { remote, path }))
                    }
                    other => Err(Error::unbound(file, args[0].pos, other)),
                }
            }
            "target" => {
                let t = args
                    .first()
                    .and_then(Node::symbol)
                    .ok_or_else(|| err(file, node.pos, "target: expected a symbol"))?;
                Ok(Value::Filter(Filter::Target(t.to_string())))
            }
            "sysctl-name" | "sysctl-name-prefix" => {
                let n = self.string(
                    args.first()
                        .ok_or_else(|| err(file, node.pos, "sysctl-name: missing name"))?,
                    file,
                    name,
                )?;
                Ok(Value::Filter(Filter::SysctlName(n)))
            }
            "vnode-type"
            | "file-mode"
            | "extension"
            | "extension-class"
            | "signing-identifier"
            | "ipc-posix-name"
            | "iokit-user-client-class"
            | "preference-domain" => Ok(Value::Filter(Filter::Other(name.to_string()))),
            "require-any" | "require-all" => {
                let mut fs = Vec::new();
                for a in args {
                    match self.eval(a, file)? {
                        Value::Filter(f) => fs.push(f),
                        v => {
                            return Err(err(
                                file,
                                a.pos,
                                format!("{name}: expected a filter, got {}", v.type_name()),
                            ))
                        }
                    }
                }
                Ok(Value::Filter(if name == "require-any" {
                    Filter::RequireAny(fs)
                } else {
                    Filter::RequireAll(fs)
                }))
            }
            "require-not" => match args.first().map(|a| self.eval(a, file)).transpose()? {
                Some(Value::Filter(f)) => Ok(Value::Filter(Filter::RequireNot(Box::new(f)))),
                _ => Err(err(file, node.pos, "require-not: expected a filter")),
            },
            _ => return Ok(None),
        };
        v.map(Some)
    }

    /// A procedure made with `(define (f x) …)`, or an error naming what
    /// `name` is.
    fn procedure(
        &mut self,
        name: &str,
        head: &Node,
        node: &Node,
        args: &[Node],
        file: &str,
    ) -> Result<Value, Error> {
        match self.lookup(name).cloned() {
            Some(Value::Lambda(params, body)) => {
                if params.len() != args.len() {
                    return Err(err(
                        file,
                        node.pos,
                        format!(
                            "{name}: expected {} arguments, got {}",
                            params.len(),
                            args.len()
                        ),
                    ));
                }
                if self.calls >= MAX_CALL_DEPTH {
                    return Err(err(file, node.pos, "procedure calls nested too deeply"));
                }
                let mut scope = BTreeMap::new();
                for (p, a) in params.iter().zip(args) {
                    scope.insert(p.clone(), self.eval(a, file)?);
                }
                self.calls += 1;
                self.scopes.push(scope);
                let r = self.body(&body, file);
                self.scopes.pop();
                self.calls -= 1;
                r
            }
            Some(v) => Err(err(
                file,
                head.pos,
                format!("illegal function: {name} is a {}", v.type_name()),
            )),
            None => Err(Error::unbound(file, head.pos, name)),
        }
    }

    fn body(&mut self, nodes: &[Node], file: &str) -> Result<Value, Error> {
        let mut last = Value::Unspecified;
        for n in nodes {
            last = self.eval(n, file)?;
        }
        Ok(last)
    }

    fn rule(
        &mut self,
        action: Action,
        node: &Node,
        args: &[Node],
        file: &str,
    ) -> Result<(), Error> {
        let mut rule = Rule {
            action,
            ops: Vec::new(),
            filters: Vec::new(),
            modifiers: Vec::new(),
            origin: format!("{file}:{}:{}", node.pos.line, node.pos.col),
        };
        for a in args {
            if let Some(sym) = a.symbol() {
                if OPERATIONS.contains(&sym) {
                    rule.ops.push(sym.to_string());
                    continue;
                }
            }
            match self.eval(a, file)? {
                Value::Filter(f) => rule.filters.push(f),
                Value::Modifier(m) => rule.modifiers.push(m),
                v => {
                    return Err(err(
                        file,
                        a.pos,
                        format!(
                            "{}: expected an operation, filter or modifier, got {}",
                            if action == Action::Allow {
                                "allow"
                            } else {
                                "deny"
                            },
                            v.type_name()
                        ),
                    ))
                }
            }
        }
        if rule.ops.is_empty() {
            return Err(err(file, node.pos, "rule names no operation"));
        }
        self.policy.rules.push(rule);
        Ok(())
    }

    fn import(&mut self, target: &str, file: &str) -> Result<(), Error> {
        if self.imports >= MAX_IMPORT_DEPTH {
            return Err(err(
                PRELUDE,
                IMPORT_POS,
                format!("unable to open {target}: imports nested too deeply"),
            ));
        }
        let mut candidates = Vec::new();
        if target.starts_with('/') {
            candidates.push(PathBuf::from(target));
        } else {
            if let Some(dir) = self.opts.params.get("IMPORT_DIR") {
                candidates.push(Path::new(dir).join(target));
            }
            if let Some(parent) = Path::new(file).parent().filter(|p| p.is_absolute()) {
                candidates.push(parent.join(target));
            }
            for d in &self.opts.import_paths {
                candidates.push(d.join(target));
            }
        }
        let Some(path) = candidates.into_iter().find(|p| p.is_file()) else {
            return Err(err(
                PRELUDE,
                IMPORT_POS,
                format!("unable to open {target}: not found"),
            ));
        };
        let src = std::fs::read_to_string(&path)
            .map_err(|e| err(PRELUDE, IMPORT_POS, format!("unable to open {target}: {e}")))?;
        self.imports += 1;
        let r = self.run(&src, &path.display().to_string());
        self.imports -= 1;
        r
    }
}

/// A network filter's address that libsandbox would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid IP address: {addr}")]
pub struct BadAddress {
    /// The address as written in the profile.
    pub addr: String,
}

/// `host:port` with `*` wildcards and `localhost`, as libsandbox accepts.
fn check_address(a: &str) -> Result<(), BadAddress> {
    let bad = || BadAddress {
        addr: a.to_string(),
    };
    let (host, port) = a.rsplit_once(':').ok_or_else(bad)?;
    let host_ok = host == "*"
        || host == "localhost"
        || host.parse::<std::net::IpAddr>().is_ok()
        || host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::Ipv6Addr>()
            .is_ok();
    let port_ok = port == "*" || port.parse::<u16>().is_ok();
    if host_ok && port_ok {
        Ok(())
    } else {
        Err(bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(src: &str, limits: Limits) -> Result<Policy, Error> {
        evaluate_limited(src, "t.sb", &Options::default(), limits)
    }

    fn fan(levels: usize) -> String {
        let mut s = String::from("(version 1)(define (f0) #t)");
        for i in 1..levels {
            s += &format!("(define (f{i}) (f{}) (f{}))", i - 1, i - 1);
        }
        s + &format!("(f{})", levels - 1)
    }

    #[test]
    fn step_budget_stops_exponential_calls() {
        let limits = Limits {
            steps: 100_000,
            ..LIMITS
        };
        let e = run(&fan(50), limits).unwrap_err().to_string();
        assert!(e.contains("exceeds 100000 steps"), "{e}");
        assert!(e.starts_with("t.sb:1:"), "{e}");
        // A small fan stays within the budget.
        run(&fan(8), limits).unwrap();
    }

    #[test]
    fn step_budget_counts_copied_filters() {
        let src = String::from("(version 1)(define a (subpath \"/x\"))")
            + &"(define a (require-any a a))".repeat(40);
        let e = run(&src, LIMITS).unwrap_err().to_string();
        assert!(e.contains("steps"), "{e}");
    }

    #[test]
    fn depth_limit_spans_calls() {
        let body = "(begin ".repeat(100) + "(f 1)" + &")".repeat(100);
        let src = format!("(version 1)(define (f x) {body})(f 1)");
        let limits = Limits {
            depth: 64,
            ..LIMITS
        };
        let e = run(&src, limits).unwrap_err().to_string();
        assert!(e.contains("nested more than 64 deep"), "{e}");
        assert!(e.starts_with("t.sb:1:"), "{e}");
    }

    #[test]
    fn default_depth_limit_fits_main_thread_stack() {
        // 250 nested forms a call, recursing: deeper than any stack.
        let body = "(begin ".repeat(250) + "(f 1)" + &")".repeat(250);
        let src = format!("(version 1)(define (f x) {body})(f 1)");
        let e = std::thread::Builder::new()
            .stack_size(8 << 20)
            .spawn(move || run(&src, LIMITS).unwrap_err().to_string())
            .unwrap()
            .join()
            .unwrap();
        assert!(e.contains("nested more than 512 deep"), "{e}");
    }

    #[test]
    fn string_append_result_is_capped() {
        let src = String::from("(version 1)(define a \"xxxxxxxxxxxxxxxx\")")
            + &"(define a (string-append a a))".repeat(40);
        let e = run(&src, LIMITS).unwrap_err().to_string();
        assert!(e.contains("longer than 1048576 bytes"), "{e}");
        assert!(e.starts_with("t.sb:1:"), "{e}");
    }

    #[test]
    fn large_profile_is_within_limits() {
        let mut src = String::from("(version 1)(deny default)");
        for i in 0..2000 {
            src += &format!(
                "(allow file-read* (subpath (string-append \"/nix/store/\" \"{i:032}-pkg-1.0\")))"
            );
        }
        let p = run(&src, LIMITS).unwrap();
        assert_eq!(p.rules.len(), 2001);
    }
}
