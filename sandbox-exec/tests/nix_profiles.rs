//! sandbox-exec run the way Nix runs it. Nix <= 2.24 writes the profile to
//! `.sandbox.sb` in the build directory, deletes the outputs, and execs
//! `sandbox-exec -f <file> -D _GLOBAL_TMP_DIR=<tmp> <builder> <args>` with
//! the build directory as cwd, the build's environment and pipes for the
//! standard streams. The profiles here follow the shapes described in
//! shared/spec/sandbox.md (written for these tests, not copied from Nix).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use e2e::Out;

mod common;
use common::{bin, workdir_in};

/// A scratch directory outside the temporary ones (see tests/common), and
/// outside /dev: Nix's `(regex #"^/dev/pty[a-z]+")` is widened to all of it.
fn workdir() -> (tempfile::TempDir, PathBuf) {
    workdir_in(&["/var/lib", "/root", "/dev/shm"])
}

/// A build as Nix lays it out: a store with inputs, an output name that
/// does not exist, a build directory and a temporary directory.
struct Build {
    _dir: tempfile::TempDir,
    w: PathBuf,
    store: PathBuf,
    input: PathBuf,
    out: PathBuf,
    build: PathBuf,
    tmp: PathBuf,
}

impl Build {
    /// Nix <= 2.24 makes the build directory inside the temporary
    /// directory; 2.31 and later elsewhere (hence `_NIX_BUILD_TOP`).
    fn new(build_in_tmp: bool) -> Build {
        let (dir, w) = workdir();
        let tmp = w.join("tmp");
        let store = w.join("nix/store");
        let input = store.join("0a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p-input");
        let out = store.join("9z8y7x6w5v4u3t2s1r0q9p8o7n6m5l4k-hello");
        let build = if build_in_tmp {
            w.join("tmp/nix-build-hello.drv-0")
        } else {
            w.join("builds/nix-build-hello.drv-0")
        };
        fs::create_dir_all(&input).unwrap();
        fs::create_dir_all(&build).unwrap();
        fs::create_dir_all(&tmp).unwrap();
        // Outside everything the profile names. (Other store paths are not:
        // the missing output's grant is widened to the whole store; see
        // tests/builds.rs.)
        let elsewhere = w.join("elsewhere");
        fs::create_dir_all(&elsewhere).unwrap();
        fs::write(elsewhere.join("secret"), "SECRET\n").unwrap();
        fs::write(input.join("data"), "from the input\n").unwrap();
        fs::write(
            input.join("builder.sh"),
            "mkdir \"$out\"\n\
             cat \"$input/data\" > \"$out/result\"\n\
             echo scratch > \"$NIX_BUILD_TOP/scratch\" && cat scratch\n\
             echo tmp > \"$TMPDIR/t\"\n\
             echo log line >&2\n\
             if (echo x > \"$elsewhere/stolen\") 2>/dev/null; then echo WROTE-ELSEWHERE; fi\n\
             cat \"$elsewhere/secret\" 2>/dev/null || true\n\
             echo \"args: $*\"\n",
        )
        .unwrap();
        Build {
            _dir: dir,
            w,
            store,
            input,
            out,
            build,
            tmp,
        }
    }

    /// The inputs a builder needs on this Linux host (Nix lists the
    /// closure and the impure host deps in the same form).
    fn paths_in_chroot(&self) -> Vec<(PathBuf, bool)> {
        let mut v: Vec<(PathBuf, bool)> = ["/usr", "/bin", "/lib", "/lib64", "/etc", "/proc"]
            .iter()
            .map(|p| (PathBuf::from(p), true))
            .filter(|(p, _)| p.exists())
            .collect();
        v.push((self.input.clone(), true));
        v.push((self.build.clone(), true));
        v
    }

    /// Nix 2.13-2.24's profile: defaults, the outputs, the paths in the
    /// chroot (directories as subpaths, files as literals), the ancestors
    /// of all of them as literals, then `__sandboxProfile`.
    fn profile_2_24(&self, sandbox_profile: &str) -> String {
        let mut s = String::from("(version 1)\n(deny default (with no-log))\n");
        s += &defaults(false);
        s += &format!(
            "(allow file-read* file-write* process-exec\n    (subpath \"{}\"))\n",
            self.out.display()
        );
        s += "(allow file-read* file-write* process-exec\n";
        for (p, dir) in self.paths_in_chroot() {
            let kind = if dir { "subpath" } else { "literal" };
            s += &format!("    ({kind} \"{}\")\n", p.display());
        }
        s += ")\n(allow file-read*\n";
        let mut ancestors: Vec<PathBuf> = Vec::new();
        for (p, _) in self.paths_in_chroot() {
            for a in p.ancestors().skip(1) {
                if !ancestors.iter().any(|x| x == a) {
                    ancestors.push(a.to_path_buf());
                }
            }
        }
        for a in self.store.ancestors() {
            if !ancestors.iter().any(|x| x == a) {
                ancestors.push(a.to_path_buf());
            }
        }
        for a in ancestors {
            s += &format!("    (literal \"{}\")\n", a.display());
        }
        s += ")\n";
        s += sandbox_profile;
        s
    }

    /// The build's environment, as Nix sets it.
    fn command(&self, profile_file: &Path, extra: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.arg("-f")
            .arg(profile_file)
            .arg("-D")
            .arg(format!("_GLOBAL_TMP_DIR={}", self.tmp.display()))
            .args(extra)
            .args(["/bin/bash", "-e"])
            .arg(self.input.join("builder.sh"))
            .args(["--first", "-x"])
            .current_dir(&self.build)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("NIX_BUILD_TOP", &self.build)
            .env("TMPDIR", &self.build)
            .env("HOME", "/homeless-shelter")
            .env("out", &self.out)
            .env("input", &self.input)
            .env("elsewhere", self.w.join("elsewhere"))
            .stdin(Stdio::null());
        c
    }

    fn check_result(&self, o: &Out) {
        assert_eq!(
            o.all(),
            (0, "scratch\nargs: --first -x\n", "log line\n"),
            "{}",
            o.stderr
        );
        assert_eq!(
            fs::read_to_string(self.out.join("result")).unwrap(),
            "from the input\n"
        );
        assert!(!self.w.join("elsewhere/stolen").exists());
    }
}

/// sandbox-defaults.sb as summarised in the spec; `build_top` adds the
/// current Nix's `_NIX_BUILD_TOP` grant.
fn defaults(build_top: bool) -> String {
    let top = if build_top {
        " (subpath (param \"_NIX_BUILD_TOP\"))"
    } else {
        ""
    };
    format!(
        "(define TMPDIR (param \"_GLOBAL_TMP_DIR\"))\n\
(deny default)\n\
(deny file-write-setugid)\n\
(allow process-fork)\n\
(allow sysctl-read)\n\
(allow ipc-posix* ipc-sysv*)\n\
(allow system-socket)\n\
(allow signal (target same-sandbox))\n\
(allow mach-lookup (global-name \"com.apple.system.opendirectoryd.libinfo\"))\n\
(allow file* process-exec network-outbound network-inbound\n    (literal \"/tmp\") (subpath TMPDIR){top})\n\
(allow file-read*\n    (literal \"/System/Library/CoreServices/SystemVersion.plist\"))\n\
(allow file-read-metadata (literal \"/dev\") (literal \"/etc\") (literal \"/var\"))\n\
(if (param \"_ALLOW_LOCAL_NETWORKING\")\n    (begin (allow network* (local ip) (local tcp) (local udp))))\n\
(allow file*\n    (literal \"/dev/null\") (literal \"/dev/random\") (literal \"/dev/stderr\")\n    (literal \"/dev/stdin\") (literal \"/dev/stdout\") (literal \"/dev/tty\")\n    (literal \"/dev/urandom\") (literal \"/dev/zero\") (subpath \"/dev/fd\"))\n\
(allow file* (literal \"/dev/ptmx\") (regex #\"^/dev/pty[a-z]+\") (regex #\"^/dev/ttys[0-9]+\"))\n\
(allow file-read* (subpath \"/usr/share/zoneinfo\") (subpath \"/usr/share/locale\"))\n"
    )
}

fn run(c: &mut Command) -> Out {
    c.output().unwrap().into()
}

#[test]
fn nix_2_24_profile_file_in_the_build_dir() {
    let b = Build::new(true);
    let sb = b.build.join(".sandbox.sb");
    fs::write(&sb, b.profile_2_24("")).unwrap();
    let o = run(&mut b.command(&sb, &[]));
    b.check_result(&o);
    assert_eq!(fs::read_to_string(b.build.join("t")).unwrap(), "tmp\n");
    // A relative -f, as a user in the build directory would type it.
    fs::remove_dir_all(&b.out).unwrap();
    let o = run(b
        .command(Path::new(".sandbox.sb"), &[])
        .current_dir(&b.build));
    b.check_result(&o);
    // The same profile without the sandbox (sandbox = false): Nix's minimal
    // profile, and a setuid bit stays refused.
    fs::remove_dir_all(&b.out).unwrap();
    fs::write(
        &sb,
        "(version 1)\n(allow default)\n(deny file-write-setugid)\n",
    )
    .unwrap();
    let o = run(&mut b.command(&sb, &[]));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.contains("WROTE-ELSEWHERE"),
        "minimal allows writes"
    );
    let f = b.w.join("f");
    fs::write(&f, "").unwrap();
    let o = run(Command::new(bin())
        .arg("-f")
        .arg(&sb)
        .args(["chmod", "u+s"])
        .arg(&f));
    assert_ne!(o.code, 0);
    assert_eq!(fs::metadata(&f).unwrap().permissions().mode() & 0o4000, 0);
}

#[test]
fn current_nix_profile_with_nix_build_top() {
    let b = Build::new(false);
    // The build directory is granted by the parameter, not as a path in
    // the chroot.
    let mut s = String::from("(version 1)\n(deny default (with no-log))\n");
    s += &defaults(true);
    s += &format!(
        "(allow file-read* file-write* process-exec (subpath \"{}\"))\n",
        b.out.display()
    );
    s += "(allow file-read* file-write* process-exec";
    for p in ["/usr", "/bin", "/lib", "/lib64", "/etc", "/proc"] {
        s += &format!(" (subpath \"{p}\")");
    }
    s += &format!(" (subpath \"{}\"))\n", b.input.display());
    let sb = b.w.join("profile.sb");
    fs::write(&sb, &s).unwrap();
    let top = format!("_NIX_BUILD_TOP={}", b.build.display());
    let o = run(&mut b.command(&sb, &["-D", &top]));
    b.check_result(&o);
    // Without the parameter, `(subpath (param …))` gets #f: a profile
    // error, as in libsandbox, before anything runs.
    fs::remove_dir_all(&b.out).unwrap();
    let o = run(&mut b.command(&sb, &[]));
    assert_eq!(o.code, 65, "{}", o.stderr);
    assert!(
        o.stderr
            .ends_with("invalid data type of path filter; expected pattern, got boolean\n"),
        "{}",
        o.stderr
    );
    assert!(!b.out.exists());
}

#[test]
fn nixpkgs_sandbox_profile_additions() {
    let b = Build::new(true);
    let extra = b.w.join("extra");
    fs::create_dir_all(extra.join("imported")).unwrap();
    fs::write(extra.join("conf"), "conf\n").unwrap();
    fs::write(extra.join("imported/x"), "imported\n").unwrap();
    fs::write(extra.join("unlisted"), "unlisted\n").unwrap();
    let tool = extra.join("tool");
    fs::copy("/bin/true", &tool).unwrap();
    fs::write(
        extra.join("more.sb"),
        format!(
            "(allow file-read* (subpath \"{}\"))\n",
            extra.join("imported").display()
        ),
    )
    .unwrap();
    // The builder reads what the additions grant.
    fs::write(
        b.input.join("builder.sh"),
        format!(
            "mkdir \"$out\"\ncat {e}/conf {e}/imported/x\n{e}/tool && echo tool ran\n\
             if cat {e}/unlisted 2>/dev/null; then echo READ-UNLISTED; fi\n",
            e = extra.display()
        ),
    )
    .unwrap();
    let additions = format!(
        "(allow process-exec (literal \"{t}\"))\n(allow file-read* (literal \"{t}\") (literal \"{c}\"))\n(import \"{i}\")\n",
        t = tool.display(),
        c = extra.join("conf").display(),
        i = extra.join("more.sb").display(),
    );
    let sb = b.build.join(".sandbox.sb");
    fs::write(&sb, b.profile_2_24(&additions)).unwrap();
    let o = run(&mut b.command(&sb, &[]));
    assert_eq!(
        o.all(),
        (0, "conf\nimported\ntool ran\n", ""),
        "{}",
        o.stderr
    );
    // Without them, none of it works.
    fs::remove_dir_all(&b.out).unwrap();
    fs::write(&sb, b.profile_2_24("")).unwrap();
    let o = run(&mut b.command(&sb, &[]));
    assert_ne!(o.code, 0);
    assert!(!o.stdout.contains("conf"), "{}", o.stdout);
}
