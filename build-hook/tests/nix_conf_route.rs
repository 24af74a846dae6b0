//! Nix configured the way users configure it: the lines `build-hook
//! --nix-conf` prints, in nix.conf and nowhere else, for each real Nix
//! (2.8 on the host, 2.26 and 2.34 in mmdebstrap roots). Nix's own build
//! hook then runs `build-hook --serve` for `ssh://localhost`, in
//! single-user mode and under a plainly started `nix-daemon`. And the trap
//! this route exists for: Nix 2.25 to 2.33 drop a `build-hook` line from
//! nix.conf, which `--check` says plainly.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use e2e::each_nix;
use e2e::nix::NixStore;
use e2e::Out;

mod common;
use common::hook;

/// What the test machine itself needs in every nix.conf, not ours: no
/// network, root without build users, and the chroot store the test uses
/// as "the" store.
fn machine_lines(s: &NixStore) -> String {
    format!(
        "substituters =\nbuild-users-group =\nstore = {}\n",
        s.store_arg().display()
    )
}

/// A nix.conf directory holding `text` (host path, path Nix sees).
fn conf_dir(s: &NixStore, name: &str, text: &str) -> (PathBuf, PathBuf) {
    let dir = s.scratch().join(name);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("nix.conf"), text).unwrap();
    let inside = s.inside(&dir);
    (dir, inside)
}

/// `build-hook --nix-conf --route ROUTE` as run where this Nix lives.
fn nix_conf_route(s: &NixStore, cfg: &Path, route: &str) -> String {
    let o: Out = s
        .command(&s.install(&hook()).display().to_string())
        .args(["--nix-conf", "--route", route])
        .arg("--config")
        .arg(cfg)
        .arg("--store")
        .arg(s.store_arg())
        .output()
        .unwrap()
        .into();
    assert_eq!(o.code, 0, "--nix-conf: {}", o.stderr);
    let (major, minor) = s.env().version;
    assert!(
        o.stdout.contains(&format!("# for Nix {major}.{minor} ")),
        "{}",
        o.stdout
    );
    o.stdout
}

/// The `builders` lines (`--route serve`).
fn nix_conf_lines(s: &NixStore, cfg: &Path) -> String {
    let text = nix_conf_route(s, cfg, "serve");
    assert!(
        text.lines()
            .any(|l| l.starts_with("builders = ssh://localhost?remote-program=")),
        "{text}"
    );
    text
}

/// `nix-store -r DRVS` reading only the nix.conf in `conf` (the path Nix
/// sees).
fn realise_with_conf(s: &NixStore, conf: &Path, drvs: &[String]) -> Out {
    s.command("nix-store")
        .env("NIX_CONF_DIR", conf)
        .arg("-r")
        .args(drvs)
        .output()
        .unwrap()
        .into()
}

fn drv(s: &NixStore, name: &str) -> Vec<String> {
    s.instantiate(&format!(
        r#"let dep = derivation {{ name = "{name}-dep"; system = "x86_64-darwin"; builder = "/bin/sh"; PATH = "/bin"; args = [ "-c" "echo dep > $out" ]; }};
           in derivation {{ name = "{name}"; system = "x86_64-darwin"; builder = "/bin/sh"; PATH = "/bin"; args = [ "-c" "echo building {name}; echo ${{dep}} > $out; echo $out >> $out" ]; }}"#
    ))
}

/// The output is valid, refers to its input and itself, has its log, and
/// Nix's own check of the store's contents passes.
fn assert_built(s: &NixStore, drv: &str, o: &Out, name: &str) {
    assert_eq!(o.code, 0, "{}", o.stderr);
    let out = o.stdout.trim().to_string();
    assert!(s.is_valid(&out), "{out}");
    let text = fs::read_to_string(s.real(&out)).unwrap();
    let dep = text.lines().next().unwrap().to_string();
    let mut want = vec![dep, out.clone()];
    want.sort();
    assert_eq!(s.references(&out), want);
    let deriver = s.nix_store(&["-q", "--deriver", &out]);
    assert_eq!(deriver.stdout.trim(), drv);
    let log = s.nix_store(&["-l", drv]);
    assert!(
        log.stdout.contains(&format!("building {name}")),
        "{}",
        log.stdout
    );
    s.verify();
}

fn builders_line_in_nix_conf_single_user(s: &NixStore) {
    let cfg = s.hook_config("h", "");
    let lines = nix_conf_lines(s, &cfg);
    let (_, conf) = conf_dir(s, "conf", &format!("{lines}{}", machine_lines(s)));
    let drvs = drv(s, "single");
    let o = realise_with_conf(s, &conf, &drvs);
    assert!(
        o.stderr.contains("on 'ssh://localhost"),
        "not built through builders: {}",
        o.stderr
    );
    assert_built(s, &drvs[0], &o, "single");
    // Nothing staged is left behind.
    let staging = s.root().join("nix/var/nix/darling-nix/staging");
    let left: Vec<_> = fs::read_dir(&staging)
        .map(|rd| {
            rd.flatten()
                .flat_map(|e| fs::read_dir(e.path()).into_iter().flatten())
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "staged outputs left: {left:?}");

    // `--check` asks this Nix: the builders route is seen.
    let check = check_with(s, &conf, &cfg);
    assert!(
        check
            .stdout
            .lines()
            .any(|l| l.starts_with("ok    nix.conf") && l.contains("builders")),
        "{}",
        check.stdout
    );
}

fn check_with(s: &NixStore, conf: &Path, cfg: &Path) -> Out {
    s.command(&s.install(&hook()).display().to_string())
        .env("NIX_CONF_DIR", conf)
        .arg("--check")
        .arg("--config")
        .arg(cfg)
        .output()
        .unwrap()
        .into()
}

fn a_build_hook_line_is_dropped_by_2_25_to_2_33_and_check_says_so(s: &NixStore) {
    let cfg = s.hook_config("h", "");
    let (_, conf) = conf_dir(
        s,
        "conf-hook",
        &format!(
            "build-hook = {}\n{}",
            s.install(&hook()).display(),
            machine_lines(s)
        ),
    );
    let check = check_with(s, &conf, &cfg);
    let (major, minor) = s.env().version;
    let ignored = (2, 25) <= (major, minor) && (major, minor) < (2, 34);
    let line = check
        .stdout
        .lines()
        .find(|l| l.contains("nix.conf"))
        .unwrap_or_default()
        .to_string();
    if ignored {
        assert!(
            line.starts_with("error") && line.contains("build-hook --nix-conf"),
            "{}",
            check.stdout
        );
        assert_eq!(check.code, 1);
    } else {
        assert!(line.starts_with("ok"), "{}", check.stdout);
    }
    // What Nix does with it: builds through the hook, or finds no builder.
    let drvs = drv(s, "hookline");
    let o: Out = s
        .command("nix-store")
        .env("NIX_CONF_DIR", &conf)
        .env("DARLING_NIX_HOOK_CONFIG", &cfg)
        .arg("-r")
        .args(&drvs)
        .output()
        .unwrap()
        .into();
    if ignored {
        assert_ne!(o.code, 0, "{}", o.stdout);
        assert!(o.stderr.contains("x86_64-darwin"), "{}", o.stderr);
    } else {
        assert_built(s, &drvs[0], &o, "hookline");
    }
}

/// `nix-daemon` started with no arguments; everything from nix.conf.
struct Daemon {
    child: Child,
    socket: PathBuf,
}

impl Daemon {
    fn start(s: &NixStore, conf: &Path) -> Daemon {
        let socket_host = s.scratch().join("daemon.sock");
        let socket = s.inside(&socket_host);
        let _ = fs::remove_file(&socket_host);
        let log = s.scratch().join("daemon.log");
        let child = s
            .command("nix-daemon")
            .env("NIX_CONF_DIR", conf)
            .env("NIX_DAEMON_SOCKET_PATH", &socket)
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).unwrap())
            .spawn()
            .expect("nix-daemon");
        let mut d = Daemon { child, socket };
        let t = Instant::now();
        while !socket_host.exists() {
            if t.elapsed() > Duration::from_secs(20) {
                let _ = d.child.kill();
                panic!(
                    "nix-daemon did not listen: {}",
                    fs::read_to_string(&log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        d
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::SIGTERM);
        let _ = self.child.wait();
    }
}

fn builders_line_in_nix_conf_under_a_plain_daemon(s: &NixStore) {
    let cfg = s.hook_config("h", "");
    let lines = nix_conf_lines(s, &cfg);
    let (_, conf) = conf_dir(s, "conf-daemon", &format!("{lines}{}", machine_lines(s)));
    let d = Daemon::start(s, &conf);
    let drvs = drv(s, "daemon");
    let o: Out = s
        .client("nix-store")
        .args(["--store", &format!("unix://{}", d.socket.display()), "-r"])
        .args(&drvs)
        .output()
        .unwrap()
        .into();
    drop(d);
    assert_built(s, &drvs[0], &o, "daemon");
}

/// `nix-store -r` with only the `--nix-conf` lines (and the machine's own)
/// in nix.conf, plus `extra` lines.
fn realise_via_conf(s: &NixStore, name: &str, extra: &str, drvs: &[String]) -> Out {
    let cfg = s.hook_config(name, "");
    let lines = nix_conf_lines(s, &cfg);
    let (_, conf) = conf_dir(
        s,
        &format!("conf-{name}"),
        &format!("{lines}{}{extra}", machine_lines(s)),
    );
    realise_with_conf(s, &conf, drvs)
}

fn darwin(s: &NixStore, expr: &str) -> Vec<String> {
    s.instantiate(&format!(
        r#"let mk = name: script: derivation {{ inherit name; system = "x86_64-darwin"; builder = "/bin/sh"; PATH = "/bin"; args = [ "-c" script ]; }}; in {expr}"#
    ))
}

fn a_failing_builder_fails_the_build_and_leaves_nothing(s: &NixStore) {
    let drvs = darwin(
        s,
        r#"mk "serve-fails" "echo step one; echo about to fail >&2; mkdir $out; exit 3""#,
    );
    let out = s.outputs(&drvs[0]).remove(0);
    let o = realise_via_conf(s, "fails", "", &drvs);
    assert_ne!(o.code, 0, "{}", o.stdout);
    assert!(o.stderr.contains("about to fail"), "{}", o.stderr);
    assert!(o.stderr.contains("failed with exit code 3"), "{}", o.stderr);
    assert!(!s.is_valid(&out));
    assert!(!s.real(&out).exists(), "partial output left behind");
    s.verify();
}

fn multiple_outputs_come_back_with_their_references(s: &NixStore) {
    let drvs = s.instantiate(
        r#"derivation { name = "serve-multi"; system = "x86_64-darwin"; builder = "/bin/sh"; PATH = "/bin";
             outputs = [ "out" "dev" ];
             args = [ "-c" "mkdir -p $out/bin $dev; echo '#!/bin/sh' > $out/bin/x; chmod +x $out/bin/x; echo $out > $dev/ref" ]; }"#,
    );
    let outs = s.outputs(&drvs[0]);
    let o = realise_via_conf(s, "multi", "", &drvs);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let dev = outs.iter().find(|p| p.ends_with("-dev")).unwrap();
    let out = outs.iter().find(|p| !p.ends_with("-dev")).unwrap();
    assert!(s.is_valid(out) && s.is_valid(dev));
    assert_eq!(s.references(dev), vec![out.clone()]);
    assert!(s.references(out).is_empty());
    s.verify();
}

fn max_silent_time_from_nix_conf_stops_a_silent_builder(s: &NixStore) {
    let secs = 200 + s.env().version.1;
    let drvs = darwin(
        s,
        &format!(r#"mk "serve-silent" "echo started; sleep {secs} & wait; touch $out""#),
    );
    let t = Instant::now();
    let o = realise_via_conf(s, "silent", "max-silent-time = 1\n", &drvs);
    assert!(t.elapsed() < Duration::from_secs(30), "not stopped in time");
    assert_ne!(o.code, 0, "{}", o.stdout);
    assert!(
        o.stderr.contains("timed out after 1 seconds of silence"),
        "{}",
        o.stderr
    );
}

/// What `--nix-conf` picks by itself is what this Nix honours: the hook
/// line on 2.34 (it carries `--config`, so not on 2.8), `builders` on 2.8
/// and 2.26; either way the build goes through us from nix.conf alone.
fn the_automatic_route_is_one_this_nix_honours(s: &NixStore) {
    let cfg = s.hook_config("auto", "");
    let lines = nix_conf_route(s, &cfg, "auto");
    let hook_line = s.env().at_least(2, 34);
    let first = if hook_line {
        "build-hook = "
    } else {
        "builders = "
    };
    assert!(lines.lines().any(|l| l.starts_with(first)), "{lines}");
    let (_, conf) = conf_dir(s, "conf-auto", &format!("{lines}{}", machine_lines(s)));
    let drvs = drv(s, "auto");
    let o = realise_with_conf(s, &conf, &drvs);
    let on = if hook_line {
        "on 'darling'"
    } else {
        "on 'ssh://localhost"
    };
    assert!(o.stderr.contains(on), "{}", o.stderr);
    assert_built(s, &drvs[0], &o, "auto");
}

each_nix!(
    the_automatic_route_is_one_this_nix_honours,
    a_failing_builder_fails_the_build_and_leaves_nothing,
    multiple_outputs_come_back_with_their_references,
    max_silent_time_from_nix_conf_stops_a_silent_builder,
    builders_line_in_nix_conf_single_user,
    a_build_hook_line_is_dropped_by_2_25_to_2_33_and_check_says_so,
    builders_line_in_nix_conf_under_a_plain_daemon,
);

/// Rebuilding a derivation one of whose outputs is still valid would
/// remove that output: Nix copies back only the missing ones, so the valid
/// path would stay registered with nothing on disk. `--serve` refuses, as
/// the hook route does.
fn a_valid_output_is_never_removed_to_rebuild_the_others(s: &NixStore) {
    let drvs = s.instantiate(
        r#"derivation { name = "serve-partial"; system = "x86_64-darwin"; builder = "/bin/sh"; PATH = "/bin";
             outputs = [ "out" "dev" ];
             args = [ "-c" "mkdir -p $out $dev; echo out > $out/f; echo $out > $dev/ref" ]; }"#,
    );
    let outs = s.outputs(&drvs[0]);
    let dev = outs.iter().find(|p| p.ends_with("-dev")).unwrap();
    let out = outs.iter().find(|p| !p.ends_with("-dev")).unwrap();
    let o = realise_via_conf(s, "partial", "", &drvs);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let del = s.nix_store(&["--delete", dev]);
    assert_eq!(del.code, 0, "{}", del.stderr);
    assert!(s.is_valid(out) && !s.is_valid(dev));

    let again = realise_via_conf(s, "partial", "", &drvs);
    assert_ne!(again.code, 0, "{}", again.stdout);
    assert!(
        again.stderr.contains("only some outputs of")
            && again.stderr.contains("nix-store --delete"),
        "{}",
        again.stderr
    );
    assert!(s.is_valid(out), "{}", again.stderr);
    assert_eq!(
        fs::read_to_string(s.real(out).join("f")).unwrap(),
        "out\n",
        "the valid output was removed"
    );
    assert!(!s.is_valid(dev));
    s.verify();
}

/// Nix hands the remote program its own fds (its log pipe, mount
/// namespace handles, from fd 3 up); none of them reaches the builder.
fn the_builder_inherits_none_of_nix_s_fds(s: &NixStore) {
    let drvs = darwin(
        s,
        r#"mk "serve-fds" "for fd in 3 4 5 6 7 8 9; do if ( : >&$fd ) 2>/dev/null; then echo fd $fd is open; exit 1; fi; done; echo none > $out""#,
    );
    let out = s.outputs(&drvs[0]).remove(0);
    let o = realise_via_conf(s, "fds", "", &drvs);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("on 'ssh://localhost"), "{}", o.stderr);
    assert_eq!(fs::read_to_string(s.real(&out)).unwrap(), "none\n");
}

each_nix!(
    a_valid_output_is_never_removed_to_rebuild_the_others,
    the_builder_inherits_none_of_nix_s_fds,
);
