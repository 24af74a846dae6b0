//! The fleet path of the NixOS module (`sshServe`): another machine's Nix
//! uses this one as an `ssh-ng://` builder for x86_64-darwin. A real Debian
//! `sshd` (started and stopped here, 127.0.0.1 only, key authentication)
//! runs the builder's `nix-daemon --stdio --force-untrusted` (the
//! module's forced command runs it as an untrusted user, proxied to the
//! system daemon); its worker hands the darwin build to our hook. The client is a second Nix in another root with its own store and
//! its own stock `build-remote`. Untrusted clients copy the derivation and
//! build it by path (Nix 2.16+), which is what lets the builder's hook see
//! it at all: a `BasicDerivation` build never consults a hook.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use e2e::nix::NixStore;
use e2e::roots::NixEnv;
use e2e::Out;

mod common;
use common::hook;

const SSHD: &str = "/usr/sbin/sshd";

/// A private sshd on 127.0.0.1; stopped (and reaped) on drop.
struct Sshd {
    child: Child,
    port: u16,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::SIGTERM);
        let _ = self.child.wait();
    }
}

fn keygen(path: &Path) {
    let o = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "darling-nix-test",
            "-f",
        ])
        .arg(path)
        .output()
        .unwrap();
    assert!(o.status.success(), "ssh-keygen: {o:?}");
}

impl Sshd {
    /// Listens on a free port; `command` is forced for every session.
    fn start(dir: &Path, client_pub: &Path, command: &Path) -> Sshd {
        let host_key = dir.join("host_key");
        if !host_key.exists() {
            keygen(&host_key);
        }
        fs::copy(client_pub, dir.join("authorized_keys")).unwrap();
        // sshd's privilege separation directory (the service makes it).
        fs::create_dir_all("/run/sshd").unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let conf = dir.join("sshd_config");
        fs::write(
            &conf,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {hk}\nPidFile {d}/sshd.pid\n\
                 AuthorizedKeysFile {d}/authorized_keys\nAuthenticationMethods publickey\n\
                 PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 PermitRootLogin prohibit-password\nAllowUsers root\nStrictModes no\nUsePAM no\n\
                 PermitTTY no\nX11Forwarding no\nAllowTcpForwarding no\nForceCommand {cmd}\n",
                hk = host_key.display(),
                d = dir.display(),
                cmd = command.display()
            ),
        )
        .unwrap();
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(dir.join("sshd.log")).unwrap())
            .spawn()
            .expect("sshd");
        let mut d = Sshd { child, port };
        let t = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(st)) = d.child.try_wait() {
                panic!(
                    "sshd exited ({st}): {}",
                    fs::read_to_string(dir.join("sshd.log")).unwrap_or_default()
                );
            }
            assert!(t.elapsed() < Duration::from_secs(10), "sshd did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        d.port = port;
        d
    }
}

/// A shell script (a host path) that runs `inner` (a path inside the
/// builder's root) there: own mount namespace, root pivoted to /, /proc.
fn serve_script(builder: &NixStore, dir: &Path, inner_body: &str) -> PathBuf {
    let inner_host = builder.scratch().join("serve-inner.sh");
    // In a root: drop the host's tree (pivoted to /mnt) and mount /proc.
    let enter = if builder.env().root.is_some() {
        "/bin/busybox umount -l /mnt\n/bin/busybox mount -t proc proc /proc\n"
    } else {
        ""
    };
    fs::write(&inner_host, format!("{enter}{inner_body}")).unwrap();
    let inner = builder.inside(&inner_host);
    let outer = dir.join("serve.sh");
    let text = match &builder.env().root {
        None => format!("#!/bin/sh\nexec /bin/sh {}\n", inner.display()),
        Some(root) => format!(
            "#!/bin/sh\nexec unshare -m --propagation private -- /bin/sh -c '\
             mount --rbind \"$1\" \"$1\" && cd \"$1\" && pivot_root . mnt && \
             exec /bin/busybox chroot . /bin/sh \"$2\"' sh {} {}\n",
            root.display(),
            inner.display()
        ),
    };
    fs::write(&outer, text).unwrap();
    fs::set_permissions(&outer, fs::Permissions::from_mode(0o755)).unwrap();
    outer
}

fn fleet(client_version: &str, builder_version: &str, name: &str) {
    let Some(builder_env) = NixEnv::get(builder_version, name) else {
        return;
    };
    let Some(client_env) = NixEnv::get(client_version, name) else {
        return;
    };
    if !Path::new(SSHD).exists() {
        assert!(
            !e2e::roots::required(),
            "{SSHD} missing (DARLING_NIX_ROOTS=require): install openssh-server"
        );
        e2e::skip_line(&format!(
            "skipped {name}: {SSHD} missing (install openssh-server; `.ci/run` does)"
        ));
        return;
    }
    let builder = NixStore::with(&builder_env);
    let client = NixStore::with(&client_env);
    let ssh_dir = tempfile::tempdir().unwrap();

    // The builder: what `nix.sshServe` forces for its user.
    let cfg = builder.hook_config("fleet", "label = \"darling-fleet\"");
    let hook_in = builder.install(&hook());
    let serve = serve_script(
        &builder,
        ssh_dir.path(),
        &format!(
            "export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root NIX_CONF_DIR=/etc/darling-nix-tests\n\
             export DARLING_NIX_HOOK_CONFIG={cfg}\n\
             export NIX_CONFIG='extra-experimental-features = daemon-trust-override'\n\
             exec nix-daemon --stdio --force-untrusted --store {store} \
             --option build-hook {hook} --option builders '' --option substituters '' \
             --option require-sigs false\n",
            cfg = cfg.display(),
            store = builder.store_arg().display(),
            hook = hook_in.display()
        ),
    );

    // The client's key, readable inside its root.
    let key = client.scratch().join("id_ed25519");
    keygen(&key);
    let sshd = Sshd::start(ssh_dir.path(), &key.with_extension("pub"), &serve);
    let host_pub = fs::read_to_string(ssh_dir.path().join("host_key.pub")).unwrap();
    let host_b64 = {
        use std::io::Write;
        let mut c = Command::new("base64")
            .arg("-w0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin
            .take()
            .unwrap()
            .write_all(host_pub.trim().as_bytes())
            .unwrap();
        String::from_utf8(c.wait_with_output().unwrap().stdout).unwrap()
    };
    let key_in = client.inside(&key);
    let builders = format!(
        "ssh-ng://root@127.0.0.1 x86_64-darwin {} 2 1 - - {host_b64}",
        key_in.display()
    );

    let drv = client.instantiate(
        r#"let dep = derivation { name = "fleet-dep"; system = "x86_64-darwin"; builder = "/bin/sh"; PATH = "/bin";
                                  args = [ "-c" "echo dep > $out" ]; };
           in derivation { name = "fleet"; system = "x86_64-darwin"; builder = "/bin/sh"; PATH = "/bin";
                           args = [ "-c" "echo built-on-the-builder; echo ${dep} > $out" ]; }"#,
    );
    let t = Instant::now();
    let o: Out = client
        .command("nix-store")
        .arg("--store")
        .arg(client.store_arg())
        .arg("-r")
        .args(&drv)
        .args(["--max-jobs", "0", "--option", "substituters", ""])
        .args(["--option", "builders", &builders])
        .args(["--option", "builders-use-substitutes", "false"])
        .env("NIX_SSHOPTS", format!("-p {}", sshd.port))
        .output()
        .unwrap()
        .into();
    let log = fs::read_to_string(ssh_dir.path().join("sshd.log")).unwrap_or_default();
    assert!(t.elapsed() < Duration::from_secs(120), "too slow");
    assert_eq!(o.code, 0, "{}\nsshd: {log}", o.stderr);
    assert!(
        o.stderr.contains("on 'ssh-ng://root@127.0.0.1'"),
        "{}",
        o.stderr
    );
    let out = o.stdout.trim().to_string();
    // Built by our hook in the builder's store, copied back to the client.
    assert!(builder.is_valid(&out) && client.is_valid(&out));
    let dep = fs::read_to_string(client.real(&out))
        .unwrap()
        .trim()
        .to_string();
    assert!(dep.ends_with("-fleet-dep"), "{dep}");
    assert_eq!(client.references(&out), vec![dep.clone()]);
    let blog = builder.nix_store(&["-l", &drv[0]]);
    assert!(
        blog.stdout.contains("built-on-the-builder"),
        "builder's log: {}",
        blog.stdout
    );
    builder.verify();
    client.verify();
    drop(sshd);
    // Key authentication only: a key the builder does not know is refused.
    let other = client.scratch().join("other_key");
    keygen(&other);
    let sshd = Sshd::start(ssh_dir.path(), &key.with_extension("pub"), &serve);
    let try_key = |k: &Path| -> Out {
        Command::new("ssh")
            .args(["-p", &sshd.port.to_string(), "-i"])
            .arg(k)
            .args([
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "root@127.0.0.1",
                "true",
            ])
            .stdin(Stdio::null())
            .output()
            .unwrap()
            .into()
    };
    // The authorised key gets past authentication (the forced command then
    // ends on the empty input); the other is refused by sshd itself.
    let known = try_key(&key);
    assert!(
        !known.stderr.contains("Permission denied"),
        "the builder's key was refused: {known:?}"
    );
    let unknown = try_key(&other);
    assert_eq!(unknown.code, 255, "an unknown key was let in: {unknown:?}");
    assert!(
        unknown.stderr.contains("Permission denied (publickey)"),
        "{unknown:?}"
    );
}

#[test]
fn nix_2_26_client_builds_darwin_on_a_2_34_builder_over_ssh_ng() {
    fleet(
        "2.26",
        "2.34",
        "nix_2_26_client_builds_darwin_on_a_2_34_builder_over_ssh_ng",
    );
}

#[test]
fn nix_2_34_client_builds_darwin_on_a_2_26_builder_over_ssh_ng() {
    fleet(
        "2.34",
        "2.26",
        "nix_2_34_client_builds_darwin_on_a_2_26_builder_over_ssh_ng",
    );
}
