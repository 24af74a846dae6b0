//! sandbox-exec inside a real Darling (the live tier; skipped with one line
//! when no working Darling is found). Darling's own Mach-O bash calls our
//! ELF sandbox-exec the way Nix <= 2.24 does, and sandbox-exec hands the
//! Mach-O builder (or a `#!` script) back to Darling under Landlock.

use std::fs;
use std::path::{Path, PathBuf};

use e2e::live::LivePrefix;

/// A prefix with our sandbox-exec as /usr/bin/sandbox-exec.
fn prefix(test: &str) -> Option<LivePrefix> {
    let p = LivePrefix::new(test)?;
    p.install_tools(&["sandbox-exec"]);
    Some(p)
}

/// A store with an input holding the builder, an output that does not
/// exist, a build directory inside the temporary one, and a directory the
/// profile does not name.
struct Layout {
    host: PathBuf,
    mac: String,
}

impl Layout {
    fn new(p: &LivePrefix) -> Layout {
        let host = p.scratch();
        for d in ["store/aaa-input", "tmp/nix-build-x.drv-0", "elsewhere"] {
            fs::create_dir_all(host.join(d)).unwrap();
        }
        fs::write(host.join("store/aaa-input/data"), "from the input\n").unwrap();
        fs::write(
            host.join("store/aaa-input/builder.sh"),
            "echo \"builder: $*\"\n\
             mkdir \"$out\"\n\
             cat \"$in/data\" > \"$out/result\"\n\
             echo log >&2\n\
             if (echo no > \"$elsewhere/stolen\") 2>/dev/null; then echo WROTE-ELSEWHERE; else echo denied; fi\n\
             exit 7\n",
        )
        .unwrap();
        let mac = p.inside(&host);
        Layout { host, mac }
    }

    /// Nix 2.24's shape, in Mac paths.
    fn profile(&self) -> String {
        let m = &self.mac;
        format!(
            "(version 1)\n(deny default (with no-log))\n\
             (define TMPDIR (param \"_GLOBAL_TMP_DIR\"))\n(deny file-write-setugid)\n\
             (allow process-fork sysctl-read ipc-posix* ipc-sysv* system-socket)\n\
             (allow mach-lookup (global-name \"com.apple.system.opendirectoryd.libinfo\"))\n\
             (allow file* process-exec network-outbound network-inbound (literal \"/tmp\") (subpath TMPDIR))\n\
             (allow file* (literal \"/dev/null\") (literal \"/dev/stderr\") (literal \"/dev/stdin\") (literal \"/dev/stdout\") (literal \"/dev/tty\") (literal \"/dev/zero\") (subpath \"/dev/fd\"))\n\
             (allow file-read* file-write* process-exec (subpath \"{m}/store/bbb-out\"))\n\
             (allow file-read* file-write* process-exec (subpath \"/System/Library\") (subpath \"/usr/lib\") (subpath \"/bin\") (subpath \"{m}/store/aaa-input\") (subpath \"{m}/tmp/nix-build-x.drv-0\"))\n\
             (allow file-read* (literal \"/\") (literal \"{m}\") (literal \"{m}/store\"))\n"
        )
    }

    fn build_dir(&self) -> (PathBuf, String) {
        (
            self.host.join("tmp/nix-build-x.drv-0"),
            format!("{}/tmp/nix-build-x.drv-0", self.mac),
        )
    }
}

/// The environment Nix gives a builder, as shell assignments.
fn env(l: &Layout) -> String {
    let m = &l.mac;
    format!(
        "export out={m}/store/bbb-out in={m}/store/aaa-input elsewhere={m}/elsewhere \
         NIX_BUILD_TOP={m}/tmp/nix-build-x.drv-0 TMPDIR={m}/tmp/nix-build-x.drv-0"
    )
}

fn exists(p: &Path) -> bool {
    p.symlink_metadata().is_ok()
}

#[test]
fn live_nix_2_24_call_with_a_mach_o_builder() {
    let Some(p) = prefix("sandbox_exec_macho") else {
        return;
    };
    let l = Layout::new(&p);
    let (build_host, build_mac) = l.build_dir();
    fs::write(build_host.join(".sandbox.sb"), l.profile()).unwrap();
    // As Nix: cwd the build directory, -f <build>/.sandbox.sb, the builder
    // and its arguments; stdout and stderr through pipes.
    let script = format!(
        "{env}; cd {build_mac} && \
         sandbox-exec -f {build_mac}/.sandbox.sb -D _GLOBAL_TMP_DIR={m}/tmp /bin/bash -e {m}/store/aaa-input/builder.sh one 'two words' 2> >(sed 's/^/E:/') | cat; \
         echo \"status ${{PIPESTATUS[0]}}\"; wait",
        env = env(&l),
        m = l.mac,
    );
    let o = p.shell(&script);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.contains("builder: one two words\n"),
        "{}\n{}",
        o.stdout,
        o.stderr
    );
    assert!(o.stdout.contains("denied\n"), "{}", o.stdout);
    assert!(o.stdout.contains("E:log\n"), "{}", o.stdout);
    assert!(o.stdout.contains("status 7\n"), "{}", o.stdout);
    assert_eq!(
        fs::read_to_string(l.host.join("store/bbb-out/result")).unwrap(),
        "from the input\n"
    );
    assert!(!exists(&l.host.join("elsewhere/stolen")));
    assert!(!o.stderr.contains("checkin"), "{}", o.stderr);
}

#[test]
fn live_script_and_path_lookup() {
    let Some(p) = prefix("sandbox_exec_script") else {
        return;
    };
    let l = Layout::new(&p);
    let script = l.host.join("store/aaa-input/run");
    fs::write(
        &script,
        "#!/bin/bash -e\necho \"script $0: $*\"\nif (echo no > \"$elsewhere/stolen\") 2>/dev/null; then echo WROTE; else echo denied; fi\nexit 3\n",
    )
    .unwrap();
    fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let sb = l.host.join("p.sb");
    fs::write(&sb, l.profile()).unwrap();
    let m = &l.mac;
    let o = p.shell(&format!(
        "{env}; sandbox-exec -f {m}/p.sb -D _GLOBAL_TMP_DIR={m}/tmp {m}/store/aaa-input/run a b; echo \"status $?\"; \
         sandbox-exec -f {m}/p.sb -D _GLOBAL_TMP_DIR={m}/tmp bash -c 'echo \"found $0\"; exit 5'; echo \"status $?\"",
        env = env(&l)
    ));
    assert_eq!(
        o.stdout,
        format!("script {m}/store/aaa-input/run: a b\ndenied\nstatus 3\nfound bash\nstatus 5\n"),
        "{}",
        o.stderr
    );
    assert!(!exists(&l.host.join("elsewhere/stolen")));
}

/// A sandbox-exec started by a program already under one (through Darling's
/// bash in between) refuses as macOS does: `sandbox_apply: Operation not
/// permitted`, exit 71, and the program does not run.
#[test]
fn live_nested_sandbox_exec_is_refused() {
    let Some(p) = prefix("sandbox_exec_nested") else {
        return;
    };
    let o = p.shell(
        "sandbox-exec -p '(version 1)(allow default)' /bin/bash -c \
         \"sandbox-exec -p '(version 1)(allow default)' /bin/echo inner-ran; echo inner=\\$?\"",
    );
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("inner=71\n"), "{o:?}");
    assert!(!o.stdout.contains("inner-ran"), "{o:?}");
    assert!(
        o.stderr
            .contains("sandbox-exec: sandbox_apply: Operation not permitted"),
        "{o:?}"
    );
}
