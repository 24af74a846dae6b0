//! `sandbox-exec` for Darling prefixes: the macOS command line, SBPL
//! profiles evaluated by the `sbpl` crate, the enforceable part applied with
//! Landlock (files) and seccomp (IP sockets, setuid bits), then the command
//! exec'd in place.
//!
//! Exit statuses, as on macOS: 64 usage, 65 profile error, 71 the sandbox
//! could not be applied (also when this process is already sandboxed: see
//! [`SANDBOXED`]) or the command could not be exec'd; otherwise the
//! command's own.

#![warn(missing_docs)]

pub mod cli;
pub mod config;
pub mod exec;
pub mod landlock;
pub mod named;
pub mod seccomp;

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use config::{Config, Mode};
use prefixfs::sysexits::{EX_DATAERR, EX_OSERR, EX_USAGE};
use prefixfs::Prefix;

fn say(msg: &str) {
    let _ = std::io::stderr().write_all(format!("sandbox-exec: {msg}\n").as_bytes());
}

/// The environment variable that marks a process as sandboxed by us: set
/// (to `1`) just before the command is exec'd, so it is inherited by
/// everything beneath. A sandbox-exec that finds it set and not empty
/// refuses to apply another profile, as macOS refuses nesting:
/// `sandbox-exec: sandbox_apply: Operation not permitted`, exit 71. Nix's
/// test harness runs sandbox-exec to find out whether it is sandboxed.
/// Only we set it (Nix clears the builder's environment before it runs
/// sandbox-exec), so it cannot fire outside our sandboxes; a command can
/// unset it, which only allows nesting again.
pub const SANDBOXED: &str = "DARLING_NIX_SANDBOXED";

/// Whether this process runs beneath a sandbox-exec (see [`SANDBOXED`]).
pub fn already_sandboxed() -> bool {
    std::env::var_os(SANDBOXED).is_some_and(|v| !v.is_empty())
}

/// Where the configuration lives: inside the prefix when there is one.
pub fn config_path(prefix: Option<&Prefix>) -> PathBuf {
    match prefix {
        Some(p) => p.etc_dir().join("darling-nix/sandbox-exec.toml"),
        None => PathBuf::from("/etc/darling-nix/sandbox-exec.toml"),
    }
}

/// Runs the tool with its whole argv (bytes, passed on untouched to the
/// command); returns only on failure (the exit status).
pub fn main(args: impl IntoIterator<Item = std::ffi::OsString>) -> i32 {
    let args: Vec<std::ffi::OsString> = args.into_iter().skip(1).collect();
    let inv = match cli::parse(&args) {
        Ok(i) => i,
        Err(cli::UsageError(msg)) => {
            let _ = std::io::stderr().write_all(format!("{msg}{}", cli::USAGE).as_bytes());
            return EX_USAGE;
        }
    };
    let prefix = Prefix::resolve().ok();
    let cfg = match configure(&inv, prefix.as_ref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let policy = match policy(&inv.profile, &inv.params, prefix.as_ref()) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if already_sandboxed() {
        // macOS: the kernel refuses a second profile with EPERM, whatever
        // the profile; our mode does not change that.
        say("sandbox_apply: Operation not permitted");
        return EX_OSERR;
    }
    if cfg.mode != Mode::Off {
        if let Err(why) = apply(&policy, &cfg, prefix.as_ref()) {
            say(&format!("sandbox_apply: {why}"));
            return EX_OSERR;
        }
    }
    // Marked in every mode, as macOS refuses nesting whatever the profile.
    // Single-threaded here, so changing the environment is sound.
    std::env::set_var(SANDBOXED, "1");
    let err = match &prefix {
        Some(p) => exec::execvp_in_prefix(
            &exec::Darling {
                prefix: p,
                mldr: cfg.mldr.as_deref(),
            },
            &inv.command,
        ),
        None => exec::execvp_host(&inv.command),
    };
    say(&format!(
        "execvp() of '{}' failed: {}",
        inv.command[0].to_string_lossy(),
        strerror(&err)
    ));
    EX_OSERR
}

/// The configuration file, then the command line's `-M` and `-v`, then
/// Darling's loader when the prefix has one. `Err` is the exit status,
/// after the message.
fn configure(inv: &cli::Invocation, prefix: Option<&Prefix>) -> Result<Config, i32> {
    let mut cfg = Config::load(&config_path(prefix), prefix.is_some()).map_err(|e| {
        say(&e.to_string());
        EX_OSERR
    })?;
    if let Some(m) = &inv.mode {
        cfg.mode = Mode::parse(m).ok_or_else(|| {
            let _ = std::io::stderr().write_all(
                format!(
                    "sandbox-exec: -M {m}: expected off, best-effort or strict\n{}",
                    cli::USAGE
                )
                .as_bytes(),
            );
            EX_USAGE
        })?;
    }
    cfg.verbose |= inv.verbose;
    if let (Some(p), None) = (prefix, &cfg.mldr) {
        // Darling's loader, as the prefix's overlay shows it.
        let m = p.root().join("usr/libexec/darling/mldr");
        cfg.mldr = m.is_file().then_some(m);
    }
    if let Some(p) = prefix {
        if let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") {
            cfg.darling_tree = overlay_lower_dirs(&text, p.root());
        }
    }
    Ok(cfg)
}

/// The lower directories of the overlay mounted at `root`, from the text of
/// `/proc/self/mountinfo` (Darling mounts the prefix as an overlay over its
/// installed tree). Empty when `root` is not such a mount.
pub fn overlay_lower_dirs(mountinfo: &str, root: &Path) -> Vec<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    // Spaces, tabs, newlines and backslashes in paths are octal escapes.
    let unescape = |field: &str| -> PathBuf {
        let b = field.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            let oct = b
                .get(i + 1..i + 4)
                .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
            match (b[i], oct) {
                (b'\\', Some(d)) => {
                    out.push(((d[0] - b'0') << 6) | ((d[1] - b'0') << 3) | (d[2] - b'0'));
                    i += 4;
                }
                (c, _) => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        PathBuf::from(std::ffi::OsString::from_vec(out))
    };
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let Some(point) = left.split(' ').nth(4) else {
            continue;
        };
        let mut r = right.split(' ');
        if r.next() != Some("overlay") || unescape(point) != root {
            continue;
        }
        let options = r.nth(1).unwrap_or("");
        // lowerdir=a:b (colons inside a name are escaped with a backslash).
        if let Some(lower) = options.split(',').find_map(|o| o.strip_prefix("lowerdir=")) {
            return lower
                .split(':')
                .filter(|d| !d.is_empty())
                .map(unescape)
                .collect();
        }
    }
    Vec::new()
}

/// The profile (`-f`, `-p` or `-n`) evaluated with the `-D` parameters.
/// `Err` is the exit status, after the message.
fn policy(
    profile: &cli::Profile,
    params: &[(String, String)],
    prefix: Option<&Prefix>,
) -> Result<sbpl::Policy, i32> {
    let opts = sbpl::Options {
        params: params.iter().cloned().collect(),
        import_paths: vec![
            PathBuf::from("/System/Library/Sandbox/Profiles"),
            PathBuf::from("/usr/share/sandbox"),
        ],
    };
    let evaluated = match profile {
        cli::Profile::File(f) => {
            let host = prefix
                .filter(|_| f.starts_with('/'))
                .map(|p| p.host_path_resolved(f))
                .unwrap_or_else(|| PathBuf::from(f));
            let text = std::fs::read_to_string(&host).map_err(|e| {
                say(&format!("{f}: {}", strerror(&e)));
                EX_DATAERR
            })?;
            let name = Path::new(f)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| f.clone());
            let mut o = opts.clone();
            if let Some(dir) = host.parent() {
                o.import_paths.insert(0, dir.to_path_buf());
            }
            sbpl::evaluate(&text, &name, &o)
        }
        cli::Profile::Text(t) => {
            return sbpl::evaluate(t, "<input string>", &opts).map_err(|e| {
                say(&string_profile_error(&e));
                EX_DATAERR
            })
        }
        cli::Profile::Named(n) => {
            let src = named::profile(n).ok_or_else(|| {
                say(&format!("unable to find profile: {n}"));
                EX_DATAERR
            })?;
            sbpl::evaluate(src, n, &opts)
        }
    };
    evaluated.map_err(|e| {
        say(&e.to_string());
        EX_DATAERR
    })
}

/// How libsandbox shows an error in a profile given as a string (`-p`):
/// a syntax error without a place (`syntax error: expecting ')'`), an
/// unbound variable with its line only (`unbound variable: bogus at <input
/// string>, line 1`), anything else as `file:line:column: message`, the
/// shape used for `-f`.
pub fn string_profile_error(e: &sbpl::Error) -> String {
    match e.kind {
        sbpl::Kind::Syntax => e.msg.clone(),
        sbpl::Kind::Unbound => format!("{} at {}, line {}", e.msg, e.file, e.pos.line),
        sbpl::Kind::Other => e.to_string(),
    }
}

fn strerror(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => nix::errno::Errno::from_raw(n).desc().to_string(),
        None => e.to_string(),
    }
}

/// Why the sandbox cannot be applied. Printed after `sandbox_apply: `.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// Strict mode, and the first thing `-v` would report.
    #[error("profile cannot be fully enforced here: {0}")]
    NotEnforceable(Note),
    /// Setting up Landlock failed: creating the ruleset, opening a rule's
    /// path, adding a rule or restricting the process.
    #[error(transparent)]
    Landlock(#[from] landlock::LandlockError),
    /// The seccomp filter (IP sockets, setuid/setgid bits) could not be
    /// installed: setting `no_new_privs` or `PR_SET_SECCOMP` failed.
    #[error("installing the seccomp filter: {0}")]
    Seccomp(#[source] std::io::Error),
}

/// Something the profile says that is not enforced as written. Kept as
/// data and formatted only when shown: a profile naming thousands of
/// outputs would otherwise format thousands of lines nobody reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// From the plan (`sbpl::Plan::unenforced` and `widened`).
    Plan(String),
    /// A write grant on a missing path, moved to its nearest existing parent.
    Widened {
        /// The granted host path, which does not exist yet.
        path: PathBuf,
        /// Its nearest existing directory, which got the grant's rights
        /// for everything beneath it.
        parent: PathBuf,
    },
    /// A write grant on a missing path whose nearest parent is a root.
    LeftDenied {
        /// The granted host path. Its nearest existing directory is `/` or
        /// the prefix root, too wide to grant, so no rule was added.
        path: PathBuf,
    },
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Note::Plan(s) => f.write_str(s),
            Note::Widened { path, parent } => write!(
                f,
                "file-write: {} does not exist yet; its rights are granted on everything beneath {} (wider than the profile)",
                path.display(),
                parent.display()
            ),
            Note::LeftDenied { path } => write!(
                f,
                "file-write: {} does not exist and its nearest parent is a root; left denied",
                path.display()
            ),
        }
    }
}

/// Applies the enforceable part of `policy`, or says why it cannot.
pub fn apply(
    policy: &sbpl::Policy,
    cfg: &Config,
    prefix: Option<&Prefix>,
) -> Result<(), ApplyError> {
    let plan = sbpl::plan(policy);
    let host = |p: &str| -> PathBuf {
        match prefix {
            Some(pre) => pre.host_path_resolved(p),
            None => PathBuf::from(p),
        }
    };
    let mut notes: Vec<Note> = plan
        .unenforced
        .iter()
        .chain(&plan.widened)
        .map(|n| Note::Plan(n.clone()))
        .collect();

    let fs_ok = plan.handled != 0;
    let mut missing = Vec::new();
    let rules = if fs_ok {
        rule_list(
            &plan,
            cfg,
            &host,
            prefix.map(Prefix::root),
            &mut notes,
            &mut missing,
        )
    } else {
        Vec::new()
    };

    if cfg.mode == Mode::Strict && !notes.is_empty() {
        return Err(ApplyError::NotEnforceable(notes.swap_remove(0)));
    }
    if cfg.verbose {
        for n in &notes {
            say(&format!("not enforced: {n}"));
        }
        for m in &missing {
            say(&format!(
                "note: {} does not exist; no rule added",
                m.display()
            ));
        }
    }

    // Landlock first (it opens the rule paths), seccomp last.
    if fs_ok {
        let mut rs = landlock::Rules::new(plan.handled, cfg.mode)?;
        for r in rules {
            let added = rs.allow(&r.path, landlock::rights(r.access), r.kind)?;
            if added == landlock::Added::Missing && cfg.verbose {
                say(&format!(
                    "note: {} does not exist; no rule added",
                    r.path.display()
                ));
            }
        }
        let status = rs.restrict_self()?;
        if status == ::landlock::RulesetStatus::NotEnforced && cfg.verbose {
            say("not enforced: files: this kernel has no Landlock ABI 2 (needed for renames across directories); file rules not applied");
        }
    }
    seccomp::install(plan.deny_inet, plan.deny_setugid).map_err(ApplyError::Seccomp)?;
    Ok(())
}

/// One Landlock rule: a host path, our access classes, and what the path
/// is (looked up once, following symlinks: `/dev/stdout` is a pipe when
/// Nix runs the build).
pub struct RuleSpec {
    /// The host path the rule is attached to: a profile's or the
    /// configuration's Mac path resolved inside the prefix, or the nearest
    /// existing parent of a missing write grant.
    pub path: PathBuf,
    /// The access classes granted beneath it, as `sbpl::plan`'s READ, WRITE
    /// and EXEC bits; [`landlock::rights`] turns them into Landlock rights.
    pub access: u8,
    /// What the path is, which limits the rights the rule may carry.
    pub kind: landlock::Kind,
}

fn kind_of(st: &nix::sys::stat::FileStat) -> landlock::Kind {
    use nix::sys::stat::SFlag;
    match SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT {
        SFlag::S_IFDIR => landlock::Kind::Dir,
        SFlag::S_IFREG | SFlag::S_IFCHR | SFlag::S_IFBLK => landlock::Kind::File,
        _ => landlock::Kind::Unrestricted,
    }
}

type PathMap<V> = sbpl::fasthash::FastMap<OsString, V>;

/// Whether `p` is a plain absolute path: no `//`, `.` or `..`, no trailing
/// slash, which is what profiles name. Its ancestors are plain too.
fn is_plain(p: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let b = p.as_os_str().as_bytes();
    if b.first() != Some(&b'/') || b.len() < 2 {
        return false;
    }
    // The current name's length, and whether it is all dots so far.
    let (mut len, mut dots) = (0usize, true);
    for &c in &b[1..] {
        if c == b'/' {
            if len == 0 || (dots && len <= 2) {
                return false;
            }
            (len, dots) = (0, true);
        } else {
            len += 1;
            dots &= c == b'.';
        }
    }
    !(len == 0 || (dots && len <= 2))
}

/// A plain path's parent and final name, as `Path::parent` and
/// `Path::file_name` give them, found at the last slash: parsing
/// components costs more than the lookup's system call.
fn split_plain(p: &Path) -> Option<(&Path, &std::ffi::OsStr)> {
    use std::os::unix::ffi::OsStrExt;
    let b = p.as_os_str().as_bytes();
    let i = b.iter().rposition(|&c| c == b'/')?;
    if b.len() == 1 {
        return None;
    }
    let parent = if i == 0 { &b[..1] } else { &b[..i] };
    Some((
        Path::new(std::ffi::OsStr::from_bytes(parent)),
        std::ffi::OsStr::from_bytes(&b[i + 1..]),
    ))
}

/// `Path::parent` and `Path::file_name`, faster for plain paths (`plain`
/// is [`is_plain`] of `p`, found once per path by the caller).
fn split_last(p: &Path, plain: bool) -> (Option<&Path>, Option<&std::ffi::OsStr>) {
    if plain {
        match split_plain(p) {
            Some((d, n)) => (Some(d), Some(n)),
            None => (None, None),
        }
    } else {
        (p.parent(), p.file_name())
    }
}

/// `p` and its ancestors, as `Path::ancestors`, faster for plain paths.
fn ancestors(p: &Path, plain: bool) -> impl Iterator<Item = &Path> {
    std::iter::successors(Some(p), move |a| {
        if plain {
            split_plain(a).map(|(d, _)| d)
        } else {
            a.parent()
        }
    })
}

/// Stats paths relative to their parent directory, opened once: Nix's
/// profiles name hundreds of entries of one store directory, and walking
/// each from `/` costs more than the rest of its rule.
#[derive(Default)]
struct Lookup {
    dirs: PathMap<Option<std::os::fd::OwnedFd>>,
    /// Whether a path is a link, for [`Lookup::is_link`].
    links: PathMap<bool>,
}

fn is_link_stat(st: &nix::sys::stat::FileStat) -> bool {
    use nix::sys::stat::SFlag;
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK
}

impl Lookup {
    /// The path's status (following a final link or not); None if missing.
    fn stat(&mut self, p: &Path, plain: bool, follow: bool) -> Option<nix::sys::stat::FileStat> {
        use nix::fcntl::{AtFlags, OFlag};
        let flags = if follow {
            AtFlags::empty()
        } else {
            AtFlags::AT_SYMLINK_NOFOLLOW
        };
        let (Some(parent), Some(name)) = split_last(p, plain) else {
            return nix::sys::stat::fstatat(nix::fcntl::AT_FDCWD, p, flags).ok();
        };
        if !self.dirs.contains_key(parent.as_os_str()) {
            let fd = nix::fcntl::open(
                parent,
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .ok();
            self.dirs.insert(parent.as_os_str().to_owned(), fd);
        }
        match &self.dirs[parent.as_os_str()] {
            Some(fd) => nix::sys::stat::fstatat(fd, name, flags).ok(),
            None => nix::sys::stat::fstatat(nix::fcntl::AT_FDCWD, p, flags).ok(),
        }
    }

    fn is_link(&mut self, p: &Path, plain: bool) -> bool {
        match self.links.get(p.as_os_str()) {
            Some(&l) => l,
            None => {
                let l = self
                    .stat(p, plain, false)
                    .is_some_and(|st| is_link_stat(&st));
                self.links.insert(p.as_os_str().to_owned(), l);
                l
            }
        }
    }
}

/// The Landlock rules to add: the profile's grants (Mac paths), the
/// configured implicit paths and `mldr`, one rule per path. A write grant
/// on a path that does not exist yet (a Nix output) moves to its nearest
/// existing parent, which is wider than the profile: said in `notes`.
/// Other missing paths get no rule (listed in `missing`).
fn rule_list(
    plan: &sbpl::Plan,
    cfg: &Config,
    host: &dyn Fn(&str) -> PathBuf,
    prefix_root: Option<&Path>,
    notes: &mut Vec<Note>,
    missing: &mut Vec<PathBuf>,
) -> Vec<RuleSpec> {
    use sbpl::plan::{EXEC, READ, WRITE};
    let mut wanted: Vec<(PathBuf, u8, bool)> = plan
        .grants
        .iter()
        .map(|g| (host(&g.path), g.access, g.literal))
        .collect();
    let implicit = cfg
        .implicit_read
        .iter()
        .chain(&cfg.implicit_exec)
        .map(|p| (host(p), READ | EXEC, false))
        .chain(
            cfg.implicit_write
                .iter()
                .map(|p| (host(p), READ | WRITE, false)),
        );
    wanted.extend(implicit);
    if let Some(m) = &cfg.mldr {
        // Already a host path.
        wanted.push((m.clone(), READ | EXEC, false));
    }
    for d in &cfg.darling_tree {
        wanted.push((d.clone(), READ | EXEC, false));
    }

    let mut rules: Vec<RuleSpec> = Vec::with_capacity(wanted.len());
    // Per rule: whether its path is plain, and a link (None: not looked at).
    let mut facts: Vec<(bool, Option<bool>)> = Vec::with_capacity(wanted.len());
    // One rule per path: missing outputs share their parent (the store),
    // and Nix repeats paths across its allow forms.
    let mut index: PathMap<usize> =
        PathMap::with_capacity_and_hasher(wanted.len(), Default::default());
    let mut look = Lookup::default();
    // Missing outputs usually share their parent (the store).
    let mut is_dir: PathMap<bool> = Default::default();
    let mut push = |rules: &mut Vec<RuleSpec>, path: PathBuf, access: u8, kind, fact| match index
        .get(path.as_os_str())
    {
        Some(&i) => rules[i].access |= access,
        None => {
            index.insert(path.as_os_str().to_owned(), rules.len());
            rules.push(RuleSpec { path, access, kind });
            facts.push(fact);
        }
    };
    for (hp, access, literal) in wanted {
        let plain = is_plain(&hp);
        let lst = look.stat(&hp, plain, false);
        let link = lst.as_ref().is_some_and(is_link_stat);
        let st = match lst {
            Some(st) if kind_of(&st) == landlock::Kind::Unrestricted => look.stat(&hp, plain, true),
            st => st,
        };
        match st.as_ref().map(kind_of) {
            Some(landlock::Kind::Dir) if literal => {
                // A literal directory: a Landlock rule would open its whole
                // subtree. Without one, stat still works (never restricted).
            }
            Some(kind) => push(&mut rules, hp, access, kind, (plain, Some(link))),
            None if access & WRITE != 0 => {
                // Landlock checks creation on the parent, and the new entry
                // inherits the parent's rules: the whole grant goes there.
                let too_wide =
                    |a: &Path| a == Path::new("/") || prefix_root.is_some_and(|r| a == r);
                let parent =
                    ancestors(&hp, plain)
                        .skip(1)
                        .find(|a| match is_dir.get(a.as_os_str()) {
                            Some(&d) => d,
                            None => {
                                let d = look
                                    .stat(a, plain, true)
                                    .is_some_and(|st| kind_of(&st) == landlock::Kind::Dir);
                                is_dir.insert(a.as_os_str().to_owned(), d);
                                d
                            }
                        });
                match parent {
                    Some(parent) if !too_wide(parent) => {
                        let parent = parent.to_path_buf();
                        let fact = (plain, None);
                        push(
                            &mut rules,
                            parent.clone(),
                            access,
                            landlock::Kind::Dir,
                            fact,
                        );
                        notes.push(Note::Widened { path: hp, parent });
                    }
                    _ => notes.push(Note::LeftDenied { path: hp }),
                }
            }
            None => missing.push(hp),
        }
    }
    // Landlock unions the rules along a path, so a rule beneath a directory
    // rule that already grants all its rights adds nothing (the typical
    // case: a missing output widened to the store covers every input).
    // Only when no link is on the way: a link leads somewhere else.
    let mut covered = |r: &RuleSpec, (plain, link): (bool, Option<bool>)| {
        let Some(cover) = ancestors(&r.path, plain).skip(1).find(|a| {
            index.get(a.as_os_str()).is_some_and(|&i| {
                let d = &rules[i];
                d.kind == landlock::Kind::Dir && d.access & r.access == r.access
            })
        }) else {
            return false;
        };
        // Only when no link is on the way: a link leads somewhere else.
        !ancestors(&r.path, plain)
            .take_while(|a| a.as_os_str() != cover.as_os_str())
            .any(|a| match link {
                Some(l) if a.as_os_str() == r.path.as_os_str() => l,
                _ => look.is_link(a, plain),
            })
    };
    let keep: Vec<bool> = rules
        .iter()
        .zip(facts)
        .map(|(r, f)| !covered(r, f))
        .collect();
    rules
        .into_iter()
        .zip(keep)
        .filter_map(|(r, k)| k.then_some(r))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_splitting_agrees_with_std() {
        for p in [
            "/",
            "/a",
            "/a/b",
            "/home/u/.darling/nix/store/x-y",
            "/a/./b",
            "/a/../b",
            "/a/b/.",
            "/a/b/..",
            "/a//b",
            "/a/b/",
            "a/b",
            "/a/.b/..c/...",
        ] {
            let p = Path::new(p);
            let plain = is_plain(p);
            assert_eq!(split_last(p, plain), (p.parent(), p.file_name()), "{p:?}");
            assert_eq!(
                ancestors(p, plain)
                    .map(|a| a.as_os_str())
                    .collect::<Vec<_>>(),
                p.ancestors().map(|a| a.as_os_str()).collect::<Vec<_>>(),
                "{p:?}"
            );
        }
    }
}

#[cfg(test)]
mod overlay_tests {
    use super::overlay_lower_dirs;
    use std::path::{Path, PathBuf};

    const MOUNTINFO: &str = "\
22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/vda rw
69 47 0:42 / /tmp/zt-prefix rw,relatime - overlay overlay rw,lowerdir=/work/darling-install/libexec/darling,upperdir=/tmp/zt-prefix,workdir=/tmp/zt-prefix.workdir
70 47 0:43 / /tmp/with\\040space rw - overlay overlay rw,lowerdir=/opt/a\\040b:/opt/c,upperdir=/u,workdir=/w
71 47 0:44 / /tmp/not-overlay rw - tmpfs tmpfs rw,lowerdir=/nope
";

    #[test]
    fn the_prefix_overlays_lower_dirs_are_darlings_tree() {
        assert_eq!(
            overlay_lower_dirs(MOUNTINFO, Path::new("/tmp/zt-prefix")),
            [PathBuf::from("/work/darling-install/libexec/darling")]
        );
        assert_eq!(
            overlay_lower_dirs(MOUNTINFO, Path::new("/tmp/with space")),
            [PathBuf::from("/opt/a b"), PathBuf::from("/opt/c")]
        );
        assert!(overlay_lower_dirs(MOUNTINFO, Path::new("/tmp/not-overlay")).is_empty());
        assert!(overlay_lower_dirs(MOUNTINFO, Path::new("/elsewhere")).is_empty());
        assert!(overlay_lower_dirs("garbage\n\n", Path::new("/")).is_empty());
    }
}
