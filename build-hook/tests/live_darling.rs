//! The live tier: Debian's Nix 2.8 on the host runs our hook with the
//! `darling` runner on the real Darling installed here. Builders are
//! Darling's Mach-O programs (`/bin/bash`, `/bin/zsh`, `/bin/mkdir`,
//! `/bin/cp`, `/usr/bin/sed`), the host store is bind-mounted into the
//! prefix by nix/darling-prefix.sh exactly as the NixOS module does, and
//! every test checks that nothing of its builds is left running inside.
//!
//! Each test skips (one line) when no working Darling is found, unless
//! `DARLING_NIX_LIVE=require`. Derivations carry a nonce, so every run
//! builds afresh in the host store.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use e2e::live::LivePrefix;
use e2e::Out;

mod common;
use common::hook;

fn prefix_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../nix/darling-prefix.sh")
}

struct Live {
    p: LivePrefix,
    dir: PathBuf,
    cfg: PathBuf,
    nonce: String,
}

const NIX_OPTS: &[&str] = &[
    "--option",
    "builders",
    "",
    "--option",
    "substituters",
    "",
    "--option",
    "build-users-group",
    "",
];

impl Live {
    /// A started prefix sharing the host store, and a hook config for it.
    fn new(test: &str, extra: &str) -> Option<Live> {
        let p = LivePrefix::new(test)?;
        let o: Out = Command::new("sh")
            .arg(prefix_script())
            .arg("start")
            .env("DPREFIX", p.prefix())
            .env("DARLING", e2e::live::darling_bin().unwrap())
            .stdin(Stdio::null())
            .output()
            .unwrap()
            .into();
        assert_eq!(o.code, 0, "darling-prefix.sh start: {}", o.stderr);
        let dir = p.scratch();
        for d in ["state", "build"] {
            fs::create_dir_all(dir.join(d)).unwrap();
        }
        let cfg = dir.join("hook.toml");
        fs::write(
            &cfg,
            format!(
                "runner = \"darling\"\nprefix = \"{}\"\ndarling = \"{}\"\nstate-dir = \"{}\"\nbuild-dir = \"{}\"\n{extra}\n",
                p.prefix().display(),
                e2e::live::darling_bin().unwrap().display(),
                dir.join("state").display(),
                dir.join("build").display()
            ),
        )
        .unwrap();
        let nonce = format!(
            "{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        Some(Live { p, dir, cfg, nonce })
    }

    /// `mk NAME BUILDER SCRIPT` makes a darwin derivation.
    fn expr(&self, body: &str) -> String {
        format!(
            r#"let nonce = "{}";
                   mk = name: builder: script: derivation {{
                     inherit name nonce builder; system = "x86_64-darwin";
                     args = [ "-c" script ]; PATH = "/bin:/usr/bin"; }};
               in {body}"#,
            self.nonce
        )
    }

    fn instantiate(&self, body: &str) -> Vec<String> {
        let f = self.dir.join(format!("e{}.nix", body.len()));
        fs::write(&f, self.expr(body)).unwrap();
        let o: Out = Command::new("nix-instantiate")
            .arg(&f)
            .stdin(Stdio::null())
            .output()
            .unwrap()
            .into();
        assert_eq!(o.code, 0, "nix-instantiate: {}", o.stderr);
        o.stdout.lines().map(str::to_string).collect()
    }

    fn realise_cmd(&self, drvs: &[String], opts: &[(&str, &str)]) -> Command {
        let mut c = Command::new("nix-store");
        c.arg("-r").args(drvs).args(NIX_OPTS);
        c.arg("--option").arg("build-hook").arg(hook());
        for (k, v) in opts {
            c.args(["--option", k, v]);
        }
        c.env("DARLING_NIX_HOOK_CONFIG", &self.cfg)
            .stdin(Stdio::null());
        c
    }

    fn realise(&self, drvs: &[String], opts: &[(&str, &str)]) -> Out {
        self.realise_cmd(drvs, opts).output().unwrap().into()
    }

    fn valid(&self, path: &str) -> bool {
        Command::new("nix-store")
            .args(["--check-validity", path])
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
    }

    fn outputs(&self, drv: &str) -> Vec<String> {
        let o: Out = Command::new("nix-store")
            .args(["-q", "--outputs", drv])
            .output()
            .unwrap()
            .into();
        o.stdout.lines().map(str::to_string).collect()
    }

    fn references(&self, path: &str) -> Vec<String> {
        let o: Out = Command::new("nix-store")
            .args(["-q", "--references", path])
            .output()
            .unwrap()
            .into();
        let mut v: Vec<String> = o.stdout.lines().map(str::to_string).collect();
        v.sort();
        v
    }
}

fn simple_build(test: &str, extra: &str) {
    let Some(l) = Live::new(test, extra) else {
        return;
    };
    // As in a Darling built without its `cli` component: no /usr/bin (no
    // /usr/bin/env) in this prefix. Nothing the hook runs may need it.
    let o = l.p.shell("/bin/rm -rf /usr/bin && ! test -e /usr/bin/env");
    assert_eq!(o.code, 0, "{o:?}");
    let drv = l.instantiate(
        r#"mk "simple" "/bin/bash" "echo building simple; echo \"bash $BASH_VERSION\"; echo hi > $out""#,
    );
    let out = l.outputs(&drv[0]).remove(0);
    let o = l.realise(&drv, &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout.trim(), out);
    assert!(
        o.stderr
            .contains(&format!("building '{}' on 'darling'", drv[0])),
        "{}",
        o.stderr
    );
    // Darling's Mach-O bash (3.2), not the host's.
    assert!(o.stderr.contains("bash 3.2"), "{}", o.stderr);
    assert!(l.valid(&out));
    assert_eq!(fs::read_to_string(&out).unwrap(), "hi\n");
    let log: Out = Command::new("nix-store")
        .args(["-l", &drv[0]])
        .output()
        .unwrap()
        .into();
    assert!(log.stdout.contains("building simple"), "{}", log.stdout);
    let log: Out = Command::new("nix")
        .args(["--extra-experimental-features", "nix-command", "log"])
        .args(["--option", "substituters", ""])
        .arg(&drv[0])
        .output()
        .unwrap()
        .into();
    assert!(log.stdout.contains("building simple"), "nix log: {log:?}");
    l.p.assert_gone("building simple");
    // `--check` sees the job server the build started (or none).
    let check: Out = Command::new(hook())
        .arg("--check")
        .env("DARLING_NIX_HOOK_CONFIG", &l.cfg)
        .output()
        .unwrap()
        .into();
    let line = check.stdout.lines().find(|l| l.contains("jobserver"));
    if extra.contains("job-server = false") {
        assert!(line.is_none(), "{}", check.stdout);
    } else {
        assert!(
            line.is_some_and(|l| l.contains(" running (")),
            "{}",
            check.stdout
        );
    }
}

/// A builder inside Darling repeating Darling's own complaint: Nix's log
/// gets the first five and one count, and the builder's exit decides.
#[test]
fn a_repeated_line_from_darling_is_collapsed() {
    let Some(l) = Live::new("hook-flood", "") else {
        return;
    };
    let drv = l.instantiate(
        r#"mk "flood" "/bin/bash" "echo start; i=0; while [ $i -lt 5000 ]; do echo 'Unimplemented syscall (544)' >&2; i=$((i+1)); done; echo done; echo ok > $out""#,
    );
    let o = l.realise(&drv, &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let log: Out = Command::new("nix-store")
        .args(["-l", &drv[0]])
        .output()
        .unwrap()
        .into();
    let lines: Vec<&str> = log.stdout.lines().collect();
    let copies = lines
        .iter()
        .filter(|l| **l == "Unimplemented syscall (544)")
        .count();
    assert_eq!(copies, 5, "{}", log.stdout);
    assert!(lines.contains(&"... repeated 4995 times"), "{}", log.stdout);
    assert!(lines.contains(&"done"), "{}", log.stdout);
    assert!(l.valid(o.stdout.trim()));
}

#[test]
fn simple_build_with_nix_log_through_the_job_server() {
    simple_build("hook-simple-server", "");
}

#[test]
fn simple_build_with_nix_log_through_darling_shell() {
    simple_build("hook-simple-shell", "job-server = false");
}

#[test]
fn dependency_chain_multiple_outputs_and_cli_tools() {
    chain("hook-chain", "");
}

/// Nix 2.29+'s registration route, on a real /nix/store with Nix 2.8.
#[test]
fn dependency_chain_registered_with_register_validity() {
    chain("hook-chain-rv", "register = \"register-validity\"");
}

fn chain(test: &str, extra: &str) {
    let Some(l) = Live::new(test, extra) else {
        return;
    };
    let drv = l.instantiate(
        r#"let dep = mk "dep" "/bin/zsh" "print -r -- \"zsh $ZSH_VERSION\"; print -r -- apple > $out";
               top = derivation {
                 name = "top"; inherit nonce; system = "x86_64-darwin"; builder = "/bin/bash";
                 outputs = [ "out" "dev" ]; PATH = "/bin:/usr/bin";
                 args = [ "-c" "mkdir -p $out/share $dev && cp ${dep} $out/share/dep && sed s/apple/pear/ ${dep} > $out/share/fruit && echo $out > $dev/ref" ];
               };
           in top"#,
    );
    let outs = l.outputs(&drv[0]);
    let o = l.realise(&drv, &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("zsh 5"), "{}", o.stderr);
    let dev = outs.iter().find(|p| p.ends_with("-dev")).unwrap();
    let out = outs.iter().find(|p| !p.ends_with("-dev")).unwrap();
    assert!(l.valid(out) && l.valid(dev));
    assert_eq!(
        fs::read_to_string(format!("{out}/share/fruit")).unwrap(),
        "pear\n"
    );
    assert_eq!(
        fs::read_to_string(format!("{out}/share/dep")).unwrap(),
        "apple\n"
    );
    assert_eq!(l.references(dev), vec![out.clone()]);
    // `top` copied dep's contents, not its path: no reference.
    assert!(l.references(out).is_empty(), "{:?}", l.references(out));
}

#[test]
fn failing_builder_reports_its_exit_code_and_registers_nothing() {
    let Some(l) = Live::new("hook-fail", "") else {
        return;
    };
    let drv = l.instantiate(
        r#"mk "fails" "/bin/bash" "echo about to fail >&2; /bin/mkdir $out; echo partial > $out/f; exit 3""#,
    );
    let out = l.outputs(&drv[0]).remove(0);
    let o = l.realise(&drv, &[]);
    assert_eq!(o.code, 100, "{}", o.stderr);
    assert!(o.stderr.contains("about to fail"), "{}", o.stderr);
    assert!(o.stderr.contains("failed with exit code 3"), "{}", o.stderr);
    assert!(!l.valid(&out));
    assert!(!Path::new(&out).exists(), "partial output left behind");
    let left: Vec<_> = fs::read_dir(l.dir.join("build")).unwrap().collect();
    assert!(left.is_empty(), "build directory left behind: {left:?}");
}

fn limits(test: &str, extra: &str) {
    let Some(l) = Live::new(test, extra) else {
        return;
    };
    let drv = l.instantiate(
        r#"[ (mk "silent" "/bin/bash" "echo started; /bin/sleep 61 & wait; echo > $out")
             (mk "chatty" "/bin/bash" "while true; do echo tick; /bin/sleep 0.3; done") ]"#,
    );
    let t = Instant::now();
    let o = l.realise(&drv[..1], &[("max-silent-time", "2")]);
    assert!(t.elapsed() < Duration::from_secs(40), "not killed in time");
    assert_eq!(o.code, 101, "{}", o.stderr);
    assert!(
        o.stderr.contains("timed out after 2 seconds of silence"),
        "{}",
        o.stderr
    );
    l.p.assert_gone("sleep 61");
    let o = l.realise(&drv[1..], &[("timeout", "2")]);
    assert_eq!(o.code, 101, "{}", o.stderr);
    assert!(
        o.stderr.contains("timed out after 2 seconds"),
        "{}",
        o.stderr
    );
    assert!(!o.stderr.contains("of silence"), "{}", o.stderr);
    l.p.assert_gone("sleep 0.3");
    for d in &drv {
        assert!(!l.valid(&l.outputs(d)[0]));
    }
}

#[test]
fn max_silent_time_and_timeout_leave_nothing_running_through_the_job_server() {
    limits("hook-limits-server", "");
}

#[test]
fn max_silent_time_and_timeout_leave_nothing_running_through_darling_shell() {
    limits("hook-limits-shell", "job-server = false");
}

fn hook_killed_by_nix(test: &str, extra: &str) {
    let Some(l) = Live::new(test, extra) else {
        return;
    };
    let marker = l.dir.join("started");
    let drv = l.instantiate(&format!(
        r#"mk "killed" "/bin/bash" "/bin/mkdir $out; echo partial > $out/f; echo > {}; /bin/sleep 62; echo done >> $out/f""#,
        l.p.inside(&marker)
    ));
    let out = l.outputs(&drv[0]).remove(0);
    let (so, se) = (l.dir.join("nix.out"), l.dir.join("nix.err"));
    let mut nix = l
        .realise_cmd(&drv, &[])
        .stdout(fs::File::create(&so).unwrap())
        .stderr(fs::File::create(&se).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !marker.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "builder never started: {}",
            fs::read_to_string(&se).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(l.p.cmdlines().iter().any(|c| c.contains("sleep 62")));
    // Interrupted, Nix kills its hook's process group with SIGKILL.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(nix.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let st = nix.wait().unwrap();
    assert!(!st.success());
    l.p.assert_gone("sleep 62");
    assert!(!l.valid(&out), "partial output registered");
}

#[test]
fn hook_killed_by_nix_leaves_nothing_running_through_the_job_server() {
    hook_killed_by_nix("hook-killed-server", "");
}

#[test]
fn hook_killed_by_nix_leaves_nothing_running_through_darling_shell() {
    hook_killed_by_nix("hook-killed-shell", "job-server = false");
}

#[test]
fn twenty_builds_never_exceed_two_slots() {
    let Some(l) = Live::new("hook-slots", "max-jobs = 2") else {
        return;
    };
    let running = l.dir.join("running");
    let counts = l.dir.join("counts");
    fs::create_dir_all(&running).unwrap();
    fs::create_dir_all(&counts).unwrap();
    let drvs = l.instantiate(&format!(
        r#"builtins.genList (i: mk "par-${{toString i}}" "/bin/bash"
             "/bin/mkdir {r}/$name; n=({r}/*); echo \${{#n[@]}} > {c}/$name; /bin/sleep 0.5; /bin/rmdir {r}/$name; echo $name > $out") 20"#,
        r = l.p.inside(&running),
        c = l.p.inside(&counts),
    ));
    assert_eq!(drvs.len(), 20);
    let o = l.realise(&drvs, &[("build-poll-interval", "1"), ("max-jobs", "20")]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout.lines().count(), 20);
    common::assert_slots_used(&counts, 20, 2);
}

#[test]
fn a_restarted_prefix_gets_a_new_job_server() {
    let Some(l) = Live::new("hook-restart", "") else {
        return;
    };
    let drv = l.instantiate(
        r#"[ (mk "before" "/bin/bash" "echo 1 > $out") (mk "after" "/bin/bash" "echo 2 > $out") ]"#,
    );
    let o = l.realise(&drv[..1], &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // What the module's service does on stop and start.
    for action in ["stop", "start"] {
        let o: Out = Command::new("sh")
            .arg(prefix_script())
            .arg(action)
            .env("DPREFIX", l.p.prefix())
            .env("DARLING", e2e::live::darling_bin().unwrap())
            .stdin(Stdio::null())
            .output()
            .unwrap()
            .into();
        assert_eq!(o.code, 0, "darling-prefix.sh {action}: {}", o.stderr);
    }
    let o = l.realise(&drv[1..], &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let out = o.stdout.trim();
    assert_eq!(fs::read_to_string(out).unwrap(), "2\n");
}

#[test]
fn prefix_script_rejects_bad_input_and_changes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let run = |args: &[&str], prefix: Option<&Path>| -> Out {
        let mut c = Command::new("sh");
        c.arg(prefix_script()).args(args).env_remove("DPREFIX");
        if let Some(p) = prefix {
            c.env("DPREFIX", p);
        }
        c.env("DARLING", "/nonexistent/darling")
            .stdin(Stdio::null())
            .output()
            .unwrap()
            .into()
    };
    assert_eq!(run(&["start"], None).code, 64);
    assert_eq!(run(&["start"], Some(Path::new("relative"))).code, 64);
    assert_eq!(run(&["frobnicate"], Some(d.path())).code, 64);
    assert_eq!(run(&[], Some(d.path())).code, 64);
    // A directory with something else in it is not turned into a prefix.
    fs::write(d.path().join("precious"), "data").unwrap();
    let o = run(&["start"], Some(d.path()));
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("not a Darling prefix"), "{}", o.stderr);
    let names: Vec<_> = fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("precious")]);
    // Darling missing: 69, and the message says so.
    let p = d.path().join("new-prefix");
    let o = run(&["start"], Some(&p));
    assert_eq!(o.code, 69, "{o:?}");
    assert!(o.stderr.contains("failed"), "{}", o.stderr);
}

/// The realistic darwin build: a Mach-O compiler as the builder (the macOS
/// zig 0.12.0 from PyPI, as nixpkgs' darwin stdenv has clang), built by the
/// host's Nix through the hook, and its output run inside Darling. Written
/// when no Darling was at hand: it has not run yet (docs/verification.md).
#[test]
fn a_mach_o_compiler_builds_a_program_that_runs_in_darling() {
    use e2e::corpus::{cache_dir, fetch, macho_kind, unpack, CORPUS};
    let Some(l) = Live::new("zig-build", "") else {
        return;
    };
    let zig_cc = CORPUS.iter().find(|p| p.name == "zig cc").unwrap();
    let cache = cache_dir();
    let bin = fetch(zig_cc, &cache)
        .and_then(|a| unpack(zig_cc, &a, &cache))
        .unwrap_or_else(|e| panic!("macOS zig: {e}"));
    let add = |p: &Path| -> String {
        let o: Out = Command::new("nix-store")
            .arg("--add")
            .arg(p)
            .stdin(Stdio::null())
            .output()
            .unwrap()
            .into();
        assert_eq!(o.code, 0, "nix-store --add {}: {}", p.display(), o.stderr);
        o.stdout.trim().to_string()
    };
    let zig = add(bin.parent().unwrap());
    // xnu-fixes for every builder, as nix-install sets a prefix up: the
    // hook's runner loads it (`interpose`), zig needs its __ulock_wait2.
    let dylib =
        l.p.prefix()
            .join(build_hook::config::DEFAULT_INTERPOSE.trim_start_matches('/'));
    let b: Out = Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../xnu-fixes/dylib/build.sh"))
        .arg(&dylib)
        .env(
            "CARGO_TARGET_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("dylib"),
        )
        .stdin(Stdio::null())
        .output()
        .unwrap()
        .into();
    assert_eq!(b.code, 0, "xnu-fixes/dylib/build.sh: {}", b.stderr);
    let src = l.dir.join("hello.c");
    fs::write(
        &src,
        "#include <stdio.h>\nint main(void) { printf(\"built by zig in Darling\\n\"); return 0; }\n",
    )
    .unwrap();
    let src = add(&src);
    let drv = l.instantiate(&format!(
        r#"let zig = builtins.storePath "{zig}"; src = builtins.storePath "{src}"; in
           mk "zig-hello" "/bin/bash" "export ZIG_GLOBAL_CACHE_DIR=$TMPDIR/zig-global ZIG_LOCAL_CACHE_DIR=$TMPDIR/zig-local; ${{zig}}/zig cc ${{src}} -o $out""#
    ));
    let o = l.realise(&drv, &[("timeout", "900")]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let out = o.stdout.trim().to_string();
    assert_eq!(macho_kind(Path::new(&out)).unwrap(), "x86_64");
    let run = l.p.shell(&out);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "built by zig in Darling\n");
    // The compiler's store path: the prefix's own directory names the test.
    l.p.assert_gone(&zig);
}
