//! What differs between Nix versions, run against each real one (2.8 on
//! the host, 2.26 and 2.34 in mmdebstrap roots, see `e2e::roots`): the
//! argv shape of `build-hook` (extra arguments from 2.12), `--check`, a
//! real `nix-daemon` running the hook (as on NixOS), forwarding to the
//! version's own `build-remote`, and `external-builders` (2.32+) with the
//! build.json Nix writes itself.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use e2e::each_nix;
use e2e::nix::NixStore;
use e2e::Out;

mod common;
use common::hook;

fn darwin(s: &NixStore, name: &str, script: &str) -> String {
    s.instantiate(&format!(
        r#"derivation {{ name = "{name}"; system = "x86_64-darwin"; builder = "/bin/sh"; PATH = "/bin"; args = [ "-c" "{script}" ]; }}"#
    ))
    .remove(0)
}

fn argv_shape(s: &NixStore) {
    // 2.8 runs `build-hook` as one absolute path plus the verbosity; from
    // 2.12 the setting may carry arguments, which come before the
    // verbosity. Ours reads them as options (here: the label).
    let cfg = s.hook_config("h", "");
    let drv = darwin(s, "argv", "echo argv > $out");
    let hook_in = s.install(&hook());
    if s.env().at_least(2, 12) {
        let setting = format!("{} --set label=argv-shape", hook_in.display());
        let o = s.realise(
            std::slice::from_ref(&drv),
            &hook(),
            &cfg,
            &[("build-hook", &setting)],
        );
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert!(o.stderr.contains("on 'argv-shape'"), "{}", o.stderr);
    } else {
        let o = s.realise(std::slice::from_ref(&drv), &hook(), &cfg, &[]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert!(o.stderr.contains("on 'darling'"), "{}", o.stderr);
    }
}

fn check_against_this_nix(s: &NixStore) {
    let cfg = s.hook_config("h", "");
    let o: Out = s
        .command(s.install(&hook()).to_str().unwrap())
        .args(["--check", "--json", "--config"])
        .arg(&cfg)
        .output()
        .unwrap()
        .into();
    let j: serde_json::Value = serde_json::from_str(&o.stdout).expect(&o.stderr);
    let ns = j
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "nix-store")
        .unwrap();
    let (maj, min) = s.env().version;
    assert_eq!(ns["level"], "ok", "{}", o.stdout);
    let msg = ns["message"].as_str().unwrap();
    assert!(msg.contains(&format!("(Nix {maj}.{min})")), "{msg}");
    assert!(msg.contains("the store database"), "{msg}");
}

/// A `nix-daemon` of this Nix serving the test's store on its own socket;
/// killed (and reaped) on drop.
struct Daemon {
    child: Child,
    socket: PathBuf,
}

impl Daemon {
    fn start(s: &NixStore, config: &Path, register: &str) -> Daemon {
        let socket_host = s.scratch().join("daemon.sock");
        let socket = s.inside(&socket_host);
        let _ = fs::remove_file(&socket_host);
        let sandbox = format!(
            "/bin/sh={}",
            s.inside(&s.root().join("bin/busybox")).display()
        );
        let child = s
            .command("nix-daemon")
            .arg("--store")
            .arg(s.store_arg())
            .args(["--option", "builders", "", "--option", "substituters", ""])
            .args(["--option", "sandbox-paths", &sandbox])
            .arg("--option")
            .arg("build-hook")
            .arg(s.install(&hook()))
            .env("NIX_DAEMON_SOCKET_PATH", &socket)
            .env("DARLING_NIX_HOOK_CONFIG", config)
            .env("DARLING_NIX_HOOK_REGISTER", register)
            .stdout(Stdio::null())
            .stderr(fs::File::create(s.scratch().join("daemon.log")).unwrap())
            .spawn()
            .expect("nix-daemon");
        let t = Instant::now();
        while !socket_host.exists() {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "nix-daemon did not listen: {}",
                fs::read_to_string(s.scratch().join("daemon.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Daemon { child, socket }
    }

    fn store(&self) -> String {
        format!("unix://{}", self.socket.display())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::SIGTERM);
        let _ = self.child.wait();
    }
}

fn through_a_real_daemon(s: &NixStore) {
    // As on NixOS: a client talks to nix-daemon, whose worker runs the
    // hook with the daemon's own `store` (2.34 spells a chroot store
    // `local:///…`). Every registration route this Nix can use must
    // finish without deadlocking against the output locks the worker
    // holds.
    let mut routes = vec!["auto", "db"];
    if s.env().at_least(2, 29) {
        routes.push("register-validity");
    } else {
        routes.push("import");
    }
    let cfg = s.hook_config("h", "");
    for route in routes {
        let d = Daemon::start(s, &cfg, route);
        let drv = s.instantiate(&format!(
            r#"let dep = derivation {{ name = "dd-{route}"; system = "x86_64-darwin"; builder = "/bin/sh"; PATH = "/bin"; args = [ "-c" "echo dep > $out" ]; }};
               in derivation {{ name = "daemon-{route}"; system = "x86_64-darwin"; builder = "/bin/sh"; PATH = "/bin"; args = [ "-c" "echo building via daemon; echo ${{dep}} > $out" ]; }}"#
        ));
        let t = Instant::now();
        let o: Out = s
            .client("nix-store")
            .args(["--store", &d.store(), "-r"])
            .args(&drv)
            .output()
            .unwrap()
            .into();
        assert!(t.elapsed() < Duration::from_secs(60), "{route}: too slow");
        assert_eq!(o.code, 0, "{route}: {}", o.stderr);
        let out = o.stdout.trim().to_string();
        assert!(s.is_valid(&out), "{route}");
        let dep = fs::read_to_string(s.real(&out)).unwrap().trim().to_string();
        assert_eq!(s.references(&out), vec![dep], "{route}");
        // The daemon's worker wrote the hook's fd-4 log into its store.
        let log = s.nix_store(&["-l", &drv[0]]);
        assert!(
            log.stdout.contains("building via daemon"),
            "{route}: {}",
            log.stdout
        );
        drop(d);
    }
    s.verify();
}

fn forwards_to_this_nix_s_own_build_remote(s: &NixStore) {
    // A Linux derivation with max-jobs 0: we forward the `try` to this
    // Nix's build-remote, which builds it on a "remote" nix-daemon --stdio
    // (host `localhost` runs the remote program directly, no SSH) with its
    // own store, and copies the output back. We only relay.
    let remote_store = s.scratch().join("remote");
    fs::create_dir_all(&remote_store).unwrap();
    let busybox = s.inside(&s.root().join("bin/busybox"));
    let wrapper = s.scratch().join("remote.sh");
    fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec nix-daemon \"$@\" --store {} --option substituters '' --option sandbox-paths /bin/sh={}\n",
            s.inside(&remote_store).display(),
            busybox.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).unwrap();
    let builders = format!(
        "ssh-ng://localhost?remote-program={} x86_64-linux - 1 1",
        s.inside(&wrapper).display()
    );
    let cfg = s.hook_config("h", "forward = [\"/usr/libexec/nix/build-remote\"]");
    let drv = s.instantiate(
        r#"derivation { name = "remote-linux"; system = "x86_64-linux"; builder = "/bin/sh";
             args = [ "-c" "echo remote-log; echo remote > $out" ]; }"#,
    );
    let mut c = s.command("nix-store");
    c.arg("--store").arg(s.store_arg()).arg("-r").args(&drv);
    c.args(["--max-jobs", "0", "--option", "substituters", ""]);
    c.args(["--option", "builders", &builders]);
    c.arg("--option").arg("build-hook").arg(s.install(&hook()));
    c.env("DARLING_NIX_HOOK_CONFIG", &cfg);
    let o: Out = c.output().unwrap().into();
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains("on 'ssh-ng://localhost"),
        "not built by build-remote: {}",
        o.stderr
    );
    let out = o.stdout.trim();
    assert_eq!(fs::read_to_string(s.real(out)).unwrap(), "remote\n");
    assert!(remote_store.join(out.trim_start_matches('/')).exists());
    s.verify();
}

fn external_builders(s: &NixStore) {
    let cfg = s.hook_config("ext", "");
    let hook_in = s.install(&hook());
    let builders = serde_json::json!([{
        "systems": ["x86_64-darwin"],
        "program": hook_in,
        "args": ["--config", cfg, "--external-builder"],
    }])
    .to_string();
    let drv = darwin(
        s,
        "external",
        "echo external-log; echo $NIX_BUILD_TOP > $out",
    );
    let out = s.outputs(&drv).remove(0);
    let build_dir = s.inside(&s.root().join("tmp"));
    let mut c = s.command("nix-store");
    c.arg("--store").arg(s.store_arg()).arg("-r").arg(&drv);
    c.args(["--option", "builders", "", "--option", "substituters", ""]);
    c.args(["--option", "build-hook", ""]);
    c.args([
        "--option",
        "extra-experimental-features",
        "external-builders",
    ]);
    c.args(["--option", "external-builders", &builders]);
    c.arg("--option").arg("build-dir").arg(&build_dir);
    let o: Out = c.output().unwrap().into();
    if !s.env().at_least(2, 32) {
        // Older Nix has no such setting and cannot build darwin at all.
        assert_ne!(o.code, 0, "{}", o.stderr);
        assert!(
            o.stderr.contains("external-builders"),
            "no word about the unknown setting: {}",
            o.stderr
        );
        return;
    }
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout.trim(), out);
    // Nix registered it (from our files), and its log is our stdout.
    assert!(s.is_valid(&out));
    let text = fs::read_to_string(s.real(&out)).unwrap();
    assert!(
        text.starts_with("/tmp/") && text.trim_end().ends_with("/build"),
        "{text}"
    );
    let log = s.nix_store(&["-l", &drv]);
    assert!(log.stdout.contains("external-log"), "{}", log.stdout);
    s.verify();
}

fn store_setting_as_this_nix_sends_it(s: &NixStore) {
    // A probe hook keeps what Nix writes to it (the settings block), then
    // goes away. The `store` setting it carries must be one the hook maps
    // to this very chroot store (2.34 writes `local:///DIR`).
    let capture = s.scratch().join("settings.bin");
    let probe = s.scratch().join("probe.sh");
    fs::write(
        &probe,
        format!(
            "#!/bin/sh\nexec 3<&0\ncat <&3 > {} &\nsleep 1\nkill $!\n",
            s.inside(&capture).display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&probe, fs::Permissions::from_mode(0o755)).unwrap();
    let drv = darwin(s, "probe", "echo > $out");
    let mut c = s.command("nix-store");
    c.arg("--store").arg(s.store_arg()).arg("-r").arg(&drv);
    c.args(["--option", "builders", "", "--option", "substituters", ""]);
    c.arg("--option").arg("build-hook").arg(s.inside(&probe));
    let o: Out = c.output().unwrap().into();
    assert_ne!(o.code, 0, "the probe cannot build: {}", o.stderr);
    let bytes = fs::read(&capture).unwrap();
    let mut r = build_hook::wire::WireReader::new(&bytes[..]);
    let settings = build_hook::protocol::read_settings(&mut r).unwrap();
    let store = settings.get("store").unwrap_or_else(|| {
        panic!(
            "no `store` among {} settings ({} bytes)",
            settings.len(),
            bytes.len()
        )
    });
    if s.env().at_least(2, 34) {
        assert!(store.starts_with("local://"), "{store}");
    }
    let loc = build_hook::store::StoreLoc::from_setting(Some(&store)).unwrap();
    assert_eq!(loc.root, s.store_arg(), "{store}");
    assert_eq!(loc.state_dir, s.store_arg().join("nix/var/nix"), "{store}");
}

each_nix!(
    store_setting_as_this_nix_sends_it,
    argv_shape,
    check_against_this_nix,
    through_a_real_daemon,
    forwards_to_this_nix_s_own_build_remote,
    external_builders,
);
