//! The checks behind `nix-verify`. Each produces a [`Check`]; the report is
//! human text or JSON with a stable shape (see docs/tools/host-tools.md, "nix-verify").

#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use darling_host::Runner;
use serde::Serialize;

/// How one check came out: `ok`, `warn`, `fail` or `skip` in the JSON,
/// `ok`, `warn`, `FAIL` or `skip` in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// What the check looks at is as it should be.
    Ok,
    /// Something is off, but Nix can still work: no nix.conf or
    /// `sandbox = true`, Nix 2.35 or later, the xnu-fixes dylib or its
    /// probe not installed, or Darling reported unimplemented syscalls. The prefix still counts as
    /// healthy.
    Warn,
    /// The check failed: the prefix is not healthy and nix-verify exits 1.
    Fail,
    /// Not checked: not asked for (`--build`, `--online`), or it cannot run
    /// here (no Darling, Nix does not run, no store database to build
    /// with).
    Skip,
}

/// One check's result: an element of the JSON's `checks`, one line of
/// [`render`].
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// The check's name: `prefix`, `darling`, `tools`, `xnu-fixes`,
    /// `nix-version`, `current-system`, `store-db`, `nix-conf`, `accounts`,
    /// `build`, `online` or `unimplemented` (the report's order).
    pub id: &'static str,
    /// How it came out.
    pub status: Status,
    /// What was found, for a person: a path, version or count when all is
    /// well, what is wrong otherwise. Paths name the prefix, not the
    /// `/proc/<pid>/root` view they were read through.
    pub message: String,
}

/// Everything [`verify`] found: printed as JSON by `--json` (schema
/// version 1, see docs/tools/host-tools.md) or as text by [`render`].
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The JSON schema's version, 1; new fields may be added under it.
    pub version: u32,
    /// The prefix checked, as given.
    pub prefix: String,
    /// How the prefix was reached, as the runner describes itself.
    pub runner: String,
    /// No check failed (warnings allowed).
    pub ok: bool,
    /// How many checks ended in each status, under the keys `ok`, `warn`,
    /// `fail` and `skip` (all four always present).
    pub summary: BTreeMap<&'static str, usize>,
    /// Every check, in the report's order.
    pub checks: Vec<Check>,
}

/// What to check beyond the default checks, and how long commands inside
/// may take.
pub struct Options {
    /// `--build`: also build a trivial derivation inside, the one check
    /// that writes to the prefix. Skipped when Nix does not run or there is
    /// no store database (a build would create one).
    pub build: bool,
    /// `--online`: also fetch `https://cache.nixos.org/nix-cache-info` with
    /// curl inside.
    pub online: bool,
    /// Time allowed for each command run inside (`--timeout`, default
    /// 120 s); one that takes longer is killed and its check fails.
    pub timeout: Duration,
}

use darling_host::TOOLS;

fn c(id: &'static str, status: Status, message: impl Into<String>) -> Check {
    Check {
        id,
        status,
        message: message.into(),
    }
}

fn etc(prefix: &Path) -> PathBuf {
    prefixfs::Prefix::at(prefix).etc_dir()
}

/// `key = value` lines of nix.conf (later lines win; `include` ignored).
pub fn parse_nix_conf(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let l = l.split('#').next()?.trim();
            let (k, v) = l.split_once('=')?;
            Some((k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

struct Ctx<'a> {
    runner: &'a dyn Runner,
    opts: &'a Options,
    printed: String,
    /// Darling was asked for and not found: what runs inside the prefix is
    /// skipped (the runner at hand would run the host's programs instead).
    no_darling: bool,
}

/// Why a check that runs inside the prefix did not run.
const NEEDS_DARLING: &str = "needs Darling, which was not found";

impl Ctx<'_> {
    fn run(&mut self, argv: &[&str]) -> Result<darling_host::Output, darling_host::HostError> {
        let o = self.runner.run(argv, None, self.opts.timeout)?;
        self.printed.push_str(&o.stdout);
        self.printed.push_str(&o.stderr);
        Ok(o)
    }
}

/// What is known about the Darling launcher.
pub enum Launcher<'a> {
    /// `darling` at this path: the `darling` check is ok, commands run in
    /// Darling, and the xnu-fixes probe runs.
    Found(&'a Path),
    /// Not needed: a fixture runner stands in for Darling.
    Fixture,
    /// Not found, and why (as `select_runner` said).
    Missing(String),
}

/// Runs every check on the prefix `runner` reaches and returns the report;
/// a problem is a check's status, never an error. Changes nothing in the
/// prefix unless `opts.build` is set. The store database is read from the
/// host, read-only, before any Nix runs inside; a running prefix's files
/// are read through its merged view ([`darling_host::file_view`]).
pub fn verify(runner: &dyn Runner, darling: Launcher, opts: &Options) -> Report {
    let prefix = runner.prefix().to_path_buf();
    // The prefix's files as Darling sees them (the merged view of a running
    // prefix; see darling_host::file_view).
    let files = darling_host::file_view(&prefix);
    let mut ctx = Ctx {
        runner,
        opts,
        printed: String::new(),
        no_darling: matches!(darling, Launcher::Missing(_)),
    };

    let in_darling = matches!(darling, Launcher::Found(_));
    let mut checks = vec![
        prefix_check(&prefix, &files),
        darling_check(runner, darling),
        tools_check(&files),
    ];
    checks.push(xnu_fixes_check(&mut ctx, &files, in_darling));
    // The store database first, read-only from the host: Nix run against a
    // prefix without one would create it (and this check would then pass).
    let db_present = files.join(DB).exists();
    let store_check = store_db(&files);
    let (version, nix_ok) = nix_version_check(&mut ctx);
    checks.push(version);
    checks.push(if nix_ok {
        current_system_check(&mut ctx)
    } else if ctx.no_darling {
        c("current-system", Status::Skip, NEEDS_DARLING)
    } else {
        c("current-system", Status::Skip, "Nix does not run")
    });
    checks.push(store_check);
    let (conf, group) = nix_conf_check(&files);
    checks.push(conf);
    checks.push(accounts_check(&files, &group));
    checks.push(build_check(&mut ctx, nix_ok, db_present));
    checks.push(online_check(&mut ctx));
    checks.push(if ctx.no_darling {
        c("unimplemented", Status::Skip, NEEDS_DARLING)
    } else {
        unimplemented_check(&ctx.printed)
    });

    // Paths in messages as the user knows them: under the prefix, not
    // under /proc/<pid>/root.
    if files != prefix {
        let (from, to) = (files.display().to_string(), prefix.display().to_string());
        for ch in &mut checks {
            ch.message = ch.message.replace(&from, &to);
        }
    }
    report(&prefix, runner, checks)
}

fn prefix_check(prefix: &Path, files: &Path) -> Check {
    if files.is_dir() && etc(files).is_dir() {
        c("prefix", Status::Ok, prefix.display().to_string())
    } else {
        c(
            "prefix",
            Status::Fail,
            format!(
                "{} is not an initialised Darling prefix (no etc directory)",
                prefix.display()
            ),
        )
    }
}

fn darling_check(runner: &dyn Runner, darling: Launcher) -> Check {
    match darling {
        Launcher::Found(d) => c("darling", Status::Ok, d.display().to_string()),
        Launcher::Fixture => c("darling", Status::Skip, runner.describe()),
        Launcher::Missing(why) => c(
            "darling",
            Status::Fail,
            format!("{why}; checks that run inside the prefix were skipped"),
        ),
    }
}

fn tools_check(files: &Path) -> Check {
    let missing: Vec<String> = TOOLS
        .iter()
        .map(|(_, at)| format!("/{at}"))
        .filter(|t| !is_our_tool(&files.join(t.trim_start_matches('/'))))
        .collect();
    if missing.is_empty() {
        c(
            "tools",
            Status::Ok,
            format!("{} in-prefix tools present", TOOLS.len()),
        )
    } else {
        c(
            "tools",
            Status::Fail,
            format!(
                "missing, not executable, or not ours (Darling's own has no ELF header): {}",
                missing.join(", ")
            ),
        )
    }
}

/// The interposing xnu-fixes dylib and the Mach-O probe nix-install puts
/// beside it (prefix paths).
const XNU_FIXES_DYLIB: &str = "/usr/local/lib/libxnu_fixes.dylib";
const XNU_FIXES_PROBE: &str = "/usr/local/libexec/darling-nix/xnu-fixes-probe";

/// Whether Darling processes get xnu-fixes: the dylib is installed, and a
/// Mach-O probe run with it inside sees an interposed call answer as macOS
/// does (Darling's own answer differs).
fn xnu_fixes_check(ctx: &mut Ctx, files: &Path, in_darling: bool) -> Check {
    let at = |p: &str| files.join(p.trim_start_matches('/'));
    if !at(XNU_FIXES_DYLIB).is_file() {
        return c(
            "xnu-fixes",
            Status::Warn,
            format!("{XNU_FIXES_DYLIB} is not installed: Darling answers renameatx_np, clonefile, getattrlist, getentropy and sandbox_init wrongly (xnu-fixes/dylib/build.sh builds it; nix-install installs it from a --tools-dir that has it)"),
        );
    }
    if !at(XNU_FIXES_PROBE).is_file() {
        return c(
            "xnu-fixes",
            Status::Warn,
            format!("{XNU_FIXES_DYLIB} is installed, but not {XNU_FIXES_PROBE} to check it with"),
        );
    }
    if !in_darling {
        return c(
            "xnu-fixes",
            Status::Skip,
            format!("{XNU_FIXES_DYLIB} installed; its Mach-O probe needs Darling"),
        );
    }
    let script = format!("DYLD_INSERT_LIBRARIES={XNU_FIXES_DYLIB} exec {XNU_FIXES_PROBE}");
    match ctx.run(&["/bin/bash", "-c", &script]) {
        Ok(o) if o.code == 0 => c(
            "xnu-fixes",
            Status::Ok,
            format!("{XNU_FIXES_DYLIB} answers inside: {}", o.stdout.trim()),
        ),
        Ok(o) => c(
            "xnu-fixes",
            Status::Fail,
            format!(
                "the probe exited {}: {}{}",
                o.code,
                o.stdout.trim(),
                o.stderr.trim()
            ),
        ),
        Err(e) => c("xnu-fixes", Status::Fail, e.to_string()),
    }
}

/// Nix inside, and whether it runs. `nix --version` opens no store.
fn nix_version_check(ctx: &mut Ctx) -> (Check, bool) {
    if ctx.no_darling {
        return (c("nix-version", Status::Skip, NEEDS_DARLING), false);
    }
    match ctx.run(&["nix", "--version"]) {
        Ok(o) if o.code == 0 => {
            let line = o.stdout.lines().next().unwrap_or("").to_string();
            let ver = line.split_whitespace().last().unwrap_or("");
            let mut nums = ver.split('.').filter_map(|p| p.parse::<u32>().ok());
            let (maj, min) = (nums.next().unwrap_or(0), nums.next().unwrap_or(0));
            let check = if (maj, min) >= (2, 35) {
                c("nix-version", Status::Warn, format!("{line}: Nix 2.35 and later require macOS 14; Darling reports 11.7.4 (2.34.x is the newest that installs)"))
            } else {
                c("nix-version", Status::Ok, line)
            };
            (check, true)
        }
        Ok(o) => (
            c(
                "nix-version",
                Status::Fail,
                format!("`nix --version` exited {}: {}", o.code, o.stderr.trim()),
            ),
            false,
        ),
        Err(e) => (
            c(
                "nix-version",
                Status::Fail,
                format!("cannot run nix inside: {e}"),
            ),
            false,
        ),
    }
}

/// The evaluation uses Nix's dummy store, so it writes nothing.
fn current_system_check(ctx: &mut Ctx) -> Check {
    match ctx.run(&[
        "nix-instantiate",
        "--store",
        "dummy://",
        "--eval",
        "-E",
        "builtins.currentSystem",
    ]) {
        Ok(o) if o.code == 0 && o.stdout.trim() == "\"x86_64-darwin\"" => {
            c("current-system", Status::Ok, "x86_64-darwin")
        }
        Ok(o) if o.code == 0 => c(
            "current-system",
            Status::Fail,
            format!(
                "builtins.currentSystem is {}, not \"x86_64-darwin\"",
                o.stdout.trim()
            ),
        ),
        Ok(o) => c(
            "current-system",
            Status::Fail,
            format!("evaluation failed: {}", o.stderr.trim()),
        ),
        Err(e) => c("current-system", Status::Fail, e.to_string()),
    }
}

/// nix.conf's check, and the build users' group it names.
fn nix_conf_check(files: &Path) -> (Check, String) {
    let conf_path = etc(files).join("nix/nix.conf");
    let conf = std::fs::read_to_string(&conf_path)
        .ok()
        .map(|t| parse_nix_conf(&t));
    let check = match &conf {
        None => c("nix-conf", Status::Warn, format!("{} does not exist (Nix defaults apply)", conf_path.display())),
        Some(cf) => match cf.get("sandbox").map(String::as_str) {
            Some("true") => c("nix-conf", Status::Warn, "sandbox = true: every build needs a working sandbox-exec/libsandbox in Darling; use false or relaxed"),
            _ => c("nix-conf", Status::Ok, conf_path.display().to_string()),
        },
    };
    let group = conf
        .as_ref()
        .and_then(|cf| cf.get("build-users-group").cloned())
        .unwrap_or_else(|| "nixbld".into());
    (check, group)
}

/// `--build`: a trivial build inside (never where it would create the
/// store database).
fn build_check(ctx: &mut Ctx, nix_ok: bool, db_present: bool) -> Check {
    if ctx.opts.build && nix_ok && db_present {
        let expr = "derivation { name = \"nix-verify-probe\"; system = builtins.currentSystem; builder = \"/bin/sh\"; args = [ \"-c\" \"echo ok > $out\" ]; }";
        return match ctx.run(&["nix-build", "--no-out-link", "-E", expr]) {
            Ok(o) if o.code == 0 => c("build", Status::Ok, format!("built {}", o.stdout.trim())),
            Ok(o) => c(
                "build",
                Status::Fail,
                format!(
                    "trivial build failed: {}",
                    o.stderr.lines().last().unwrap_or("").trim()
                ),
            ),
            Err(e) => c("build", Status::Fail, e.to_string()),
        };
    }
    c(
        "build",
        Status::Skip,
        if !ctx.opts.build {
            "not requested (--build)"
        } else if ctx.no_darling {
            NEEDS_DARLING
        } else if !nix_ok {
            "Nix does not run"
        } else {
            "no store database: a build would create one"
        },
    )
}

/// `--online`: the binary cache from inside.
fn online_check(ctx: &mut Ctx) -> Check {
    if !ctx.opts.online {
        return c("online", Status::Skip, "not requested (--online)");
    }
    if ctx.no_darling {
        return c("online", Status::Skip, NEEDS_DARLING);
    }
    match ctx.run(&[
        "curl",
        "-sfL",
        "--max-time",
        "20",
        "https://cache.nixos.org/nix-cache-info",
    ]) {
        Ok(o) if o.code == 0 && o.stdout.contains("StoreDir") => c(
            "online",
            Status::Ok,
            "cache.nixos.org reachable from inside",
        ),
        Ok(o) => c(
            "online",
            Status::Fail,
            format!(
                "cache.nixos.org not reachable from inside (curl exit {})",
                o.code
            ),
        ),
        Err(e) => c("online", Status::Fail, e.to_string()),
    }
}

/// Darling's complaints in anything the checks printed.
fn unimplemented_check(printed: &str) -> Check {
    let mut col = darling_syscalls::Collector::new();
    col.feed(printed);
    let rep = col.report();
    if rep.entries.is_empty() {
        c(
            "unimplemented",
            Status::Ok,
            "no unimplemented syscalls reported",
        )
    } else {
        c(
            "unimplemented",
            Status::Warn,
            format!(
                "Darling reported: {}",
                rep.entries
                    .iter()
                    .map(|e| format!("{} ×{}", e.label(), e.count))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    }
}

fn report(prefix: &Path, runner: &dyn Runner, checks: Vec<Check>) -> Report {
    let mut summary = BTreeMap::new();
    for s in ["ok", "warn", "fail", "skip"] {
        summary.insert(s, 0);
    }
    for ch in &checks {
        *summary
            .get_mut(match ch.status {
                Status::Ok => "ok",
                Status::Warn => "warn",
                Status::Fail => "fail",
                Status::Skip => "skip",
            })
            .expect("key") += 1;
    }
    Report {
        version: 1,
        prefix: prefix.display().to_string(),
        runner: runner.describe(),
        ok: summary["fail"] == 0,
        summary,
        checks,
    }
}

/// An executable ELF file: our in-prefix tools are Linux programs that
/// Darling runs natively, while what Darling ships at those paths (its
/// `diskutil` is a shell script) is not.
fn is_our_tool(p: &Path) -> bool {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    let executable =
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    let mut magic = [0u8; 4];
    executable
        && std::fs::File::open(p)
            .and_then(|mut f| f.read_exact(&mut magic))
            .is_ok()
        && magic == *b"\x7fELF"
}

pub use nixstore::store::db::open_read_only as open_store_db;

/// The store database, relative to the prefix.
const DB: &str = "nix/var/nix/db/db.sqlite";

fn store_db(prefix: &Path) -> Check {
    let db = prefix.join(DB);
    if !db.exists() {
        return c(
            "store-db",
            Status::Fail,
            format!(
                "{} does not exist (Nix is not installed, or its database was not loaded)",
                db.display()
            ),
        );
    }
    let conn = match open_store_db(&db) {
        Ok(c) => c,
        Err(e) => return c("store-db", Status::Fail, format!("{}: {e}", db.display())),
    };
    let integrity: Result<String, _> = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0));
    match integrity {
        Ok(s) if s == "ok" => {}
        Ok(s) => {
            return c(
                "store-db",
                Status::Fail,
                format!("{}: integrity check: {s}", db.display()),
            )
        }
        Err(e) => return c("store-db", Status::Fail, format!("{}: {e}", db.display())),
    }
    let paths: Result<Vec<String>, _> = conn
        .prepare("SELECT path FROM ValidPaths")
        .and_then(|mut st| st.query_map([], |r| r.get::<_, String>(0))?.collect());
    match paths {
        Ok(paths) => {
            let missing: Vec<&String> = paths
                .iter()
                .filter(|p| {
                    std::fs::symlink_metadata(prefix.join(p.trim_start_matches('/'))).is_err()
                })
                .collect();
            if missing.is_empty() {
                c(
                    "store-db",
                    Status::Ok,
                    format!("integrity ok, {} valid paths, all present", paths.len()),
                )
            } else {
                c(
                    "store-db",
                    Status::Fail,
                    format!(
                        "{} of {} valid paths are missing on disk, e.g. {}",
                        missing.len(),
                        paths.len(),
                        missing[0]
                    ),
                )
            }
        }
        Err(e) => c("store-db", Status::Fail, format!("{}: {e}", db.display())),
    }
}

fn accounts_check(prefix: &Path, group: &str) -> Check {
    use accounts::files;
    let e = etc(prefix);
    let read = |n: &str| std::fs::read_to_string(e.join(n));
    let (Ok(master), Ok(passwd), Ok(groups)) =
        (read("master.passwd"), read("passwd"), read("group"))
    else {
        return c(
            "accounts",
            Status::Fail,
            format!(
                "cannot read passwd, master.passwd and group in {}",
                e.display()
            ),
        );
    };
    let (_, master) = files::parse_master(&master);
    let (_, passwd) = files::parse_passwd(&passwd);
    let (_, groups) = files::parse_group(&groups);
    let key = |m: &files::MasterEntry| (m.name.clone(), m.uid.clone(), m.gid.clone());
    let mut a: Vec<_> = master.iter().map(key).collect();
    let mut b: Vec<_> = passwd.iter().map(key).collect();
    a.sort();
    b.sort();
    if a != b {
        let only: Vec<String> = a
            .iter()
            .filter(|x| !b.contains(x))
            .chain(b.iter().filter(|x| !a.contains(x)))
            .map(|x| x.0.clone())
            .collect();
        return c(
            "accounts",
            Status::Fail,
            format!(
                "passwd and master.passwd disagree about: {}",
                only.join(", ")
            ),
        );
    }
    if group.is_empty() {
        return c(
            "accounts",
            Status::Ok,
            "no build-users-group (single-user); passwd and master.passwd agree",
        );
    }
    let Some(g) = groups.iter().find(|g| g.name == group) else {
        return c(
            "accounts",
            Status::Fail,
            format!("build group `{group}` does not exist"),
        );
    };
    let members: Vec<&String> = g.members.iter().filter(|m| !m.is_empty()).collect();
    if members.is_empty() {
        return c(
            "accounts",
            Status::Fail,
            format!("build group `{group}` has no members; Nix cannot build"),
        );
    }
    let unknown: Vec<&&String> = members
        .iter()
        .filter(|m| !master.iter().any(|u| &&u.name == *m))
        .collect();
    if !unknown.is_empty() {
        return c(
            "accounts",
            Status::Fail,
            format!(
                "members of `{group}` without a user record: {}",
                unknown
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    c(
        "accounts",
        Status::Ok,
        format!(
            "build group `{group}` (gid {}) has {} members; passwd and master.passwd agree",
            g.gid,
            members.len()
        ),
    )
}

/// The report as text: one line per check (status, name, message), then
/// the counts and `healthy` or `NOT healthy`.
pub fn render(r: &Report) -> String {
    let mut s = String::new();
    for ch in &r.checks {
        let tag = match ch.status {
            Status::Ok => "ok  ",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        };
        s.push_str(&format!("{tag}  {:<15} {}\n", ch.id, ch.message));
    }
    s.push_str(&format!(
        "\n{} ok, {} warnings, {} failed, {} skipped: {}\n",
        r.summary["ok"],
        r.summary["warn"],
        r.summary["fail"],
        r.summary["skip"],
        if r.ok { "healthy" } else { "NOT healthy" }
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_a_wal_database_leaves_no_files_behind() {
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("db w.sqlite");
        {
            let c = rusqlite::Connection::open(&db).unwrap();
            c.query_row("PRAGMA journal_mode = wal", [], |_| Ok(()))
                .unwrap();
            c.execute_batch("CREATE TABLE ValidPaths (path TEXT); INSERT INTO ValidPaths VALUES ('/nix/store/x');")
                .unwrap();
        }
        let names = || {
            let mut v: Vec<String> = std::fs::read_dir(d.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        assert_eq!(names(), ["db w.sqlite"]);
        let meta = |p: &Path| {
            let m = std::fs::metadata(p).unwrap();
            (m.len(), m.modified().unwrap())
        };
        let before = meta(&db);
        let c = open_store_db(&db).unwrap();
        let n: i64 = c
            .query_row("SELECT COUNT(*) FROM ValidPaths", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        // While open too: SQLite removes a `-wal`/`-shm` it made when the
        // last connection closes, which would hide them after `drop`.
        assert_eq!(names(), ["db w.sqlite"]);
        drop(c);
        assert_eq!(names(), ["db w.sqlite"]);
        assert_eq!(meta(&db), before, "the database file was changed");
    }
}
