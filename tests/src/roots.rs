//! Real Nix versions for the end-to-end tests: Debian's nix-bin on the host
//! (bookworm, 2.8) and Debian roots made by `mmdebstrap` holding trixie's
//! 2.26 and sid's 2.34. A root is built once, under a lock, into a
//! directory the tests own (`$DARLING_NIX_ROOTS_DIR`, default
//! `<target>/nix-roots`) and shared by every test. Nix runs inside a root
//! in a private mount namespace (the root pivoted to `/`, its own `/proc`),
//! so nothing is left mounted when the command ends.
//!
//! A missing root is one skip line on stderr; with
//! `DARLING_NIX_ROOTS=require` (what `.ci/run` sets) it is a failure.

use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Every Nix the suite runs against: (name, the Debian suite and the exact
/// `nix-bin` version a root is made with; None for the host's own nix-bin).
/// Pinned: a suite that moves on (sid does) makes the root build fail with
/// a message naming this table, rather than the tests silently running
/// another Nix.
pub const VERSIONS: &[(&str, Option<Pin>)] = &[
    ("2.8", None),
    (
        "2.26",
        Some(Pin {
            suite: "trixie",
            nix_bin: "2.26.3+dfsg-1",
        }),
    ),
    (
        "2.34",
        Some(Pin {
            suite: "sid",
            nix_bin: "2.34.8+dfsg-1+b1",
        }),
    ),
];

/// Where a root's Nix comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pin {
    /// The Debian suite mmdebstrap makes the root from.
    pub suite: &'static str,
    /// The `nix-bin` package version installed in it.
    pub nix_bin: &'static str,
}

impl Pin {
    /// The upstream Nix version the package carries ("2.26.3").
    pub fn nix_version(&self) -> &'static str {
        self.nix_bin.split('+').next().unwrap_or(self.nix_bin)
    }
}

/// What a root holds besides a minimal Debian and its pinned `nix-bin`: a
/// static shell for the chroot runner, and an ssh client for Nix's
/// `ssh-ng://` builders.
pub const PACKAGES: &str = "busybox-static,openssh-client";

/// Whether `DARLING_NIX_ROOTS=require` is set (CI): a missing root fails.
pub fn required() -> bool {
    std::env::var("DARLING_NIX_ROOTS").is_ok_and(|v| v == "require")
}

/// Where roots are kept between runs.
pub fn roots_dir() -> PathBuf {
    match std::env::var_os("DARLING_NIX_ROOTS_DIR").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => crate::bin_dir()
            .parent()
            .map(|t| t.join("nix-roots"))
            .expect("target dir"),
    }
}

/// The nix.conf every command in a root reads (a tests-only directory, so
/// Debian's own /etc/nix/nix.conf is left as shipped).
const CONF_DIR: &str = "/etc/darling-nix-tests";
const CONF: &str = "build-users-group =\nsubstituters =\nbuilders =\nrequire-sigs = false\n";

/// One Nix to run: the host's, or the one inside a root.
#[derive(Debug, Clone)]
pub struct NixEnv {
    /// "2.8", "2.26", "2.34".
    pub name: &'static str,
    /// (major, minor) as `nix-store --version` prints it.
    pub version: (u32, u32),
    /// The root directory on the host (None: the host itself).
    pub root: Option<PathBuf>,
}

impl NixEnv {
    /// The Nix called `name`, or None after one skip line naming `test`.
    pub fn get(name: &str, test: &str) -> Option<NixEnv> {
        let &(name, pin) = VERSIONS
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("unknown Nix version {name}"));
        let env = match pin {
            None => {
                crate::nix::require_nix();
                Ok(NixEnv {
                    name,
                    version: (0, 0),
                    root: None,
                })
            }
            Some(pin) => ensure_root(pin).map(|root| NixEnv {
                name,
                version: (0, 0),
                root: Some(root),
            }),
        };
        match env {
            Ok(mut env) => {
                let o = env.command("nix-store").arg("--version").output();
                let text = o
                    .as_ref()
                    .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                    .unwrap_or_default();
                env.version = parse_version(&text).unwrap_or_else(|| {
                    panic!("Nix {name}: nix-store --version said {text:?} ({o:?})")
                });
                if let Some(pin) = pin {
                    let said = text.split_whitespace().last().unwrap_or_default();
                    assert_eq!(
                        said,
                        pin.nix_version(),
                        "the Nix {name} root runs another Nix than its pin (remove {} to rebuild it)",
                        roots_dir().join(pin.suite).display()
                    );
                }
                Some(env)
            }
            Err(why) => {
                assert!(
                    !required(),
                    "Nix {name} root required (DARLING_NIX_ROOTS=require) but {why}"
                );
                crate::skip_line(&format!(
                    "skipped {test} against Nix {name}: {why} (needs root and mmdebstrap; DARLING_NIX_ROOTS=require makes this a failure)"
                ));
                None
            }
        }
    }

    /// Whether this Nix is `major.minor` or newer.
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        self.version >= (major, minor)
    }

    /// Runs `program` of this Nix (inside its root, if it has one).
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.stdin(Stdio::null());
        if let Some(root) = &self.root {
            c.env("NIX_CONF_DIR", CONF_DIR)
                .env("HOME", "/root")
                .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
            enter_root(&mut c, root);
        }
        c
    }

    /// The path Nix sees for the host path `host` (which must be inside
    /// the root).
    pub fn inside(&self, host: &Path) -> PathBuf {
        match &self.root {
            None => host.to_path_buf(),
            Some(r) => Path::new("/").join(
                host.strip_prefix(r)
                    .unwrap_or_else(|_| panic!("{} is not in {}", host.display(), r.display())),
            ),
        }
    }

    /// A scratch directory visible to this Nix (in the root's /tmp).
    pub fn tempdir(&self) -> tempfile::TempDir {
        match &self.root {
            None => tempfile::tempdir().expect("tempdir"),
            Some(r) => tempfile::Builder::new()
                .prefix("e2e-")
                .tempdir_in(r.join("tmp"))
                .expect("tempdir in root"),
        }
    }

    /// Puts `file` (e.g. our hook binary) where this Nix can run it, in
    /// `dir` (a directory from [`NixEnv::tempdir`]); returns the path Nix
    /// sees.
    pub fn install(&self, file: &Path, dir: &Path) -> PathBuf {
        if self.root.is_none() {
            return file.to_path_buf();
        }
        let dest = dir.join(file.file_name().expect("file name"));
        if !dest.exists() && fs::hard_link(file, &dest).is_err() {
            fs::copy(file, &dest).expect("copying into the root");
        }
        self.inside(&dest)
    }
}

fn parse_version(text: &str) -> Option<(u32, u32)> {
    let v = text.lines().next()?.split_whitespace().last()?;
    let mut it = v.split('.');
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// Makes `c` run with `root` as its `/`, in a mount namespace of its own
/// with a fresh `/proc` (Nix reads /proc/self/exe) and `/dev/pts`.
fn enter_root(c: &mut Command, root: &Path) {
    let root = CString::new(root.as_os_str().as_bytes()).expect("root path");
    let slash = c"/";
    let dot = c".";
    let proc_ = c"proc";
    let proc_dir = c"/proc";
    let devpts = c"devpts";
    let pts_dir = c"/dev/pts";
    let pts_opts = c"newinstance,ptmxmode=0666,mode=0620";
    // SAFETY: the closure runs between fork and exec; it only makes system
    // calls on C strings prepared before the fork (no allocation).
    unsafe {
        c.pre_exec(move || {
            use nix::mount::{mount, umount2, MntFlags, MsFlags};
            let none: Option<&std::ffi::CStr> = None;
            private_mount_namespace()?;
            mount(
                Some(root.as_c_str()),
                root.as_c_str(),
                none,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                none,
            )?;
            nix::unistd::chdir(root.as_c_str())?;
            nix::unistd::pivot_root(dot, dot)?;
            umount2(dot, MntFlags::MNT_DETACH)?;
            nix::unistd::chdir(slash)?;
            mount(Some(proc_), proc_dir, Some(proc_), MsFlags::empty(), none)?;
            // Nix's sandbox gives builders a pseudo-terminal.
            mount(
                Some(devpts),
                pts_dir,
                Some(devpts),
                MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
                Some(pts_opts),
            )?;
            Ok(())
        });
    }
}

/// For a `pre_exec` closure: a mount namespace of the child's own, with
/// `/` made private so that its mounts stay in it. System calls on static
/// strings only, so it is safe between fork and exec.
pub(crate) fn private_mount_namespace() -> nix::Result<()> {
    use nix::mount::{mount, MsFlags};
    let none: Option<&std::ffi::CStr> = None;
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)?;
    mount(
        none,
        c"/",
        none,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        none,
    )
}

/// The root for `pin`, built now if it is missing (or was made for another
/// pin) and mmdebstrap is installed.
fn ensure_root(pin: Pin) -> Result<PathBuf, String> {
    let suite = pin.suite;
    if !crate::is_root() {
        return Err("the tests are not running as root".into());
    }
    let dir = roots_dir();
    let root = dir.join(suite);
    let marker = root.join(".darling-nix-root");
    // The cache key: a root made for another suite, package set or Nix is
    // made again.
    let want = format!("{suite} {PACKAGES} nix-bin={}\n", pin.nix_bin);
    let current = || fs::read_to_string(&marker).ok().as_deref() == Some(want.as_str());
    let conf = root.join(CONF_DIR.trim_start_matches('/')).join("nix.conf");
    let db = root.join("nix/var/nix/db/db.sqlite");
    let ready =
        || current() && db.exists() && fs::read_to_string(&conf).ok().as_deref() == Some(CONF);
    if ready() {
        return Ok(root);
    }
    fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    // One process or thread readies a suite's root; the others wait here.
    let lock = fs::File::create(dir.join(format!("{suite}.lock")))
        .map_err(|e| format!("lock in {}: {e}", dir.display()))?;
    lock.lock().map_err(|e| format!("locking: {e}"))?;
    if !current() {
        build_root(pin, &dir, &root, &want)?;
    }
    if fs::read_to_string(&conf).ok().as_deref() != Some(CONF) {
        fs::create_dir_all(conf.parent().unwrap())
            .map_err(|e| format!("creating {}: {e}", conf.display()))?;
        write_replace(&conf, CONF)?;
    }
    if !db.exists() {
        // The first Nix command in a root creates its store database; two
        // at once make the second fail ("database is busy"). Create it here,
        // under the lock, before the tests share the root.
        let env = NixEnv {
            name: "init",
            version: (0, 0),
            root: Some(root.clone()),
        };
        let o = env
            .command("nix-store")
            .arg("--verify")
            .output()
            .map_err(|e| format!("running nix-store in {}: {e}", root.display()))?;
        if !o.status.success() || !db.exists() {
            return Err(format!(
                "nix-store --verify did not make {} ({}: {})",
                db.display(),
                o.status,
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        }
    }
    Ok(root)
}

/// Atomic replace without depending on prefixfs. The temporary file's name
/// is unique per call: tests in one process (one pid) run in parallel
/// threads and may write the same file at once.
fn write_replace(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let dir = path.parent().expect("a file in a directory");
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| format!("temporary file in {}: {e}", dir.display()))?;
    tmp.write_all(text.as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| format!("writing {}: {e}", tmp.path().display()))?;
    tmp.persist(path)
        .map_err(|e| format!("replacing {}: {}", path.display(), e.error))?;
    Ok(())
}

fn build_root(pin: Pin, dir: &Path, root: &Path, marker: &str) -> Result<(), String> {
    let suite = pin.suite;
    let mm = which::which("mmdebstrap").map_err(|_| {
        format!(
            "no root at {} and mmdebstrap is not installed (`bash .ci/run` installs it)",
            root.display()
        )
    })?;
    let tmp = dir.join(format!("{suite}.tmp"));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(|e| format!("removing {}: {e}", tmp.display()))?;
    }
    let log_path = dir.join(format!("{suite}.log"));
    let log =
        fs::File::create(&log_path).map_err(|e| format!("creating {}: {e}", log_path.display()))?;
    eprintln!("building the Nix root {} with mmdebstrap", root.display());
    let mut c = Command::new(mm);
    c.arg("--variant=minbase")
        .arg(format!("--include={PACKAGES},nix-bin={}", pin.nix_bin));
    // sid's Release file on the mirror is often past its Valid-Until date.
    c.arg("--aptopt=Acquire::Check-Valid-Until \"false\"");
    c.arg(suite).arg(&tmp);
    let st = c
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .status()
        .map_err(|e| format!("running mmdebstrap: {e}"))?;
    if !st.success() {
        let log = fs::read_to_string(&log_path).unwrap_or_default();
        // apt's words when the pinned version is gone from the suite.
        let moved = log.contains(&format!("'{}' for 'nix-bin' was not found", pin.nix_bin));
        return Err(if moved {
            format!(
                "Debian {suite} no longer has nix-bin {} (the pin in VERSIONS, tests/src/roots.rs); see {}",
                pin.nix_bin,
                log_path.display()
            )
        } else {
            format!(
                "mmdebstrap {suite} failed ({st}); see {}",
                log_path.display()
            )
        });
    }
    fs::write(tmp.join(".darling-nix-root"), marker)
        .map_err(|e| format!("marking {}: {e}", tmp.display()))?;
    if root.exists() {
        fs::remove_dir_all(root).map_err(|e| format!("removing {}: {e}", root.display()))?;
    }
    fs::rename(&tmp, root).map_err(|e| format!("renaming {}: {e}", tmp.display()))
}
