//! What a build leaves behind, end to end with real Nix and the chroot
//! runner (standing in for Darling, whose paths share the same code and are
//! unit-tested in darling-host): processes the builder left running die
//! before the outputs are hashed, and the build directory of a hook that
//! Nix SIGKILLed is removed by the next build.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use e2e::each_nix;
use e2e::nix::NixStore;

mod common;
use common::{expr, hook};

/// Pids of the processes chrooted into `root` (a build's, with the chroot
/// runner).
fn chrooted_into(root: &Path) -> Vec<i32> {
    let want = fs::metadata(root).unwrap();
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            fs::metadata(format!("/proc/{pid}/root"))
                .is_ok_and(|m| m.dev() == want.dev() && m.ino() == want.ino())
        })
        .collect()
}

fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let t = Instant::now();
    while !ok() {
        assert!(t.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The audit's reproduction: the builder exits at once, and a process it
/// left in the background rewrites the output two seconds later. Nix kills
/// everything of a local build when its builder ends; so does the hook,
/// before it hashes and registers the output.
fn a_background_writer_cannot_change_a_registered_output(s: &NixStore) {
    let cfg = s.hook_config("h", "");
    let drv = s.instantiate(&expr(
        r#"mk "stray" "mkdir $out; echo good > $out/f; (sleep 2; echo EVIL > $out/f) >/dev/null 2>&1 </dev/null & exit 0""#,
    ));
    let out = s.outputs(&drv[0]).remove(0);
    let o = s.realise(&drv, &hook(), &cfg, &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        chrooted_into(s.root()),
        Vec::<i32>::new(),
        "the build survived"
    );
    let verify = |when: &str| {
        let v = s.nix_store(&["--verify-path", &out]);
        assert_eq!(v.code, 0, "{when}: {}", v.stderr);
        assert!(!v.stderr.contains("modified"), "{when}: {}", v.stderr);
    };
    verify("at once");
    std::thread::sleep(Duration::from_secs(3));
    verify("after the writer's time");
    assert_eq!(
        fs::read_to_string(s.real(&out).join("f")).unwrap(),
        "good\n"
    );
}

/// Nix before 2.35 SIGKILLs the hook (on interrupt, here by hand): its
/// build directory and control directory stay; once the control directory
/// is over a minute old (made so here), the next build removes both.
fn a_killed_hook_s_build_directory_goes_with_the_next_build(s: &NixStore) {
    let cfg = s.hook_config("h", "");
    let tmp = s.root().join("tmp");
    let drv = s.instantiate(&expr(
        r#"mk "victim" "echo $PPID > hook.pid; exec sleep 1000""#,
    ));
    let mut c = s.command("nix-store");
    c.arg("--store").arg(s.store_arg()).arg("-r").args(&drv);
    c.args(["--option", "builders", "", "--option", "substituters", ""]);
    c.arg("--option").arg("build-hook").arg(s.install(&hook()));
    c.env("DARLING_NIX_HOOK_CONFIG", &cfg);
    c.stdout(Stdio::null()).stderr(Stdio::null());
    let mut nix = c.spawn().unwrap();
    let dirs = || -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = fs::read_dir(&tmp)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    };
    let mut hook_pid = None;
    wait_until("the builder", Duration::from_secs(60), || {
        hook_pid = dirs()
            .iter()
            .find_map(|d| fs::read_to_string(d.join("hook.pid")).ok())
            .and_then(|t| t.trim().parse::<i32>().ok());
        hook_pid.is_some()
    });
    let hook_pid = nix::unistd::Pid::from_raw(hook_pid.unwrap());
    nix::sys::signal::kill(hook_pid, nix::sys::signal::Signal::SIGKILL).unwrap();
    wait_until("nix-store", Duration::from_secs(60), || {
        nix.try_wait().unwrap().is_some()
    });
    // The builder dies with the hook (the chroot runner's parent-death
    // signal).
    wait_until("the builder's death", Duration::from_secs(10), || {
        chrooted_into(s.root()).is_empty()
    });
    let left = dirs();
    let names: Vec<String> = left
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names[0].starts_with("nix-build-victim"), "{names:?}");
    assert_eq!(names[1], format!("{}.darling-nix", names[0]));

    // Young: a build does not take it for a dead one.
    let next = s.instantiate(&expr(r#"mk "next" "echo next > $out""#));
    let o = s.realise(&next, &hook(), &cfg, &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(dirs(), left);

    let old = SystemTime::now() - Duration::from_secs(120);
    fs::File::open(&left[1]).unwrap().set_modified(old).unwrap();
    let after = s.instantiate(&expr(r#"mk "after" "echo after > $out""#));
    let o = s.realise(&after, &hook(), &cfg, &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(dirs(), Vec::<PathBuf>::new(), "not swept");
}

each_nix!(
    a_background_writer_cannot_change_a_registered_output,
    a_killed_hook_s_build_directory_goes_with_the_next_build,
);
