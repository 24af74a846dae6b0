//! The Nix roots the build hook's end-to-end suite runs against: each one
//! is made (by mmdebstrap, once, shared) and runs the Nix it is named for.

use e2e::roots::{NixEnv, VERSIONS};

#[test]
fn every_nix_version_is_there_and_is_what_it_claims() {
    for (name, _) in VERSIONS {
        let Some(env) = NixEnv::get(name, "every_nix_version_is_there") else {
            continue;
        };
        let want: Vec<u32> = name.split('.').map(|p| p.parse().unwrap()).collect();
        assert_eq!(env.version, (want[0], want[1]), "{name}");
        // Inside a root: its own /proc (Nix needs /proc/self/exe) and
        // nothing of the host's mounts left behind afterwards.
        let o = env.command("nix").arg("--version").output().unwrap();
        assert!(o.status.success(), "{name}: {o:?}");
        if let Some(root) = &env.root {
            let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
            assert!(
                !mounts.contains(&*root.to_string_lossy()),
                "a mount of {} leaked to the host",
                root.display()
            );
        }
    }
}
