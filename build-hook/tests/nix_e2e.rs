//! End to end with real Nix and a chroot store: `nix-store -r` runs our
//! hook, which runs each darwin builder through the chroot runner (standing
//! in for Darling) and registers the outputs. Every test runs against each
//! Nix Debian ships: bookworm's 2.8 on the host, trixie's 2.26 and sid's
//! 2.34 in roots made by mmdebstrap (see `e2e::roots`).

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::{Duration, Instant};

use e2e::each_nix;
use e2e::nix::NixStore;
use e2e::roots::VERSIONS;

mod common;
use common::{expr, hook};

#[test]
fn the_macro_covers_every_version() {
    let names: Vec<&str> = VERSIONS.iter().map(|v| v.0).collect();
    assert_eq!(names, ["2.8", "2.26", "2.34"]);
}

/// Nix 2.29 stopped mapping hook statuses 100/101 to their own codes.
fn failed_code(s: &NixStore, code: i32) -> i32 {
    if s.env().at_least(2, 29) {
        1
    } else {
        code
    }
}

fn simple_build_streams_its_log_and_registers_the_output(s: &NixStore) {
    let cfg = s.hook_config("h", "");
    let drv = s.instantiate(&expr(
        r#"mk "simple" "echo building simple; echo hi > $out""#,
    ));
    let out = s.outputs(&drv[0]).remove(0);
    let o = s.realise(&drv, &hook(), &cfg, &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout.trim(), out);
    assert!(
        o.stderr
            .contains(&format!("building '{}' on 'darling'", drv[0])),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains("building simple"),
        "fd-4 log not shown: {}",
        o.stderr
    );
    assert!(s.is_valid(&out));
    assert_eq!(fs::read_to_string(s.real(&out)).unwrap(), "hi\n");
    let m = fs::metadata(s.real(&out)).unwrap();
    assert_eq!(
        (m.mtime(), m.permissions().mode() & 0o777),
        (1, 0o444),
        "not canonical"
    );
    let log = s.nix_store(&["-l", &drv[0]]);
    assert_eq!(log.code, 0, "{}", log.stderr);
    assert!(
        log.stdout.contains("building simple"),
        "nix-store -l: {}",
        log.stdout
    );
    // `register = auto` wrote the store database itself: it never needed
    // to ask which Nix this is (the `nix-store` routes do, and cache it).
    assert!(
        !s.scratch().join("h-state/nix-version").exists(),
        "auto did not register through the database"
    );
    // Built already: a second realise does not ask the hook at all.
    let again = s.realise(&drv, &hook(), &cfg, &[]);
    assert_eq!(again.code, 0);
    assert!(!again.stderr.contains("on 'darling'"), "{}", again.stderr);
}

fn references_to_inputs_and_self_are_registered(s: &NixStore) {
    let cfg = s.hook_config("h", "");
    let drv = s.instantiate(&expr(
        r#"let dep = mk "dep" "echo dep > $out";
               unused = mk "unused" "echo unused > $out";
           in mk "top" "cat ${dep} > $out; cat ${unused} >/dev/null; echo ${dep} $out >> $out""#,
    ));
    let o = s.realise(&drv, &hook(), &cfg, &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let top = o.stdout.trim().to_string();
    let text = fs::read_to_string(s.real(&top)).unwrap();
    let dep = text.split_whitespace().nth(1).unwrap().to_string();
    assert!(dep.ends_with("-dep"), "{text}");
    let mut want = vec![dep.clone(), top.clone()];
    want.sort();
    assert_eq!(s.references(&top), want);
    assert!(s.references(&dep).is_empty());
    let deriver = s.nix_store(&["-q", "--deriver", &top]);
    assert_eq!(deriver.stdout.trim(), drv[0]);
}

fn multi_output_derivation(s: &NixStore) {
    let cfg = s.hook_config("h", "");
    let drv = s.instantiate(
        r#"derivation { name = "multi"; system = "x86_64-darwin"; builder = "/bin/sh"; PATH = "/bin";
             outputs = [ "out" "dev" ];
             args = [ "-c" "mkdir -p $out/bin $dev; echo '#!/bin/sh' > $out/bin/x; chmod +x $out/bin/x; echo $out > $dev/ref" ]; }"#,
    );
    let outs = s.outputs(&drv[0]);
    assert_eq!(outs.len(), 2);
    let o = s.realise(&drv, &hook(), &cfg, &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let dev = outs.iter().find(|p| p.ends_with("-dev")).unwrap();
    let out = outs.iter().find(|p| !p.ends_with("-dev")).unwrap();
    assert!(s.is_valid(out) && s.is_valid(dev));
    assert_eq!(s.references(dev), vec![out.clone()]);
    assert!(s.references(out).is_empty());
    let x = fs::metadata(s.real(out).join("bin/x")).unwrap();
    assert_eq!(x.permissions().mode() & 0o777, 0o555);
}

fn failing_builder_registers_nothing_and_shows_the_log_tail(s: &NixStore) {
    let cfg = s.hook_config("h", "");
    let drv = s.instantiate(&expr(
        r#"mk "fails" "echo step one; echo about to fail >&2; mkdir $out; echo partial > $out/f; exit 3""#,
    ));
    let out = s.outputs(&drv[0]).remove(0);
    let o = s.realise(&drv, &hook(), &cfg, &[]);
    // Nix 2.8 to 2.28 map hook status 100 to a permanent build failure.
    assert_eq!(o.code, failed_code(s, 100), "{}", o.stderr);
    assert!(
        o.stderr.contains("about to fail"),
        "log tail missing: {}",
        o.stderr
    );
    assert!(o.stderr.contains("failed with exit code 3"), "{}", o.stderr);
    assert!(!s.is_valid(&out));
    assert!(!s.real(&out).exists(), "partial output left behind");
    let leftovers: Vec<_> = fs::read_dir(s.root().join("tmp")).unwrap().collect();
    assert!(leftovers.is_empty(), "build directory left behind");
}

fn silent_builder_is_killed_by_max_silent_time(s: &NixStore) {
    let cfg = s.hook_config("h", "");
    let marker = format!("silent-{}", std::process::id());
    // A sleep no other test (of another Nix version) runs at the same time.
    let secs = 100 + s.env().version.1;
    let drv = s.instantiate(&expr(&format!(
        r#"mk "{marker}" "echo started; sleep {secs} & wait; touch $out""#
    )));
    let out = s.outputs(&drv[0]).remove(0);
    let t = Instant::now();
    let o = s.realise(&drv, &hook(), &cfg, &[("max-silent-time", "1")]);
    assert!(t.elapsed() < Duration::from_secs(30), "not killed in time");
    assert_eq!(o.code, failed_code(s, 101), "{}", o.stderr);
    assert!(
        o.stderr.contains("timed out after 1 seconds of silence"),
        "{}",
        o.stderr
    );
    assert!(!s.is_valid(&out) && !s.real(&out).exists());
    // The builder's whole process group died, including the backgrounded sleep.
    std::thread::sleep(Duration::from_millis(200));
    let survivors = fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| fs::read(e.ok()?.path().join("cmdline")).ok())
        .filter(|c| *c == format!("sleep\0{secs}\0").into_bytes())
        .count();
    assert_eq!(survivors, 0, "builder processes survived the timeout");
}

fn chatty_builder_is_killed_by_timeout(s: &NixStore) {
    let cfg = s.hook_config("h", "");
    let drv = s.instantiate(&expr(
        r#"mk "chatty" "while true; do echo tick; sleep 0.2; done""#,
    ));
    let o = s.realise(&drv, &hook(), &cfg, &[("timeout", "1")]);
    assert_eq!(o.code, failed_code(s, 101), "{}", o.stderr);
    assert!(
        o.stderr.contains("timed out after 1 seconds"),
        "{}",
        o.stderr
    );
    assert!(!o.stderr.contains("of silence"), "{}", o.stderr);
}

fn twenty_builds_never_exceed_two_slots(s: &NixStore) {
    let cfg = s.hook_config("h", "max-jobs = 2");
    fs::create_dir_all(s.root().join("tmp/running")).unwrap();
    fs::create_dir_all(s.root().join("tmp/counts")).unwrap();
    let drvs = s.instantiate(&expr(
        r#"builtins.genList (i: mk "par-${toString i}"
             "mkdir /tmp/running/$name; ls /tmp/running | wc -l > /tmp/counts/$name; sleep 0.3; rmdir /tmp/running/$name; echo $name > $out") 20"#,
    ));
    assert_eq!(drvs.len(), 20);
    let o = s.realise(
        &drvs,
        &hook(),
        &cfg,
        &[("build-poll-interval", "1"), ("max-jobs", "20")],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout.lines().count(), 20);
    common::assert_slots_used(&s.root().join("tmp/counts"), 20, 2);
}

fn non_darwin_is_declined_and_built_locally_even_through_a_forwarded_hook(s: &NixStore) {
    // Nix's own build-remote, which declines permanently with no builders:
    // we must not pass that on, or Nix would stop asking us about darwin.
    let cfg = s.hook_config("h", "forward = [\"/usr/libexec/nix/build-remote\"]");
    let busybox = s.root().join("bin/busybox");
    let drv = s.instantiate(&expr(
        r#"let lin = derivation { name = "linux-local"; system = builtins.currentSystem;
                                  builder = "/bin/sh"; args = [ "-c" "echo local > $out" ]; };
           in mk "after-linux" "cat ${lin} > $out""#,
    ));
    let sandbox = format!("/bin/sh={}", s.inside(&busybox).display());
    let o = s.realise(&drv, &hook(), &cfg, &[("sandbox-paths", &sandbox)]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains("-after-linux.drv' on 'darling'"),
        "{}",
        o.stderr
    );
    assert!(!o.stderr.contains("linux-local.drv' on"), "{}", o.stderr);
    assert_eq!(
        fs::read_to_string(s.real(o.stdout.trim())).unwrap(),
        "local\n"
    );

    // And with no forwarding at all.
    let plain = s.hook_config("plain", "");
    let lin = s.instantiate(
        r#"derivation { name = "linux-plain"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo plain > $out" ]; }"#,
    );
    let o = s.realise(&lin, &hook(), &plain, &[("sandbox-paths", &sandbox)]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!o.stderr.contains("on 'darling'"), "{}", o.stderr);
}

fn register_validity_route(s: &NixStore) {
    // Nix 2.8 and 2.26 hash the logical path in --register-validity, so on
    // a chroot store it must fail cleanly (not hang, nothing registered);
    // from 2.29 (which ignores NIX_HELD_LOCKS) it is the route that takes no
    // output lock, so it must not deadlock against the locks Nix holds.
    let cfg = s.hook_config("h", "register = \"register-validity\"");
    let drv = s.instantiate(&expr(
        r#"let dep = mk "regval-dep" "echo dep > $out"; in mk "regval" "echo ${dep} > $out""#,
    ));
    let out = s.outputs(&drv[0]).remove(0);
    let t = Instant::now();
    let o = s.realise(&drv, &hook(), &cfg, &[]);
    assert!(t.elapsed() < Duration::from_secs(60), "{}", o.stderr);
    if s.env().at_least(2, 29) {
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert!(s.is_valid(&out));
        let dep = fs::read_to_string(s.real(&out)).unwrap().trim().to_string();
        assert_eq!(s.references(&out), vec![dep]);
        s.verify();
    } else {
        assert_ne!(o.code, 0, "{}", o.stderr);
        assert!(o.stderr.contains("registering the outputs"), "{}", o.stderr);
        assert!(!s.is_valid(&out));
        assert!(!s.real(&out).exists());
    }
}

fn import_route_and_the_version_cache(s: &NixStore) {
    // --import with NIX_HELD_LOCKS works up to 2.28; later versions ignore
    // the variable, so the hook refuses at once instead of hanging. Either
    // way the version came from the hook's cache of `nix-store --version`.
    let cfg = s.hook_config("h", "register = \"import\"");
    let drv = s.instantiate(&expr(r#"mk "imported" "echo imported > $out""#));
    let out = s.outputs(&drv[0]).remove(0);
    let t = Instant::now();
    let o = s.realise(&drv, &hook(), &cfg, &[]);
    assert!(t.elapsed() < Duration::from_secs(60), "{}", o.stderr);
    if s.env().at_least(2, 29) {
        assert_ne!(o.code, 0, "{}", o.stderr);
        assert!(
            o.stderr.contains("it ignores NIX_HELD_LOCKS")
                && o.stderr.contains("register = \"auto\""),
            "{}",
            o.stderr
        );
        assert!(!s.is_valid(&out) && !s.real(&out).exists());
    } else {
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert!(s.is_valid(&out));
        s.verify();
    }
    let cache = fs::read_to_string(s.scratch().join("h-state/nix-version")).unwrap();
    let (key, line) = cache.split_once('\n').unwrap();
    // Keyed by the real binary (nix-store is a link to nix from 2.x on).
    assert!(key.starts_with('/'), "{cache}");
    let (maj, min) = s.env().version;
    assert!(
        line.starts_with("nix-store (Nix) ") && line.contains(&format!(" {maj}.{min}.")),
        "{cache}"
    );
}

fn db_route_writes_what_nix_itself_verifies(s: &NixStore) {
    // The default route: the rows Nix's registration writes, straight into
    // the store database. Nix's own verify re-hashes every path against
    // them; references, deriver and validity come back through Nix.
    let cfg = s.hook_config("h", "register = \"db\"");
    let drv = s.instantiate(
        r#"let dep = derivation { name = "db-dep"; system = "x86_64-darwin"; builder = "/bin/sh";
                                  PATH = "/bin"; args = [ "-c" "mkdir -p $out/lib; echo dep > $out/lib/f; ln -s f $out/lib/link" ]; };
           in derivation { name = "db-multi"; system = "x86_64-darwin"; builder = "/bin/sh"; PATH = "/bin";
             outputs = [ "out" "dev" ];
             args = [ "-c" "mkdir -p $out/bin $dev; echo '#!/bin/sh' > $out/bin/x; echo ${dep} >> $out/bin/x; chmod +x $out/bin/x; echo $out > $dev/ref; echo $dev > $dev/self" ]; }"#,
    );
    let outs = s.outputs(&drv[0]);
    let o = s.realise(&drv, &hook(), &cfg, &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let dev = outs.iter().find(|p| p.ends_with("-dev")).unwrap();
    let out = outs.iter().find(|p| !p.ends_with("-dev")).unwrap();
    let x = fs::read_to_string(s.real(out).join("bin/x")).unwrap();
    let dep = x.lines().nth(1).unwrap().to_string();
    assert!(s.is_valid(out) && s.is_valid(dev) && s.is_valid(&dep));
    assert_eq!(s.references(out), vec![dep.clone()]);
    let mut want = vec![dev.clone(), out.clone()];
    want.sort();
    assert_eq!(s.references(dev), want);
    assert!(s.references(&dep).is_empty());
    let referrers = s.nix_store(&["-q", "--referrers", &dep]);
    assert_eq!(referrers.stdout.trim(), out.as_str());
    for p in [out, dev] {
        let d = s.nix_store(&["-q", "--deriver", p]);
        assert_eq!(d.stdout.trim(), drv[0]);
    }
    s.verify();
    let hash = s.nix_store(&["-q", "--hash", out]);
    assert!(hash.stdout.starts_with("sha256:"), "{}", hash.stdout);
    // And the closure is complete for the garbage collector: with `out`
    // rooted, the input it refers to is alive, and `dev` (which nothing
    // alive refers to) is dead.
    let root = s.inside(&s.scratch().join("gc-root"));
    let r = s.nix_store(&[
        "--add-root",
        root.to_str().unwrap(),
        "--indirect",
        "-r",
        out,
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let gc = s.nix_store(&["--gc", "--print-dead"]);
    assert_eq!(gc.code, 0, "{}", gc.stderr);
    let dead: Vec<&str> = gc.stdout.lines().collect();
    assert!(!dead.contains(&out.as_str()), "{}", gc.stdout);
    assert!(!dead.contains(&dep.as_str()), "{}", gc.stdout);
    assert!(dead.contains(&dev.as_str()), "{}", gc.stdout);
}

fn forwarded_hook_that_accepts_gets_a_transparent_relay(s: &NixStore) {
    // The forwarded hook here is a second instance of ours configured for
    // x86_64-linux, so the relay path (settings replay, accept, inputs,
    // log on fd 4, exit status) runs against real Nix without a network.
    let inner = s.hook_config("inner", "systems = [\"x86_64-linux\"]\nlabel = \"inner\"");
    let outer = s.hook_config(
        "outer",
        &format!(
            "forward = [\"{}\", \"--config\", \"{}\"]",
            s.install(&hook()).display(),
            inner.display()
        ),
    );
    let drv = s.instantiate(
        r#"derivation { name = "relayed"; system = builtins.currentSystem; builder = "/bin/sh"; PATH = "/bin";
             args = [ "-c" "echo relayed-log; echo relayed > $out" ]; }"#,
    );
    let o = s.realise(&drv, &hook(), &outer, &[("max-jobs", "0")]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("on 'inner'"), "{}", o.stderr);
    assert!(o.stderr.contains("relayed-log"), "{}", o.stderr);
    assert_eq!(
        fs::read_to_string(s.real(o.stdout.trim())).unwrap(),
        "relayed\n"
    );
}

/// Darling's `Unimplemented syscall (N)` from a call retried in a loop: the
/// first copies reach Nix, the rest one count; the builder's exit decides.
fn a_repeated_line_is_collapsed_and_the_builder_decides(s: &NixStore) {
    let cfg = s.hook_config("h", "");
    let drv = s.instantiate(&expr(
        r#"mk "flood" "echo start; i=0; while [ $i -lt 20000 ]; do echo 'Unimplemented syscall (544)' >&2; i=$((i+1)); done; echo done; echo ok > $out""#,
    ));
    let o = s.realise(&drv, &hook(), &cfg, &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let log = s.nix_store(&["-l", &drv[0]]);
    assert_eq!(log.code, 0, "{}", log.stderr);
    let lines: Vec<&str> = log.stdout.lines().collect();
    assert_eq!(
        lines
            .iter()
            .filter(|l| **l == "Unimplemented syscall (544)")
            .count(),
        5,
        "{}",
        log.stdout
    );
    assert!(
        lines.contains(&"... repeated 19995 times"),
        "{}",
        log.stdout
    );
    assert!(lines.contains(&"done"), "{}", log.stdout);
    assert!(s.is_valid(o.stdout.trim()));
}

/// A builder that repeats one line forever still ends: Nix's max-build-log-size
/// counts what the builder wrote, not what reached Nix.
fn max_log_size_counts_what_the_builder_wrote(s: &NixStore) {
    let cfg = s.hook_config("h", "");
    let drv = s.instantiate(&expr(
        r#"mk "endless" "while true; do echo 'Unimplemented syscall (544)'; done""#,
    ));
    let out = s.outputs(&drv[0]).remove(0);
    let t = Instant::now();
    let o = s.realise(&drv, &hook(), &cfg, &[("max-build-log-size", "100000")]);
    assert!(t.elapsed() < Duration::from_secs(60), "not stopped in time");
    assert_ne!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr
            .contains("killed after writing more than 100000 bytes of log output"),
        "{}",
        o.stderr
    );
    assert!(!s.is_valid(&out) && !s.real(&out).exists());
}

/// `use-sqlite-wal = false` (NFS, WSL1): Nix opens its database with the
/// `unix-dotfile` VFS, and so does the database route; Nix's own check of
/// the store passes afterwards.
fn the_database_route_uses_nix_s_vfs_without_wal(s: &NixStore) {
    let cfg = s.hook_config("h", "");
    // Nix needs the setting from the store's first use on (a database in
    // WAL mode cannot be opened without it), so instantiate with it too.
    let f = s.scratch().join("nowal.nix");
    fs::write(&f, expr(r#"mk "nowal" "echo nowal > $out""#)).unwrap();
    let i: e2e::Out = s
        .command("nix-instantiate")
        .arg("--store")
        .arg(s.store_arg())
        .args(["--option", "use-sqlite-wal", "false"])
        .arg(s.inside(&f))
        .output()
        .unwrap()
        .into();
    assert_eq!(i.code, 0, "{}", i.stderr);
    let drv: Vec<String> = i.stdout.lines().map(str::to_string).collect();
    let o = s.realise(&drv, &hook(), &cfg, &[("use-sqlite-wal", "false")]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(s.is_valid(o.stdout.trim()));
    assert!(
        !s.scratch().join("h-state/nix-version").exists(),
        "did not register through the database"
    );
    s.verify();
}

/// `mk` with more attributes.
const PRELUDE_WITH: &str = r#"
let mkWith = name: script: extra: derivation ({
  inherit name; system = "x86_64-darwin"; builder = "/bin/sh";
  args = [ "-c" script ]; PATH = "/bin";
} // extra);
    mk = name: script: mkWith name script {};
in "#;

/// A fixed output is registered with the content address Nix gives it.
fn a_fixed_output_gets_its_content_address(s: &NixStore) {
    let cfg = s.hook_config("h", "");
    let f = s.scratch().join("fixed-content");
    fs::write(&f, "fixed\n").unwrap();
    let hash = |base32: bool| {
        let mut c = s.command("nix-hash");
        c.args(["--type", "sha256", "--flat"]);
        if base32 {
            c.arg("--base32");
        }
        let o = c.arg(s.inside(&f)).output().unwrap();
        String::from_utf8(o.stdout).unwrap().trim().to_string()
    };
    let drv = s.instantiate(&format!(
        r#"{PRELUDE_WITH} mkWith "fixed-ca" "echo fixed > $out" {{ outputHashMode = "flat"; outputHashAlgo = "sha256"; outputHash = "{}"; }}"#,
        hash(false)
    ));
    let o = s.realise(&drv, &hook(), &cfg, &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let out = o.stdout.trim().to_string();
    let db = s.root().join("nix/var/nix/db/db.sqlite");
    let ca = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap()
        .query_row("select ca from ValidPaths where path = ?", [&out], |r| {
            r.get::<_, Option<String>>(0)
        })
        .unwrap();
    assert_eq!(ca, Some(format!("fixed:sha256:{}", hash(true))));
    s.verify();
}

/// allowedReferences / disallowedReferences as Nix enforces them; the
/// requisite forms are refused with a message, never built unchecked.
fn reference_checks_are_enforced_or_refused(s: &NixStore) {
    let cfg = s.hook_config("h", "");
    let e = |body: &str| format!("{PRELUDE_WITH} {body}");
    let denied = s.instantiate(&e(
        r#"let dep = mk "ref-dep" "echo dep > $out"; in mkWith "ref-denied" "echo ${dep} > $out" { allowedReferences = []; }"#,
    ));
    let out = s.outputs(&denied[0]).remove(0);
    let o = s.realise(&denied, &hook(), &cfg, &[]);
    assert_ne!(o.code, 0, "{}", o.stdout);
    assert!(
        o.stderr.contains("is not allowed to refer to path"),
        "{}",
        o.stderr
    );
    assert!(!s.is_valid(&out) && !s.real(&out).exists());

    let fine = s.instantiate(&e(
        r#"let dep = mk "ref-dep2" "echo dep > $out"; in mkWith "ref-fine" "echo ${dep} > $out" { allowedReferences = [ dep ]; disallowedReferences = [ "out" ]; }"#,
    ));
    let o = s.realise(&fine, &hook(), &cfg, &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);

    let req = s.instantiate(&e(
        r#"mkWith "ref-req" "echo x > $out" { allowedRequisites = []; }"#,
    ));
    let o = s.realise(&req, &hook(), &cfg, &[]);
    assert_ne!(o.code, 0, "{}", o.stdout);
    assert!(o.stderr.contains("`allowedRequisites`"), "{}", o.stderr);
    s.verify();
}

/// With `auto-optimise-store` the database route steps aside for Nix's own
/// registration (which deduplicates), and the store checks out.
fn auto_optimise_store_goes_through_nix_s_registration(s: &NixStore) {
    let cfg = s.hook_config("h", "");
    let drv = s.instantiate(&expr(r#"mk "optimised" "echo optimised > $out""#));
    let o = s.realise(&drv, &hook(), &cfg, &[("auto-optimise-store", "true")]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(s.is_valid(o.stdout.trim()));
    assert!(
        s.scratch().join("h-state/nix-version").exists(),
        "registered through the database although Nix deduplicates"
    );
    s.verify();
}

/// With `secret-key-files`, outputs are signed as Nix signs its own
/// builds, and Nix's own verification accepts the signature.
fn outputs_are_signed_with_secret_key_files(s: &NixStore) {
    let cfg = s.hook_config("h", "");
    let (sk, pk) = (s.scratch().join("key.sec"), s.scratch().join("key.pub"));
    let g: e2e::Out = s
        .command("nix-store")
        .args(["--generate-binary-cache-key", "darling-nix-test-1"])
        .arg(s.inside(&sk))
        .arg(s.inside(&pk))
        .output()
        .unwrap()
        .into();
    assert_eq!(g.code, 0, "{}", g.stderr);
    let drv = s.instantiate(&expr(
        r#"let dep = mk "signed-dep" "echo dep > $out"; in mk "signed" "echo ${dep} > $out""#,
    ));
    let sk_inside = s.inside(&sk).display().to_string();
    let o = s.realise(&drv, &hook(), &cfg, &[("secret-key-files", &sk_inside)]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let out = o.stdout.trim().to_string();
    let public = fs::read_to_string(&pk).unwrap();
    let verify = |key: &str| -> e2e::Out {
        s.command("nix")
            .args([
                "--extra-experimental-features",
                "nix-command",
                "store",
                "verify",
            ])
            .arg("--store")
            .arg(s.store_arg())
            .args([
                "--sigs-needed",
                "1",
                "--no-contents",
                "--option",
                "trusted-public-keys",
                key,
            ])
            .arg(&out)
            .output()
            .unwrap()
            .into()
    };
    let ok = verify(public.trim());
    assert_eq!(ok.code, 0, "Nix rejects our signature: {}", ok.stderr);
    // And a key that did not sign it is refused: the check is real.
    let other_sk = s.scratch().join("other.sec");
    let other_pk = s.scratch().join("other.pub");
    s.command("nix-store")
        .args(["--generate-binary-cache-key", "someone-else-1"])
        .arg(s.inside(&other_sk))
        .arg(s.inside(&other_pk))
        .output()
        .unwrap();
    let refused = verify(fs::read_to_string(&other_pk).unwrap().trim());
    assert_ne!(refused.code, 0, "{}", refused.stderr);
    s.verify();
}

each_nix!(
    outputs_are_signed_with_secret_key_files,
    the_database_route_uses_nix_s_vfs_without_wal,
    a_fixed_output_gets_its_content_address,
    reference_checks_are_enforced_or_refused,
    auto_optimise_store_goes_through_nix_s_registration,
    a_repeated_line_is_collapsed_and_the_builder_decides,
    max_log_size_counts_what_the_builder_wrote,
    simple_build_streams_its_log_and_registers_the_output,
    references_to_inputs_and_self_are_registered,
    multi_output_derivation,
    failing_builder_registers_nothing_and_shows_the_log_tail,
    silent_builder_is_killed_by_max_silent_time,
    chatty_builder_is_killed_by_timeout,
    twenty_builds_never_exceed_two_slots,
    non_darwin_is_declined_and_built_locally_even_through_a_forwarded_hook,
    register_validity_route,
    import_route_and_the_version_cache,
    db_route_writes_what_nix_itself_verifies,
    forwarded_hook_that_accepts_gets_a_transparent_relay,
);

/// `nix-store --import` commits path by path. When it fails after the
/// first output, that output is valid: it stays on disk, and only the
/// outputs left invalid are removed. The failure is made exact by a
/// `nix-store` that passes the import only the stream's first path (its
/// length computed here as the hook writes it), then fails.
fn a_failed_import_keeps_the_outputs_it_made_valid(s: &NixStore) {
    if s.env().at_least(2, 29) {
        return; // `import` is refused at once there (see above).
    }
    let drv = s.instantiate(
        r#"derivation { name = "half-imported"; system = "x86_64-darwin"; builder = "/bin/sh"; PATH = "/bin";
             outputs = [ "out" "dev" ];
             args = [ "-c" "echo dev > $dev; echo $dev > $out" ]; }"#,
    );
    let outs = s.outputs(&drv[0]);
    let dev = outs.iter().find(|p| p.ends_with("-dev")).unwrap();
    let out = outs.iter().find(|p| !p.ends_with("-dev")).unwrap();
    // The stream: 1, dev's NAR, its metadata; then out's, which `head`
    // cuts off (dev comes first: out refers to it).
    let sample = s.scratch().join("dev-sample");
    fs::write(&sample, "dev\n").unwrap();
    let nar_size = build_hook::nar::path_info(&sample, std::iter::empty())
        .unwrap()
        .nar_size;
    let mut meta = build_hook::wire::WireWriter::new();
    meta.u64(0x4558_494e)
        .str(dev)
        .strings::<&str>(&[])
        .str(&drv[0])
        .u64(0);
    let first = 8 + nar_size as usize + meta.buf.len();
    let wrapper = s.scratch().join("nix-store-fails-midway");
    fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do\n  if [ \"$a\" = --import ]; then\n    /usr/bin/head -c {first} | /usr/bin/nix-store \"$@\"\n    exit 1\n  fi\ndone\nexec /usr/bin/nix-store \"$@\"\n"
        ),
    )
    .unwrap();
    fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).unwrap();
    let cfg = s.hook_config(
        "h",
        &format!(
            "register = \"import\"\nnix-store = \"{}\"",
            s.inside(&wrapper).display()
        ),
    );
    let o = s.realise(&drv, &hook(), &cfg, &[]);
    assert_ne!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("registering the outputs"), "{}", o.stderr);
    assert!(
        s.is_valid(dev),
        "the import did not fail midway: {}",
        o.stderr
    );
    assert_eq!(
        fs::read_to_string(s.real(dev)).ok().as_deref(),
        Some("dev\n"),
        "a valid output was removed: {}",
        o.stderr
    );
    assert!(
        o.stderr
            .contains(&format!("kept, registered before the failure: {dev}")),
        "{}",
        o.stderr
    );
    assert!(!s.is_valid(out) && !s.real(out).exists(), "{}", o.stderr);
    s.verify();
}

each_nix!(a_failed_import_keeps_the_outputs_it_made_valid);
