//! Installing Nix into a Darling prefix as a plan of actions. Each action
//! can say what it will do, whether it is already done, do it, and undo it
//! from what it recorded in the receipt
//! (`<prefix>/var/db/darling-nix/install-receipt.json`, replaced atomically
//! after every action, so an interrupted install can still be uninstalled).

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use darling_host::Runner;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use darling_host::TOOLS;

pub const GROUP: &str = "nixbld";
pub const GID: u32 = 350;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Root runs builds itself; no build users, no daemon.
    Single,
    /// Build users and a launchd nix-daemon plist.
    Daemon,
}

pub struct Settings {
    pub prefix: PathBuf,
    pub tarball: Option<String>,
    pub sha256: Option<String>,
    pub tools_dir: PathBuf,
    pub users: u32,
    pub mode: Mode,
    /// Darling's libsandbox is fixed: do not set `_NIX_TEST_NO_SANDBOX`.
    pub libsandbox_fixed: bool,
    pub cache_dir: PathBuf,
    pub timeout: Duration,
}

/// What one action recorded when it ran.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Record {
    pub id: String,
    /// Files created (host paths) that uninstall removes.
    #[serde(default)]
    pub created: Vec<String>,
    /// Files replaced: (host path, backup path) that uninstall restores.
    #[serde(default)]
    pub replaced: Vec<(String, String)>,
    /// Accounts created (users, then the group).
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub group: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Receipt {
    pub version: u32,
    pub records: Vec<Record>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub id: &'static str,
    pub description: String,
    /// "pending", "done" (already), "ran", "skipped", "failed"
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Step {
    fn new(id: &'static str, description: &str, status: &str, detail: Option<String>) -> Step {
        Step {
            id,
            description: description.to_string(),
            status: status.into(),
            detail,
        }
    }
}

pub type Res<T> = Result<T, String>;

pub struct Cx<'a> {
    pub s: &'a Settings,
    pub runner: &'a dyn Runner,
    pub receipt: Receipt,
    /// Facts found along the way: the unpacked Nix store path, reginfo.
    /// The verified tarball on the host, once fetched.
    pub tarball_local: Option<PathBuf>,
}

impl Cx<'_> {
    pub fn etc(&self) -> PathBuf {
        prefixfs::Prefix::at(&self.s.prefix).etc_dir()
    }
    pub fn var(&self) -> PathBuf {
        prefixfs::Prefix::at(&self.s.prefix).var_dir()
    }
    pub fn state_dir(&self) -> PathBuf {
        self.var().join("db/darling-nix")
    }
    fn receipt_path(&self) -> PathBuf {
        self.state_dir().join("install-receipt.json")
    }
    fn save_receipt(&self) -> Res<()> {
        let text = serde_json::to_vec_pretty(&self.receipt).map_err(|e| e.to_string())?;
        write_atomic(&self.receipt_path(), &text, 0o644)
    }
    fn run(&self, argv: &[&str], stdin: Option<&[u8]>) -> Res<darling_host::Output> {
        let o = self
            .runner
            .run(argv, stdin, self.s.timeout)
            .map_err(|e| e.to_string())?;
        if o.code != 0 {
            return Err(format!(
                "`{}` exited {}: {}",
                argv.join(" "),
                o.code,
                o.stderr.trim()
            ));
        }
        Ok(o)
    }
}

/// Write, fsync, rename: the old or the new content, never a torn file.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Res<()> {
    prefixfs::write_atomic(path, data, mode).map_err(|e| format!("writing {}: {e}", path.display()))
}

fn sha256_file(p: &Path) -> Res<String> {
    let mut f = fs::File::open(p).map_err(|e| format!("{}: {e}", p.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| format!("{}: {e}", p.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// `nix-2.34.1-x86_64-darwin.tar.xz` → ("2.34.1", "x86_64-darwin").
pub fn tarball_version(name: &str) -> Option<(String, String)> {
    let base = name.rsplit('/').next()?;
    let rest = base.strip_prefix("nix-")?;
    let stem = rest.split(".tar").next()?;
    let (ver, sys) = stem.split_once('-')?;
    Some((ver.to_string(), sys.to_string()))
}

/// Refuses tarballs Darling cannot use.
pub fn version_gate(name: &str) -> Res<Option<String>> {
    let Some((ver, sys)) = tarball_version(name) else {
        return Ok(Some(format!(
            "cannot tell the Nix version from `{name}`; expected nix-<version>-x86_64-darwin.tar.*"
        )));
    };
    if sys != "x86_64-darwin" {
        return Err(format!(
            "`{name}` is for {sys}; Darling runs x86_64-darwin only"
        ));
    }
    let mut n = ver.split('.').filter_map(|p| p.parse::<u32>().ok());
    let v = (n.next().unwrap_or(0), n.next().unwrap_or(0));
    if v >= (2, 35) {
        return Err(format!("Nix {ver} refuses macOS older than 14 and Darling reports 11.7.4; use Nix 2.34.x or older"));
    }
    Ok(None)
}

fn desired_conf(s: &Settings) -> String {
    let group = if s.mode == Mode::Daemon { GROUP } else { "" };
    format!("# Written by darling-nix nix-install.\nbuild-users-group = {group}\nsandbox = false\nsystem = x86_64-darwin\n")
}

fn desired_env(s: &Settings) -> String {
    let mut t = String::from("# Written by darling-nix nix-install; sourced by /etc/bashrc and /etc/zshenv.\nexport PATH=\"/nix/var/nix/profiles/default/bin:$PATH\"\n");
    if !s.libsandbox_fixed {
        t.push_str("# Darling's libsandbox cannot run Nix's sandbox profile yet.\nexport _NIX_TEST_NO_SANDBOX=1\n");
    }
    t
}

const HOOK_LINE: &str = "[ -r /etc/nix/nix-darling.sh ] && . /etc/nix/nix-darling.sh # darling-nix";

// --- the actions ------------------------------------------------------------

pub struct Action {
    pub id: &'static str,
    pub describe: fn(&Settings) -> String,
    pub is_done: fn(&mut Cx) -> Res<bool>,
    pub execute: fn(&mut Cx, &mut Record) -> Res<()>,
}

pub fn actions() -> Vec<Action> {
    vec![
        Action {
            id: "check-darling",
            describe: |_| {
                "check that the prefix can be driven (darling or the fixture runner)".into()
            },
            is_done: |_| Ok(false),
            execute: check_darling,
        },
        Action {
            id: "install-tools",
            describe: |s| {
                format!("install dscl, dseditgroup, sysadminctl, diskutil and sandbox-exec from {} into the prefix", s.tools_dir.display())
            },
            is_done: tools_done,
            execute: install_tools,
        },
        Action {
            id: "build-users",
            describe: |s| {
                if s.mode == Mode::Daemon {
                    format!(
                        "create group {GROUP} (gid {GID}) and {} build users _nixbld1..",
                        s.users
                    )
                } else {
                    "no build users (single-user mode)".into()
                }
            },
            is_done: users_done,
            execute: create_users,
        },
        Action {
            id: "fetch-tarball",
            describe: |s| {
                format!(
                    "get and verify the Nix tarball {}",
                    s.tarball.as_deref().unwrap_or("(none given)")
                )
            },
            is_done: |_| Ok(false),
            execute: fetch_tarball,
        },
        Action {
            id: "unpack-store",
            describe: |_| "unpack the tarball's store paths into <prefix>/nix/store".into(),
            is_done: store_done,
            execute: unpack_store,
        },
        Action {
            id: "load-db",
            describe: |_| {
                "load the store database with the tarball's nix-store --load-db, inside".into()
            },
            is_done: db_done,
            execute: load_db,
        },
        Action {
            id: "profile",
            describe: |_| "point /nix/var/nix/profiles/default at the installed Nix".into(),
            is_done: profile_done,
            execute: make_profile,
        },
        Action {
            id: "nix-conf",
            describe: |s| {
                format!(
                    "write /etc/nix/nix.conf and the shell environment{}",
                    if s.libsandbox_fixed {
                        ""
                    } else {
                        " (with _NIX_TEST_NO_SANDBOX=1)"
                    }
                )
            },
            is_done: conf_done,
            execute: write_conf,
        },
        Action {
            id: "daemon",
            describe: |s| {
                if s.mode == Mode::Daemon {
                    "write the launchd plist for nix-daemon".into()
                } else {
                    "no daemon (single-user mode)".into()
                }
            },
            is_done: daemon_done,
            execute: write_daemon,
        },
    ]
}

fn check_darling(cx: &mut Cx, _: &mut Record) -> Res<()> {
    if !cx.s.prefix.is_dir() {
        // `darling shell true` creates a fresh prefix.
        cx.run(&["true"], None)
            .map_err(|e| format!("initialising {}: {e}", cx.s.prefix.display()))?;
    }
    if !cx.etc().is_dir() {
        return Err(format!(
            "{} is not an initialised Darling prefix (no etc)",
            cx.s.prefix.display()
        ));
    }
    Ok(())
}

fn tools_done(cx: &mut Cx) -> Res<bool> {
    Ok(TOOLS.iter().all(|(name, at)| {
        let (a, b) = (cx.s.tools_dir.join(name), cx.s.prefix.join(at));
        matches!((fs::read(&a), fs::read(&b)), (Ok(x), Ok(y)) if x == y)
    }))
}

fn install_tools(cx: &mut Cx, rec: &mut Record) -> Res<()> {
    let backups = cx.state_dir().join("backup");
    for (name, at) in TOOLS {
        let src = cx.s.tools_dir.join(name);
        let data = fs::read(&src).map_err(|e| {
            format!(
                "{}: {e} (build the tools, or pass --tools-dir)",
                src.display()
            )
        })?;
        let dest = cx.s.prefix.join(at);
        match fs::read(&dest) {
            Ok(old) if old == data => continue,
            Ok(old) => {
                let b = backups.join(name);
                write_atomic(&b, &old, 0o755)?;
                rec.replaced
                    .push((dest.display().to_string(), b.display().to_string()));
            }
            Err(_) => rec.created.push(dest.display().to_string()),
        }
        write_atomic(&dest, &data, 0o755)?;
    }
    Ok(())
}

fn group_members(cx: &Cx) -> Option<Vec<String>> {
    let text = fs::read_to_string(cx.etc().join("group")).ok()?;
    let (_, groups) = accounts::files::parse_group(&text);
    groups
        .into_iter()
        .find(|g| g.name == GROUP)
        .map(|g| g.members.into_iter().filter(|m| !m.is_empty()).collect())
}

fn users_done(cx: &mut Cx) -> Res<bool> {
    if cx.s.mode == Mode::Single {
        return Ok(true);
    }
    Ok(group_members(cx)
        .is_some_and(|m| (1..=cx.s.users).all(|i| m.contains(&format!("_nixbld{i}")))))
}

/// All account changes as one shell script run once inside: one
/// `darling shell` start instead of hundreds.
fn create_users(cx: &mut Cx, rec: &mut Record) -> Res<()> {
    use darling_host::sh_quote as q;
    let mut script = String::from("set -e\n");
    if group_members(cx).is_none() {
        script.push_str(&format!(
            "dseditgroup -o create -r {} -i {GID} {GROUP}\n",
            q("Nix build group for nix-daemon")
        ));
        rec.group = Some(GROUP.into());
    }
    let master = fs::read_to_string(cx.etc().join("master.passwd")).unwrap_or_default();
    let (_, users) = accounts::files::parse_master(&master);
    for i in 1..=cx.s.users {
        let u = format!("_nixbld{i}");
        let path = format!("/Users/{u}");
        if !users.iter().any(|x| x.name == u) {
            script.push_str(&format!("dscl . -create {path}\n"));
            rec.users.push(u.clone());
            for (k, v) in [
                ("UniqueID", (GID + i).to_string()),
                ("PrimaryGroupID", GID.to_string()),
                ("NFSHomeDirectory", "/var/empty".into()),
                ("UserShell", "/sbin/nologin".into()),
                ("RealName", format!("Nix build user {i}")),
                ("IsHidden", "1".into()),
            ] {
                script.push_str(&format!("dscl . -create {path} {k} {}\n", q(&v)));
            }
        }
        script.push_str(&format!("dseditgroup -o edit -t user -a {u} {GROUP}\n"));
    }
    cx.run(&["/bin/sh", "-c", &script], None)?;
    Ok(())
}

fn fetch_tarball(cx: &mut Cx, rec: &mut Record) -> Res<()> {
    let src =
        cx.s.tarball
            .clone()
            .ok_or("no Nix tarball given (--tarball PATH|URL)")?;
    if let Some(warning) = version_gate(&src)? {
        eprintln!("nix-install: warning: {warning}");
    }
    let local = if src.starts_with("https://") || src.starts_with("http://") {
        let Some(_) = &cx.s.sha256 else {
            return Err(
                "downloading needs --sha256 (the hash published next to the tarball)".into(),
            );
        };
        let name = src.rsplit('/').next().unwrap_or("nix.tar.xz");
        let dest = cx.s.cache_dir.join(name);
        fs::create_dir_all(&cx.s.cache_dir).map_err(|e| e.to_string())?;
        let partial = dest.with_extension("partial");
        let st = Command::new("curl")
            .args(["-fL", "--progress-bar", "-o"])
            .arg(&partial)
            .arg(&src)
            .status()
            .map_err(|e| format!("curl: {e}"))?;
        if !st.success() {
            return Err(format!("downloading {src} failed ({st})"));
        }
        fs::rename(&partial, &dest).map_err(|e| e.to_string())?;
        rec.created.push(dest.display().to_string());
        dest
    } else {
        PathBuf::from(&src)
    };
    if let Some(want) = &cx.s.sha256 {
        let got = sha256_file(&local)?;
        if !got.eq_ignore_ascii_case(want.trim()) {
            return Err(format!(
                "{}: sha256 is {got}, expected {want}",
                local.display()
            ));
        }
    }
    cx.tarball_local = Some(local);
    Ok(())
}

/// Lists `store/` and `.reginfo` of an unpacked tarball.
fn unpacked(dir: &Path) -> Res<(PathBuf, PathBuf)> {
    for e in fs::read_dir(dir).map_err(|e| e.to_string())? {
        let p = e.map_err(|e| e.to_string())?.path();
        if p.join("store").is_dir() && p.join(".reginfo").is_file() {
            return Ok((p.join("store"), p.join(".reginfo")));
        }
    }
    Err("the tarball has no <dir>/store and <dir>/.reginfo (is it a Nix binary tarball?)".into())
}

fn reginfo_paths(text: &str) -> Vec<String> {
    // Blocks: path, hash, size, deriver, nrefs, refs...
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 4 < lines.len() {
        out.push(lines[i].to_string());
        let n: usize = lines[i + 4].trim().parse().unwrap_or(0);
        i += 5 + n;
    }
    out
}

fn saved_reginfo(cx: &Cx) -> PathBuf {
    cx.state_dir().join("reginfo")
}

fn store_done(cx: &mut Cx) -> Res<bool> {
    let Ok(text) = fs::read_to_string(saved_reginfo(cx)) else {
        return Ok(false);
    };
    let paths = reginfo_paths(&text);
    Ok(!paths.is_empty()
        && paths
            .iter()
            .all(|p| cx.s.prefix.join(p.trim_start_matches('/')).exists()))
}

fn unpack_store(cx: &mut Cx, rec: &mut Record) -> Res<()> {
    let tarball = cx.tarball_local.clone().ok_or("no tarball fetched")?;
    let tmp_base = cx.s.prefix.join("private/tmp");
    let tmp_base = if tmp_base.is_dir() {
        tmp_base
    } else {
        cx.s.prefix.join("tmp")
    };
    fs::create_dir_all(&tmp_base).map_err(|e| e.to_string())?;
    let work = tempfile::Builder::new()
        .prefix("nix-install.")
        .tempdir_in(&tmp_base)
        .map_err(|e| e.to_string())?;
    let st = Command::new("tar")
        .arg("-xf")
        .arg(&tarball)
        .arg("-C")
        .arg(work.path())
        .status()
        .map_err(|e| format!("tar: {e}"))?;
    if !st.success() {
        return Err(format!("unpacking {} failed ({st})", tarball.display()));
    }
    let (store, reginfo) = unpacked(work.path())?;
    let nix_root = cx.s.prefix.join("nix");
    if fs::symlink_metadata(&nix_root).is_err() {
        // Ours entirely: uninstall may remove all of /nix. (A /nix that
        // already exists, such as the host store bind-mounted for direct
        // mode, is never recorded and never removed.)
        rec.created.push(nix_root.display().to_string());
    }
    let store_dir = nix_root.join("store");
    fs::create_dir_all(&store_dir).map_err(|e| e.to_string())?;
    for e in fs::read_dir(&store).map_err(|e| e.to_string())? {
        let p = e.map_err(|e| e.to_string())?.path();
        let dest = store_dir.join(p.file_name().unwrap());
        if dest.exists() {
            continue;
        }
        fs::rename(&p, &dest).map_err(|e| format!("moving {} into the store: {e}", p.display()))?;
        rec.created.push(dest.display().to_string());
    }
    let text = fs::read(&reginfo).map_err(|e| e.to_string())?;
    write_atomic(&saved_reginfo(cx), &text, 0o644)?;
    rec.created.push(saved_reginfo(cx).display().to_string());
    Ok(())
}

fn nix_store_path(cx: &Cx) -> Res<String> {
    let text = fs::read_to_string(saved_reginfo(cx)).map_err(|e| e.to_string())?;
    reginfo_paths(&text)
        .into_iter()
        .find(|p| {
            let name = p.rsplit('/').next().unwrap_or("");
            name.get(33..).is_some_and(|n| {
                n.starts_with("nix-") && n[4..].starts_with(|c: char| c.is_ascii_digit())
            }) && cx
                .s
                .prefix
                .join(p.trim_start_matches('/'))
                .join("bin/nix-store")
                .exists()
        })
        .ok_or_else(|| "no nix-<version> store path with bin/nix-store in the tarball".to_string())
}

fn db_path(cx: &Cx) -> PathBuf {
    cx.s.prefix.join("nix/var/nix/db/db.sqlite")
}

fn db_done(cx: &mut Cx) -> Res<bool> {
    let Ok(text) = fs::read_to_string(saved_reginfo(cx)) else {
        return Ok(false);
    };
    if !db_path(cx).exists() {
        return Ok(false);
    }
    let conn = rusqlite::Connection::open_with_flags(
        db_path(cx),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .map_err(|e| e.to_string())?;
    for p in reginfo_paths(&text) {
        let n: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM ValidPaths WHERE path = ?1",
                [&p],
                |r| r.get(0),
            )
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Ok(false);
        }
    }
    Ok(true)
}

fn load_db(cx: &mut Cx, rec: &mut Record) -> Res<()> {
    let nix = nix_store_path(cx)?;
    let reginfo = fs::read(saved_reginfo(cx)).map_err(|e| e.to_string())?;
    let db_dir = cx.s.prefix.join("nix/var/nix/db");
    if !db_dir.exists() {
        rec.created.push(db_dir.display().to_string());
    }
    cx.run(
        &[&format!("{nix}/bin/nix-store"), "--load-db"],
        Some(&reginfo),
    )?;
    Ok(())
}

fn profile_link(cx: &Cx) -> PathBuf {
    cx.s.prefix.join("nix/var/nix/profiles/default")
}

fn profile_done(cx: &mut Cx) -> Res<bool> {
    let Ok(nix) = nix_store_path(cx) else {
        return Ok(false);
    };
    Ok(
        fs::read_link(cx.s.prefix.join("nix/var/nix/profiles/default-1-link"))
            .ok()
            .as_deref()
            == Some(Path::new(&nix))
            && fs::read_link(profile_link(cx)).is_ok(),
    )
}

fn make_profile(cx: &mut Cx, rec: &mut Record) -> Res<()> {
    let nix = nix_store_path(cx)?;
    let dir = cx.s.prefix.join("nix/var/nix/profiles");
    fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    // Relative links inside the profiles dir, absolute to the (logical) store.
    for (link, target) in [
        ("default-1-link", nix.as_str()),
        ("default", "default-1-link"),
    ] {
        let p = dir.join(link);
        let tmp = dir.join(format!(".{link}.darling-nix.tmp"));
        let _ = fs::remove_file(&tmp);
        std::os::unix::fs::symlink(target, &tmp).map_err(|e| e.to_string())?;
        if fs::symlink_metadata(&p).is_err() {
            rec.created.push(p.display().to_string());
        }
        fs::rename(&tmp, &p).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn conf_files(cx: &Cx) -> Vec<(PathBuf, String, bool)> {
    // (path, desired content, whole file?) — shell rc files only get a line.
    vec![
        (cx.etc().join("nix/nix.conf"), desired_conf(cx.s), true),
        (cx.etc().join("nix/nix-darling.sh"), desired_env(cx.s), true),
        (cx.etc().join("bashrc"), HOOK_LINE.to_string(), false),
        (cx.etc().join("zshenv"), HOOK_LINE.to_string(), false),
    ]
}

fn conf_done(cx: &mut Cx) -> Res<bool> {
    Ok(conf_files(cx)
        .iter()
        .all(|(p, want, whole)| match fs::read_to_string(p) {
            Ok(t) if *whole => &t == want,
            Ok(t) => t.lines().any(|l| l == want),
            Err(_) => false,
        }))
}

fn replace_file(cx: &Cx, rec: &mut Record, path: &Path, data: &[u8]) -> Res<()> {
    match fs::read(path) {
        Ok(old) if old == data => return Ok(()),
        Ok(old) => {
            let b = cx
                .state_dir()
                .join("backup")
                .join(path.file_name().unwrap());
            write_atomic(&b, &old, 0o644)?;
            rec.replaced
                .push((path.display().to_string(), b.display().to_string()));
        }
        Err(_) => rec.created.push(path.display().to_string()),
    }
    write_atomic(path, data, 0o644)
}

fn write_conf(cx: &mut Cx, rec: &mut Record) -> Res<()> {
    for (p, want, whole) in conf_files(cx) {
        if whole {
            replace_file(cx, rec, &p, want.as_bytes())?;
        } else {
            let old = fs::read_to_string(&p).unwrap_or_default();
            if old.lines().any(|l| l == want) {
                continue;
            }
            let mut new = old.clone();
            if !new.is_empty() && !new.ends_with('\n') {
                new.push('\n');
            }
            new.push_str(&want);
            new.push('\n');
            replace_file(cx, rec, &p, new.as_bytes())?;
        }
    }
    Ok(())
}

fn daemon_plist(cx: &Cx) -> PathBuf {
    cx.s.prefix
        .join("Library/LaunchDaemons/org.nixos.nix-daemon.plist")
}

fn plist_text(s: &Settings) -> String {
    let env = if s.libsandbox_fixed {
        String::new()
    } else {
        "\t<key>EnvironmentVariables</key>\n\t<dict>\n\t\t<key>_NIX_TEST_NO_SANDBOX</key>\n\t\t<string>1</string>\n\t</dict>\n".into()
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n<plist version=\"1.0\">\n<dict>\n{env}\t<key>Label</key>\n\t<string>org.nixos.nix-daemon</string>\n\t<key>KeepAlive</key>\n\t<true/>\n\t<key>ProgramArguments</key>\n\t<array>\n\t\t<string>/nix/var/nix/profiles/default/bin/nix-daemon</string>\n\t</array>\n\t<key>RunAtLoad</key>\n\t<true/>\n\t<key>StandardErrorPath</key>\n\t<string>/var/log/nix-daemon.log</string>\n</dict>\n</plist>\n"
    )
}

fn daemon_done(cx: &mut Cx) -> Res<bool> {
    if cx.s.mode == Mode::Single {
        return Ok(true);
    }
    Ok(fs::read_to_string(daemon_plist(cx)).ok().as_deref() == Some(plist_text(cx.s).as_str()))
}

fn write_daemon(cx: &mut Cx, rec: &mut Record) -> Res<()> {
    let p = daemon_plist(cx);
    replace_file(cx, rec, &p, plist_text(cx.s).as_bytes())
}

// --- driving the plan ---------------------------------------------------------

pub fn load_receipt(cx: &Cx) -> Receipt {
    fs::read(cx.receipt_path())
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Receipt {
            version: 1,
            records: vec![],
        })
}

/// The plan with each action's current state, without changing anything.
pub fn plan(cx: &mut Cx) -> Vec<Step> {
    actions()
        .iter()
        .map(|a| {
            let done = (a.is_done)(cx);
            Step {
                id: a.id,
                description: (a.describe)(cx.s),
                status: match &done {
                    Ok(true) => "done".into(),
                    Ok(false) => "pending".into(),
                    Err(_) => "pending".into(),
                },
                detail: done.err(),
            }
        })
        .collect()
}

/// What `uninstall` would undo, newest first, without changing anything.
pub fn uninstall_plan(cx: &Cx) -> Vec<Step> {
    load_receipt(cx)
        .records
        .iter()
        .rev()
        .map(|rec| Step {
            id: actions()
                .iter()
                .find(|a| a.id == rec.id)
                .map(|a| a.id)
                .unwrap_or("unknown"),
            description: format!(
                "revert: remove {} files, restore {}, delete {} users{}",
                rec.created.len(),
                rec.replaced.len(),
                rec.users.len(),
                if rec.group.is_some() {
                    " and the group"
                } else {
                    ""
                }
            ),
            status: "pending".into(),
            detail: None,
        })
        .collect()
}

/// Runs every action that is not done yet; stops at the first failure.
pub fn install(cx: &mut Cx) -> (Vec<Step>, Res<()>) {
    cx.receipt = load_receipt(cx);
    cx.receipt.version = 1;
    let mut steps = Vec::new();
    for a in actions() {
        let description = (a.describe)(cx.s);
        let always = matches!(a.id, "check-darling" | "fetch-tarball");
        match (a.is_done)(cx) {
            Ok(true) if !always => {
                steps.push(Step::new(a.id, &description, "done", None));
                continue;
            }
            Err(e) => {
                steps.push(Step::new(a.id, &description, "failed", Some(e.clone())));
                return (steps, Err(format!("{}: {e}", a.id)));
            }
            _ => {}
        }
        // fetch-tarball is only needed when the store is not unpacked yet.
        if a.id == "fetch-tarball" && store_done(cx).unwrap_or(false) {
            steps.push(Step::new(a.id, &description, "done", None));
            continue;
        }
        let mut rec = Record {
            id: a.id.into(),
            ..Default::default()
        };
        let r = (a.execute)(cx, &mut rec);
        let changed = !rec.created.is_empty()
            || !rec.replaced.is_empty()
            || !rec.users.is_empty()
            || rec.group.is_some();
        if changed {
            cx.receipt.records.push(rec);
            if let Err(e) = cx.save_receipt() {
                return (steps, Err(e));
            }
        }
        match r {
            Ok(()) => steps.push(Step::new(
                a.id,
                &description,
                if changed { "ran" } else { "done" },
                None,
            )),
            Err(e) => {
                steps.push(Step::new(a.id, &description, "failed", Some(e.clone())));
                return (steps, Err(format!("{}: {e}", a.id)));
            }
        }
    }
    (steps, Ok(()))
}

fn remove_any(p: &Path) -> io::Result<()> {
    let m = match fs::symlink_metadata(p) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if m.is_dir() {
        // Store paths are read-only after canonicalisation.
        fn writable(p: &Path) {
            if let Ok(m) = fs::symlink_metadata(p) {
                if m.is_dir() {
                    let _ = fs::set_permissions(p, fs::Permissions::from_mode(0o755));
                    if let Ok(rd) = fs::read_dir(p) {
                        for e in rd.flatten() {
                            writable(&e.path());
                        }
                    }
                }
            }
        }
        writable(p);
        fs::remove_dir_all(p)
    } else {
        fs::remove_file(p)
    }
}

/// Undoes every recorded action, newest first.
pub fn uninstall(cx: &mut Cx) -> (Vec<Step>, Res<()>) {
    cx.receipt = load_receipt(cx);
    let mut steps = Vec::new();
    while let Some(rec) = cx.receipt.records.pop() {
        let id: &'static str = actions()
            .iter()
            .find(|a| a.id == rec.id)
            .map(|a| a.id)
            .unwrap_or("unknown");
        let r = (|| -> Res<()> {
            for u in &rec.users {
                let o = cx
                    .runner
                    .run(
                        &["/usr/bin/dscl", ".", "-delete", &format!("/Users/{u}")],
                        None,
                        cx.s.timeout,
                    )
                    .map_err(|e| e.to_string())?;
                if o.code != 0 && o.code != 185 && o.code != 56 {
                    return Err(format!("deleting {u}: {}", o.stderr.trim()));
                }
            }
            if let Some(g) = &rec.group {
                let o = cx
                    .runner
                    .run(
                        &["/usr/sbin/dseditgroup", "-o", "delete", g],
                        None,
                        cx.s.timeout,
                    )
                    .map_err(|e| e.to_string())?;
                if o.code != 0 && o.code != 64 {
                    return Err(format!("deleting group {g}: {}", o.stderr.trim()));
                }
            }
            for (path, backup) in &rec.replaced {
                let data = fs::read(backup).map_err(|e| format!("{backup}: {e}"))?;
                let mode = if rec.id == "install-tools" {
                    0o755
                } else {
                    0o644
                };
                write_atomic(Path::new(path), &data, mode)?;
                let _ = fs::remove_file(backup);
            }
            for path in rec.created.iter().rev() {
                remove_any(Path::new(path)).map_err(|e| format!("removing {path}: {e}"))?;
            }
            Ok(())
        })();
        if let Err(e) = r {
            cx.receipt.records.push(rec);
            let _ = cx.save_receipt();
            steps.push(Step {
                id,
                description: "revert".into(),
                status: "failed".into(),
                detail: Some(e.clone()),
            });
            return (steps, Err(e));
        }
        let _ = cx.save_receipt();
        steps.push(Step {
            id,
            description: "revert".into(),
            status: "ran".into(),
            detail: None,
        });
    }
    let _ = fs::remove_file(cx.receipt_path());
    let _ = fs::remove_dir(cx.state_dir().join("backup"));
    let _ = fs::remove_dir(cx.state_dir());
    (steps, Ok(()))
}

pub fn render(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|s| {
            format!(
                "{:<8} {:<14} {}{}\n",
                s.status,
                s.id,
                s.description,
                s.detail
                    .as_ref()
                    .map(|d| format!("\n         {d}"))
                    .unwrap_or_default()
            )
        })
        .collect()
}

pub fn render_map(steps: &[Step]) -> BTreeMap<&'static str, String> {
    steps.iter().map(|s| (s.id, s.status.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_gates() {
        assert_eq!(
            tarball_version("https://x/nix-2.34.1-x86_64-darwin.tar.xz"),
            Some(("2.34.1".into(), "x86_64-darwin".into()))
        );
        assert!(version_gate("nix-2.35.0-x86_64-darwin.tar.xz")
            .unwrap_err()
            .contains("macOS older than 14"));
        assert!(version_gate("nix-2.34.1-aarch64-darwin.tar.xz").is_err());
        assert_eq!(
            version_gate("nix-2.24.9-x86_64-darwin.tar.xz").unwrap(),
            None
        );
        assert!(version_gate("mynix.tar").unwrap().is_some());
    }

    #[test]
    fn reginfo_blocks() {
        let t = "/nix/store/a\nh\n1\n\n1\n/nix/store/b\n/nix/store/b\nh\n1\n\n0\n";
        assert_eq!(reginfo_paths(t), vec!["/nix/store/a", "/nix/store/b"]);
    }
}
