//! Fixture prefixes for tests: a directory laid out like a fresh Darling
//! prefix (`/etc -> private/etc` with macOS's stock accounts) with a static
//! busybox as `/bin/sh`, so that account files can be checked by a real
//! passwd/group reader running *inside* it (`chroot <prefix> id NAME`).

pub mod argv;
pub mod corpus;
pub mod live;
pub mod nix;
pub mod roots;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Where cargo put the workspace's binaries (tests run from target/*/deps).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    dir.to_path_buf()
}

/// The path of one of our tools, built by `cargo test --workspace`.
pub fn tool(name: &str) -> PathBuf {
    let p = bin_dir().join(name);
    assert!(
        p.exists(),
        "{} not built; run `cargo test --workspace`",
        p.display()
    );
    p
}

const MASTER: &str = "##\n# User Database\n#\n# Note that this file is consulted directly only when the system is running\n# in single-user mode.\n##\nnobody:*:-2:-2::0:0:Unprivileged User:/var/empty:/usr/bin/false\nroot:*:0:0::0:0:System Administrator:/var/root:/bin/sh\ndaemon:*:1:1::0:0:System Services:/var/root:/usr/bin/false\n";
const GROUP: &str = "##\n# Group Database\n##\nnobody:*:-2:\nnogroup:*:-1:\nwheel:*:0:root\ndaemon:*:1:root\nstaff:*:20:root\nadmin:*:80:root\n";

/// The uid and gid the non-root tests switch to (`nobody` on Debian).
const NOBODY: u32 = 65534;

pub struct Fixture {
    dir: tempfile::TempDir,
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}

impl Fixture {
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        // Readable by an unprivileged uid, for the non-root tests.
        fs::set_permissions(root, fs::Permissions::from_mode(0o755)).unwrap();
        for d in [
            "private/etc",
            "private/var/empty",
            "private/tmp",
            "bin",
            "usr/bin",
            "usr/sbin",
            "Users",
        ] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        std::os::unix::fs::symlink("private/etc", root.join("etc")).unwrap();
        std::os::unix::fs::symlink("private/var", root.join("var")).unwrap();
        let passwd: String = MASTER
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                if f.len() == 10 {
                    format!("{}:*:{}:{}:{}:{}:{}\n", f[0], f[2], f[3], f[7], f[8], f[9])
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        fs::write(root.join("private/etc/passwd"), passwd).unwrap();
        fs::write(root.join("private/etc/master.passwd"), MASTER).unwrap();
        fs::set_permissions(
            root.join("private/etc/master.passwd"),
            fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        fs::write(root.join("private/etc/group"), GROUP).unwrap();
        if let Some(bb) = busybox() {
            fs::copy(&bb, root.join("bin/busybox")).unwrap();
            std::os::unix::fs::symlink("busybox", root.join("bin/sh")).unwrap();
        }
        Fixture { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn etc(&self, name: &str) -> PathBuf {
        self.root().join("private/etc").join(name)
    }

    pub fn read_etc(&self, name: &str) -> String {
        read_etc(self.root(), name)
    }

    /// The account files and the sidecar, to compare states.
    pub fn snapshot(&self) -> Vec<String> {
        accounts_snapshot(self.root())
    }

    /// Every file and link under the prefix (path, contents or link
    /// target), busybox aside: to show that a command changed nothing.
    pub fn tree(&self) -> Vec<(PathBuf, Vec<u8>)> {
        fn walk(dir: &Path, root: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
            let mut entries: Vec<_> = fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            entries.sort();
            for p in entries {
                let rel = p.strip_prefix(root).unwrap().to_path_buf();
                let meta = fs::symlink_metadata(&p).unwrap();
                if meta.is_dir() {
                    out.push((rel, Vec::new()));
                    walk(&p, root, out);
                } else if meta.file_type().is_symlink() {
                    use std::os::unix::ffi::OsStrExt;
                    let target = fs::read_link(&p).unwrap();
                    out.push((rel, target.as_os_str().as_bytes().to_vec()));
                } else if rel != Path::new("bin/busybox") {
                    out.push((rel, fs::read(&p).unwrap()));
                }
            }
        }
        let mut out = Vec::new();
        walk(self.root(), self.root(), &mut out);
        out
    }

    /// A command with the prefix selected and a clean, predictable env.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env("DARLING_PREFIX", self.root())
            .env_remove("__FAKE_SETUID_ROOT")
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Out {
        Out::from(self.command(program).args(args).output().expect("spawn"))
    }

    /// Run as an unprivileged uid (needs root to switch). The program is
    /// copied into the fixture first: the checkout (and so cargo's target
    /// directory) may sit under a 0700 home that the uid cannot enter.
    pub fn run_as_nobody(&self, program: impl AsRef<Path>, args: &[&str]) -> Out {
        let program = self.reachable_copy(program.as_ref());
        let mut c = self.command(program);
        c.args(args).uid(NOBODY).gid(NOBODY);
        Out::from(output_of_fresh_copy(&mut c))
    }

    /// A copy of `program` (same file name, so argv[0] reads the same) in a
    /// directory of the fixture that every uid can reach.
    fn reachable_copy(&self, program: &Path) -> PathBuf {
        let dir = self.root().join(".bin");
        fs::create_dir_all(&dir).unwrap();
        let name = program.file_name().expect("program has a file name");
        let copy = dir.join(name);
        if !copy.exists() {
            // Copy then rename: a half-written executable is never run.
            let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
            fs::copy(program, &tmp).expect("copy program into the fixture");
            fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755)).unwrap();
            fs::rename(&tmp, &copy).unwrap();
        }
        copy
    }

    /// A directory holding our tools under their macOS names, for scripts.
    pub fn tool_path(&self) -> PathBuf {
        let d = self.root().join(".tools");
        if !d.exists() {
            fs::create_dir_all(&d).unwrap();
            for t in ["dscl", "dseditgroup", "sysadminctl", "diskutil"] {
                std::os::unix::fs::symlink(tool(t), d.join(t)).unwrap();
            }
        }
        d
    }

    /// Run a POSIX shell script (busybox sh) with our tools first on PATH,
    /// the way the installers call them.
    pub fn sh(&self, script: &str) -> Out {
        let sh = busybox()
            .map(|b| (b, true))
            .unwrap_or_else(|| (PathBuf::from("/bin/sh"), false));
        let mut c = self.command(&sh.0);
        if sh.1 {
            c.arg("sh");
        }
        let path = format!(
            "{}:/usr/bin:/bin:/usr/sbin:/sbin",
            self.tool_path().display()
        );
        c.arg("-c").arg(script).env("PATH", path);
        Out::from(c.output().expect("spawn sh"))
    }

    /// `id NAME` run by busybox chrooted into the prefix: a real passwd and
    /// group reader looking at the files from inside. None, with a skip
    /// line, when busybox or chroot rights are missing (a failure under
    /// `DARLING_NIX_TOOLS=require`).
    pub fn id_inside(&self, args: &[&str]) -> Option<Out> {
        if !self.root().join("bin/busybox").exists() || !is_root() {
            skip_tool(
                "the check with `id` inside the fixture",
                "it needs root and busybox-static",
            );
            return None;
        }
        let mut c = Command::new("/bin/busybox");
        c.arg("id").args(args).env_clear();
        // Built before the fork: the child may not allocate.
        let root = std::ffi::CString::new(self.root().as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: the closure only calls chroot(2) and chdir(2), which are
        // async-signal-safe, on C strings that already exist (no allocation).
        unsafe {
            c.pre_exec(move || {
                ::nix::unistd::chroot(root.as_c_str())?;
                ::nix::unistd::chdir(c"/")?;
                Ok(())
            });
        }
        // After the chroot, /bin/busybox is the copy inside the prefix.
        Some(Out::from(c.output().expect("spawn chroot id")))
    }

    /// Check that the three files parse and agree (panics with details).
    pub fn assert_consistent(&self) -> Accounts {
        let master = self.read_etc("master.passwd");
        let passwd = self.read_etc("passwd");
        let group = self.read_etc("group");
        let mode = fs::metadata(self.etc("master.passwd"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "master.passwd mode");
        let m = parse(&master, 10);
        let p = parse(&passwd, 7);
        let g = parse(&group, 4);
        let m_names: Vec<&String> = m.iter().map(|f| &f[0]).collect();
        let p_names: Vec<&String> = p.iter().map(|f| &f[0]).collect();
        assert_eq!(
            m_names, p_names,
            "passwd and master.passwd list the same users\n{passwd}\n{master}"
        );
        for (mf, pf) in m.iter().zip(&p) {
            assert_eq!(
                (&mf[2], &mf[3], &mf[7], &mf[8], &mf[9]),
                (&pf[2], &pf[3], &pf[4], &pf[5], &pf[6]),
                "fields agree for {}",
                mf[0]
            );
            assert_eq!(pf[1], "*", "passwd carries no hash");
        }
        let mut uids = std::collections::HashSet::new();
        for f in &m {
            assert!(uids.insert(f[2].clone()), "duplicate uid {}", f[2]);
            f[2].parse::<i64>().expect("numeric uid");
            f[3].parse::<i64>().expect("numeric gid");
        }
        let mut groups = BTreeMap::new();
        for f in &g {
            f[2].parse::<i64>().expect("numeric gid");
            let members: Vec<String> = f[3]
                .split(',')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            for mem in &members {
                assert!(m_names.contains(&mem), "member {mem} of {} resolves", f[0]);
            }
            let mut dedup = members.clone();
            dedup.dedup();
            assert_eq!(dedup.len(), members.len(), "gr_mem has no duplicates");
            assert!(
                groups
                    .insert(f[0].clone(), (f[2].clone(), members))
                    .is_none(),
                "duplicate group {}",
                f[0]
            );
        }
        let users = m.into_iter().map(|f| (f[0].clone(), f)).collect();
        Accounts { users, groups }
    }
}

/// Runs `program` where no prefix can be found: a copy in a fresh directory
/// with no `.init.pid` above it, no `DARLING_PREFIX`, and the host's mount
/// namespace (no prefix overlay). The tools must exit `EX_UNAVAILABLE`.
pub fn run_without_prefix(program: impl AsRef<Path>, args: &[&str]) -> Out {
    let dir = tempfile::tempdir().expect("tempdir");
    let program = program.as_ref();
    let copy = dir.path().join(program.file_name().expect("file name"));
    fs::copy(program, &copy).expect("copy program");
    let mut c = Command::new(&copy);
    c.args(args)
        .env_remove("DARLING_PREFIX")
        .env_remove("__FAKE_SETUID_ROOT")
        .stdin(Stdio::null());
    Out::from(output_of_fresh_copy(&mut c))
}

/// `c.output()` for a program copied just now. While another test thread
/// forks, its child briefly holds the copy's write descriptor (until it
/// execs), and executing the copy then fails with ETXTBSY; that passes.
fn output_of_fresh_copy(c: &mut Command) -> Output {
    let mut tries = 0;
    loop {
        match c.output() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            r => return r.expect("spawn"),
        }
    }
}

/// The parsed files after a consistency check.
#[derive(Debug)]
pub struct Accounts {
    /// name -> the 10 master.passwd fields
    pub users: BTreeMap<String, Vec<String>>,
    /// name -> (gid, members)
    pub groups: BTreeMap<String, (String, Vec<String>)>,
}

fn parse(text: &str, n: usize) -> Vec<Vec<String>> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<String> = l.split(':').map(String::from).collect();
            assert_eq!(f.len(), n, "line has {n} fields: {l:?}");
            f
        })
        .collect()
}

/// A statically linked busybox (busybox-static), or None. Debian's
/// `busybox` package is dynamically linked: it cannot run as `/bin/sh` in a
/// chroot store or fixture prefix without its libraries, so it does not
/// count (as if missing).
pub(crate) fn busybox() -> Option<PathBuf> {
    /// An ELF file (little-endian, 32 or 64 bits) with no PT_INTERP program
    /// header: no dynamic loader.
    fn is_static(p: &Path) -> bool {
        const PT_INTERP: u32 = 3;
        let Ok(b) = fs::read(p) else {
            return false;
        };
        if b.len() < 0x40 || !b.starts_with(b"\x7fELF") || b[5] != 1 {
            return false;
        }
        let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
        let u32_at = |o: usize| {
            b.get(o..o + 4)
                .map(|s| u32::from_le_bytes(s.try_into().unwrap()))
        };
        let (phoff, phentsize, phnum) = match b[4] {
            1 => (u32_at(0x1c).unwrap() as usize, u16_at(0x2a), u16_at(0x2c)),
            2 => (
                u64::from_le_bytes(b[0x20..0x28].try_into().unwrap()) as usize,
                u16_at(0x36),
                u16_at(0x38),
            ),
            _ => return false,
        };
        (0..phnum).all(|i| {
            phoff
                .checked_add(i.saturating_mul(phentsize))
                .and_then(u32_at)
                .is_some_and(|t| t != PT_INTERP)
        })
    }
    static FOUND: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    FOUND
        .get_or_init(|| {
            ["/bin/busybox", "/usr/bin/busybox"]
                .iter()
                .map(PathBuf::from)
                .find(|p| is_static(p))
        })
        .clone()
}

/// A finished process.
#[derive(Debug, Clone)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Out {
    fn from(o: Output) -> Out {
        Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Out {
    /// (exit code, stdout, stderr) for one-line golden assertions.
    pub fn all(&self) -> (i32, &str, &str) {
        (self.code, &self.stdout, &self.stderr)
    }
}

/// Whether the test process runs as root (needed for uid switches and chroot).
pub fn is_root() -> bool {
    ::nix::unistd::geteuid().is_root()
}

/// Prints a skip line straight to the process's stderr: the test harness
/// captures `eprintln!` of passing tests, and a skip must never be silent.
pub fn skip_line(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Whether `DARLING_NIX_TOOLS=require` is set (what `.ci/run` sets): a test
/// whose build tools are missing here (zig, llvm, a btrfs loop mount, the
/// `x86_64-apple-darwin` target) fails instead of skipping.
pub fn tools_required() -> bool {
    std::env::var("DARLING_NIX_TOOLS").is_ok_and(|v| v == "require")
}

/// Skips `test` with one line saying why, or fails it under
/// `DARLING_NIX_TOOLS=require`.
pub fn skip_tool(test: &str, why: &str) {
    assert!(
        !tools_required(),
        "{test} required (DARLING_NIX_TOOLS=require) but {why}"
    );
    skip_line(&format!(
        "skipped {test}: {why} (DARLING_NIX_TOOLS=require makes this a failure)"
    ));
}

/// `<root>/private/etc/<name>`, or "" when it does not exist.
pub fn read_etc(root: &Path, name: &str) -> String {
    fs::read_to_string(root.join("private/etc").join(name)).unwrap_or_default()
}

/// The account files under `root` and the accounts sidecar, to compare
/// states.
pub fn accounts_snapshot(root: &Path) -> Vec<String> {
    let mut v: Vec<String> = ["passwd", "master.passwd", "group"]
        .iter()
        .map(|f| read_etc(root, f))
        .collect();
    v.push(
        fs::read_to_string(root.join("private/var/db/darling-nix/accounts.json"))
            .unwrap_or_default(),
    );
    v
}
