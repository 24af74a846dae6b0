//! End to end with the real Nix (Debian's nix-bin 2.8) and a chroot store:
//! `nix-store -r` runs our hook, which runs each darwin builder through the
//! chroot runner (standing in for Darling) and registers the outputs.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use e2e::nix::NixStore;

fn hook() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_build-hook"))
}

/// `mk NAME SCRIPT`: a darwin derivation whose builder is busybox sh.
const PRELUDE: &str = r#"
let mk = name: script: derivation {
  inherit name; system = "x86_64-darwin"; builder = "/bin/sh";
  args = [ "-c" script ]; PATH = "/bin";
};
in "#;

fn expr(body: &str) -> String {
    format!("{PRELUDE}{body}")
}

#[test]
fn simple_build_streams_its_log_and_registers_the_output() {
    let s = NixStore::new();
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
    // Built already: a second realise does not ask the hook at all.
    let again = s.realise(&drv, &hook(), &cfg, &[]);
    assert_eq!(again.code, 0);
    assert!(!again.stderr.contains("on 'darling'"), "{}", again.stderr);
}

#[test]
fn references_to_inputs_and_self_are_registered() {
    let s = NixStore::new();
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

#[test]
fn multi_output_derivation() {
    let s = NixStore::new();
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

#[test]
fn failing_builder_registers_nothing_and_shows_the_log_tail() {
    let s = NixStore::new();
    let cfg = s.hook_config("h", "");
    let drv = s.instantiate(&expr(
        r#"mk "fails" "echo step one; echo about to fail >&2; mkdir $out; echo partial > $out/f; exit 3""#,
    ));
    let out = s.outputs(&drv[0]).remove(0);
    let o = s.realise(&drv, &hook(), &cfg, &[]);
    // Nix 2.8 maps hook status 100 to a permanent build failure.
    assert_eq!(o.code, 100, "{}", o.stderr);
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

#[test]
fn silent_builder_is_killed_by_max_silent_time() {
    let s = NixStore::new();
    let cfg = s.hook_config("h", "");
    let marker = format!("silent-{}", std::process::id());
    let drv = s.instantiate(&expr(&format!(
        r#"mk "{marker}" "echo started; sleep 61 & wait; touch $out""#
    )));
    let out = s.outputs(&drv[0]).remove(0);
    let t = Instant::now();
    let o = s.realise(&drv, &hook(), &cfg, &[("max-silent-time", "1")]);
    assert!(t.elapsed() < Duration::from_secs(30), "not killed in time");
    assert_eq!(o.code, 101, "{}", o.stderr);
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
        .filter(|c| c == b"sleep\x0061\x00")
        .count();
    assert_eq!(survivors, 0, "builder processes survived the timeout");
}

#[test]
fn chatty_builder_is_killed_by_timeout() {
    let s = NixStore::new();
    let cfg = s.hook_config("h", "");
    let drv = s.instantiate(&expr(
        r#"mk "chatty" "while true; do echo tick; sleep 0.2; done""#,
    ));
    let o = s.realise(&drv, &hook(), &cfg, &[("timeout", "1")]);
    assert_eq!(o.code, 101, "{}", o.stderr);
    assert!(
        o.stderr.contains("timed out after 1 seconds"),
        "{}",
        o.stderr
    );
    assert!(!o.stderr.contains("of silence"), "{}", o.stderr);
}

#[test]
fn twenty_builds_never_exceed_two_slots() {
    let s = NixStore::new();
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
    let counts: Vec<u32> = fs::read_dir(s.root().join("tmp/counts"))
        .unwrap()
        .map(|e| {
            fs::read_to_string(e.unwrap().path())
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(counts.len(), 20);
    let max = *counts.iter().max().unwrap();
    assert!(
        max <= 2,
        "{max} builds ran at once with 2 slots: {counts:?}"
    );
    assert_eq!(max, 2, "the two slots were never used together: {counts:?}");
}

#[test]
fn non_darwin_is_declined_and_built_locally_even_through_a_forwarded_hook() {
    let s = NixStore::new();
    // Nix's own build-remote, which declines permanently with no builders:
    // we must not pass that on, or Nix would stop asking us about darwin.
    let cfg = s.hook_config("h", "forward = [\"/usr/libexec/nix/build-remote\"]");
    let busybox = s.root().join("bin/busybox");
    let drv = s.instantiate(&expr(
        r#"let lin = derivation { name = "linux-local"; system = builtins.currentSystem;
                                  builder = "/bin/sh"; args = [ "-c" "echo local > $out" ]; };
           in mk "after-linux" "cat ${lin} > $out""#,
    ));
    let sandbox = format!("/bin/sh={}", busybox.display());
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

#[test]
fn register_validity_on_a_chroot_store_fails_cleanly() {
    // Nix 2.8's --register-validity hashes the logical path, so on a chroot
    // store it must fail cleanly (not hang, nothing registered); this pins
    // down why `auto` picks --import before 2.29.
    let s = NixStore::new();
    let cfg = s.hook_config("h", "register = \"register-validity\"");
    let drv = s.instantiate(&expr(r#"mk "regval" "echo x > $out""#));
    let out = s.outputs(&drv[0]).remove(0);
    let o = s.realise(&drv, &hook(), &cfg, &[]);
    assert_ne!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("registering the outputs"), "{}", o.stderr);
    assert!(!s.is_valid(&out));
    assert!(!s.real(&out).exists());
}

#[test]
fn forwarded_hook_that_accepts_gets_a_transparent_relay() {
    // The forwarded hook here is a second instance of ours configured for
    // x86_64-linux, so the relay path (settings replay, accept, inputs,
    // log on fd 4, exit status) runs against real Nix without a network.
    let s = NixStore::new();
    let inner = s.hook_config("inner", "systems = [\"x86_64-linux\"]\nlabel = \"inner\"");
    let outer = s.hook_config(
        "outer",
        &format!(
            "forward = [\"{}\", \"--config\", \"{}\"]",
            hook().display(),
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
