//! A chroot Nix store driven by the real `nix-store` (Debian's nix-bin
//! 2.8): logical `/nix/store` paths, real files under a temp directory, no
//! daemon. The store directory doubles as the fixture prefix: it has a
//! static busybox as `/bin/sh` (plus applet links), so a builder chrooted
//! into it sees `/nix/store` exactly as a Darling prefix sharing the host
//! store would.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::roots::NixEnv;
use crate::Out;
use std::ffi::CString;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;

/// Runs `test` with a fresh chroot store of the Nix called `version`, or
/// prints one skip line when that Nix is not available (see [`NixEnv::get`]).
pub fn with_nix(version: &str, name: &str, test: fn(&NixStore)) {
    if let Some(env) = NixEnv::get(version, name) {
        test(&NixStore::with(&env));
    }
}

/// One `#[test]` per Nix version for each listed test function (a
/// `fn(&NixStore)` in the calling module): `NAME::nix_2_8`,
/// `NAME::nix_2_26`, `NAME::nix_2_34`.
#[macro_export]
macro_rules! each_nix {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn nix_2_8() {
                $crate::nix::with_nix("2.8", stringify!($name), super::$name)
            }
            #[test]
            fn nix_2_26() {
                $crate::nix::with_nix("2.26", stringify!($name), super::$name)
            }
            #[test]
            fn nix_2_34() {
                $crate::nix::with_nix("2.34", stringify!($name), super::$name)
            }
        }
    )*};
}

const APPLETS: &[&str] = &[
    "sh", "cat", "echo", "ls", "wc", "sleep", "mkdir", "rmdir", "mv", "cp", "touch", "date",
    "true", "false", "printf", "ln", "chmod", "rm", "expr", "seq", "head", "tail", "grep", "env",
];

pub struct NixStore {
    env: NixEnv,
    dir: tempfile::TempDir,
    store: PathBuf,
}

impl Default for NixStore {
    fn default() -> Self {
        Self::new()
    }
}

/// Panics with a pointer to `.ci/run` if Nix is not installed: these tests
/// exist to run against the real peer, never a stand-in.
pub fn require_nix() {
    let ok = Command::new("nix-store")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "nix-store not found: install Debian's nix-bin (`bash .ci/run` does it)"
    );
    assert!(
        crate::is_root(),
        "the Nix end-to-end tests need root (chroot store, chroot runner)"
    );
}

impl NixStore {
    /// A chroot store driven by the host's Nix (2.8).
    pub fn new() -> NixStore {
        require_nix();
        NixStore::with(&NixEnv {
            name: "2.8",
            version: (2, 8),
            root: None,
        })
    }

    /// A chroot store driven by `env`'s Nix (inside its root, if any).
    pub fn with(env: &NixEnv) -> NixStore {
        let dir = env.tempdir();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let store = dir.path().join("store");
        fs::create_dir_all(store.join("bin")).unwrap();
        fs::create_dir_all(store.join("tmp")).unwrap();
        fs::copy(
            crate::busybox().expect("busybox-static is needed"),
            store.join("bin/busybox"),
        )
        .unwrap();
        // Builders redirect to /dev/null (sh does for `cmd &`).
        fs::create_dir_all(store.join("dev")).unwrap();
        nix::sys::stat::mknod(
            &store.join("dev/null"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0o666),
            nix::sys::stat::makedev(1, 3),
        )
        .expect("mknod /dev/null (root only)");
        for a in APPLETS {
            std::os::unix::fs::symlink("busybox", store.join("bin").join(a)).unwrap();
        }
        NixStore {
            env: env.clone(),
            dir,
            store,
        }
    }

    /// The Nix this store is driven by.
    pub fn env(&self) -> &NixEnv {
        &self.env
    }

    /// The chroot store directory on the host (the prefix root).
    pub fn root(&self) -> &Path {
        &self.store
    }

    /// The chroot store directory as Nix (and our hook) see it: the
    /// `--store` argument.
    pub fn store_arg(&self) -> PathBuf {
        self.env.inside(&self.store)
    }

    /// A scratch directory outside the store (on the host).
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }

    /// The path Nix sees for a host path in this store's directory.
    pub fn inside(&self, host: &Path) -> PathBuf {
        self.env.inside(host)
    }

    /// The host path of a logical store path.
    pub fn real(&self, logical: &str) -> PathBuf {
        self.store.join(logical.trim_start_matches('/'))
    }

    /// Makes `program` runnable by this Nix; the path it sees.
    pub fn install(&self, program: &Path) -> PathBuf {
        self.env.install(program, self.dir.path())
    }

    /// Writes a hook config using the chroot runner on this store, with
    /// `extra` TOML lines appended; returns its path as Nix sees it.
    pub fn hook_config(&self, name: &str, extra: &str) -> PathBuf {
        let p = self.dir.path().join(format!("{name}.toml"));
        let text = format!(
            "runner = \"chroot\"\nprefix = \"{}\"\nstate-dir = \"{}\"\n{extra}\n",
            self.store_arg().display(),
            self.inside(&self.dir.path().join(format!("{name}-state")))
                .display()
        );
        fs::write(&p, text).unwrap();
        self.inside(&p)
    }

    /// A command of this Nix (`nix-store`, `nix-daemon`, ...).
    pub fn command(&self, program: &str) -> Command {
        self.env.command(program)
    }

    /// A command of this Nix that sees this store's files at the logical
    /// `/nix/store` (a private bind mount), as a daemon's clients do: they
    /// read `.drv` files at their logical paths.
    pub fn client(&self, program: &str) -> Command {
        let mut c = self.env.command(program);
        let logical = match &self.env.root {
            Some(r) => r.join("nix/store"),
            None => PathBuf::from("/nix/store"),
        };
        fs::create_dir_all(&logical).expect("mount point for /nix/store");
        let from = CString::new(
            self.inside(&self.store.join("nix/store"))
                .into_os_string()
                .into_vec(),
        )
        .unwrap();
        let to = c"/nix/store";
        // SAFETY: runs between fork and exec after the root was entered;
        // only system calls on C strings made before the fork.
        unsafe {
            c.pre_exec(move || {
                use nix::mount::{mount, MsFlags};
                let none: Option<&std::ffi::CStr> = None;
                crate::roots::private_mount_namespace()?;
                mount(Some(from.as_c_str()), to, none, MsFlags::MS_BIND, none)?;
                Ok(())
            });
        }
        c
    }

    /// `nix-store --store <dir> ARGS`.
    pub fn nix_store(&self, args: &[&str]) -> Out {
        self.command("nix-store")
            .arg("--store")
            .arg(self.store_arg())
            .args(args)
            .output()
            .expect("nix-store")
            .into()
    }

    /// Instantiates a Nix expression (one derivation or a list of them).
    pub fn instantiate(&self, expr: &str) -> Vec<String> {
        let f = self.dir.path().join(format!("expr-{}.nix", fastid()));
        fs::write(&f, expr).unwrap();
        let o: Out = self
            .command("nix-instantiate")
            .arg("--store")
            .arg(self.store_arg())
            .arg(self.inside(&f))
            .output()
            .expect("nix-instantiate")
            .into();
        assert_eq!(o.code, 0, "nix-instantiate failed: {}", o.stderr);
        o.stdout.lines().map(str::to_string).collect()
    }

    /// `nix-store -r` offline, with `hook` (a host path, installed for this
    /// Nix) as the build hook and `config` (as [`NixStore::hook_config`]
    /// returns it) in `DARLING_NIX_HOOK_CONFIG`; `opts` are extra
    /// `--option`s.
    pub fn realise(
        &self,
        drvs: &[String],
        hook: &Path,
        config: &Path,
        opts: &[(&str, &str)],
    ) -> Out {
        let mut c = self.command("nix-store");
        c.arg("--store").arg(self.store_arg()).arg("-r").args(drvs);
        c.args(["--option", "builders", "", "--option", "substituters", ""]);
        c.arg("--option").arg("build-hook").arg(self.install(hook));
        for (k, v) in opts {
            c.args(["--option", k, v]);
        }
        c.env("DARLING_NIX_HOOK_CONFIG", config);
        c.output().expect("nix-store -r").into()
    }

    pub fn outputs(&self, drv: &str) -> Vec<String> {
        let o = self.nix_store(&["-q", "--outputs", drv]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        o.stdout.lines().map(str::to_string).collect()
    }

    pub fn references(&self, path: &str) -> Vec<String> {
        let o = self.nix_store(&["-q", "--references", path]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        let mut v: Vec<String> = o.stdout.lines().map(str::to_string).collect();
        v.sort();
        v
    }

    pub fn is_valid(&self, path: &str) -> bool {
        self.nix_store(&["--check-validity", path]).code == 0
    }

    /// `nix-store --verify --check-contents`: Nix re-hashes every valid
    /// path and compares it with the database; the output must be clean.
    pub fn verify(&self) {
        let o = self.nix_store(&["--verify", "--check-contents"]);
        assert_eq!(o.code, 0, "nix-store --verify failed: {}", o.stderr);
        let noise: Vec<&str> = o
            .stderr
            .lines()
            .filter(|l| !l.starts_with("reading the Nix store") && !l.starts_with("checking "))
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert!(noise.is_empty(), "nix-store --verify: {}", o.stderr);
    }
}

fn fastid() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A fixture Darling prefix with our in-prefix tools installed, a nix.conf
/// and a Nix store database created by the real Nix 2.8 (the prefix is the
/// chroot store: logical `/nix/store` is `<prefix>/nix/store`).
pub struct NixPrefix {
    pub fx: crate::Fixture,
}

/// Where each in-prefix tool lives inside a prefix.
pub use darling_host::TOOLS as TOOL_PATHS;

impl Default for NixPrefix {
    fn default() -> Self {
        Self::new()
    }
}

impl NixPrefix {
    pub fn new() -> NixPrefix {
        require_nix();
        let fx = crate::Fixture::new();
        let root = fx.root().to_path_buf();
        for (tool, at) in TOOL_PATHS {
            let dest = root.join(at);
            fs::create_dir_all(dest.parent().unwrap()).unwrap();
            fs::copy(crate::tool(tool), &dest).unwrap();
        }
        fs::create_dir_all(root.join("private/etc/nix")).unwrap();
        let busybox = root.join("bin/busybox");
        fs::write(
            root.join("private/etc/nix/nix.conf"),
            format!("build-users-group = nixbld\nsystem = x86_64-darwin\nsandbox = false\nsandbox-paths = /bin/sh={}\nsubstituters =\n", busybox.display()),
        )
        .unwrap();
        let p = NixPrefix { fx };
        // The build group and two users, made by our own tools.
        let du = |args: &[&str]| {
            let o = p.fx.run(root.join("usr/sbin/dseditgroup"), args);
            assert_eq!(o.code, 0, "{args:?}: {}", o.stderr);
        };
        du(&[
            "-o",
            "create",
            "-r",
            "Nix build group for nix-daemon",
            "-i",
            "350",
            "nixbld",
        ]);
        for i in 1..=2 {
            let u = format!("_nixbld{i}");
            for args in [
                vec![".", "-create", &*format!("/Users/{u}")],
                vec![
                    ".",
                    "-create",
                    &*format!("/Users/{u}"),
                    "UniqueID",
                    &*format!("{}", 350 + i),
                ],
                vec![
                    ".",
                    "-create",
                    &*format!("/Users/{u}"),
                    "PrimaryGroupID",
                    "350",
                ],
            ] {
                let o = p.fx.run(root.join("usr/bin/dscl"), &args);
                assert_eq!(o.code, 0, "{args:?}: {}", o.stderr);
            }
            du(&["-o", "edit", "-t", "user", "-a", &u, "nixbld"]);
        }
        // A store database with one path in it.
        let f = root.join("tmp-hello.txt");
        fs::write(&f, "hello\n").unwrap();
        let o = p.nix(&["nix-store", "--add"], &[f.to_str().unwrap()]);
        assert_eq!(o.code, 0, "nix-store --add: {}", o.stderr);
        fs::remove_file(&f).unwrap();
        p
    }

    pub fn root(&self) -> &Path {
        self.fx.root()
    }

    /// Runs a host Nix command against the prefix's store and nix.conf.
    pub fn nix(&self, cmd: &[&str], args: &[&str]) -> Out {
        Command::new(cmd[0])
            .args(&cmd[1..])
            .args(args)
            .env("NIX_REMOTE", self.root())
            .env("NIX_CONF_DIR", self.root().join("private/etc/nix"))
            .env("NIX_STATE_DIR", self.root().join("nix/var/nix"))
            .stdin(Stdio::null())
            .output()
            .expect("nix")
            .into()
    }
}
