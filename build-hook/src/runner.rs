//! Where builders run: the configured [`darling_host`] launcher (the one
//! place that knows how to run something inside a prefix), plus the fd
//! plumbing the hook needs around Nix's pipes.
//!
//! * `darling` (production): [`darling_host::DarlingLauncher`], through the
//!   prefix's job server (`job-server = true`, the default) with plain
//!   `darling shell` as the fallback.
//! * `chroot` (tests): [`darling_host::ChrootLauncher`] runs the builder
//!   natively, chrooted into a fixture prefix, so real Nix can drive every
//!   other part of the hook.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use nix::fcntl::{fcntl, FcntlArg, FdFlag};

pub use darling_host::job::create_build_dir;
pub use darling_host::sh_quote;
pub use darling_host::{BuildDir, Ended, Job, Launcher, Running};

use crate::config::{Config, LauncherKind};

/// The launcher the configuration names; starts nothing. `chroot` roots
/// builders at `prefix`. `darling` runs them in `prefix` with the `darling`
/// launcher, makes build directories in `build-dir`, and uses the job
/// server in [`job_server_dir`] when `job-server` is on.
pub fn from_config(cfg: &Config) -> Box<dyn Launcher> {
    match cfg.runner {
        LauncherKind::Chroot => Box::new(darling_host::ChrootLauncher {
            root: cfg.prefix.clone(),
        }),
        LauncherKind::Darling => Box::new(darling_host::DarlingLauncher {
            darling: cfg.darling.clone(),
            prefix: cfg.prefix.clone(),
            build_base: cfg.build_dir.clone(),
            server_dir: cfg.job_server.then(|| job_server_dir(cfg)),
        }),
    }
}

/// The interposing xnu-fixes dylib for a builder's environment: with the
/// `darling` runner, when `interpose` names a file installed in the prefix.
/// Returns the path inside the prefix.
pub fn interpose_dylib(cfg: &Config) -> Option<&str> {
    let inside = cfg.interpose.as_deref()?;
    (cfg.runner == LauncherKind::Darling
        && cfg.prefix.join(inside.trim_start_matches('/')).is_file())
    .then_some(inside)
}

/// Loads the interposing dylib (if any) into a builder: first in
/// `DYLD_INSERT_LIBRARIES`, before any the derivation asks for itself.
pub fn add_interpose(cfg: &Config, env: &mut std::collections::BTreeMap<String, String>) {
    if let Some(dylib) = interpose_dylib(cfg) {
        let v = match env.get("DYLD_INSERT_LIBRARIES").filter(|v| !v.is_empty()) {
            Some(theirs) => format!("{dylib}:{theirs}"),
            None => dylib.to_string(),
        };
        env.insert("DYLD_INSERT_LIBRARIES".into(), v);
    }
}

/// The job server's files: one directory per prefix and server protocol,
/// so that neither a changed `prefix` nor an upgraded hook reaches another
/// prefix's or an older server.
pub fn job_server_dir(cfg: &Config) -> std::path::PathBuf {
    darling_host::JobServer::dir_for(&cfg.state_dir.join("jobserver"), &cfg.prefix)
}

/// Marks every inherited fd above 2 close-on-exec, so builders and helper
/// processes never hold Nix's pipes (fd 4 in particular) open.
pub fn cloexec_inherited_fds() {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<RawFd> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd > 2)
        .collect();
    for fd in fds {
        // SAFETY: the fd is only borrowed for the two fcntl calls; the
        // listing's own (closed by now) fd number just fails them.
        let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        if let Ok(flags) = fcntl(borrowed, FcntlArg::F_GETFD) {
            let flags = FdFlag::from_bits_truncate(flags) | FdFlag::FD_CLOEXEC;
            let _ = fcntl(borrowed, FcntlArg::F_SETFD(flags));
        }
    }
}

/// Takes ownership of an inherited fd if it is open.
pub fn inherited_fd(fd: RawFd) -> Option<OwnedFd> {
    // SAFETY: F_GETFD only asks whether the number is open; the hook calls
    // this once per inherited fd (4, 5), which nothing else in it uses, so
    // the OwnedFd is its only owner.
    unsafe {
        let borrowed = std::os::fd::BorrowedFd::borrow_raw(fd);
        fcntl(borrowed, FcntlArg::F_GETFD).ok()?;
        Some(OwnedFd::from_raw_fd(fd))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn quoting_survives_sh() {
        for s in ["plain", "it's", "a b\nc", "$HOME `x` \\ \"q\"", ""] {
            let out = Command::new("/bin/sh")
                .arg("-c")
                .arg(format!("printf %s {}", sh_quote(s)))
                .output()
                .unwrap();
            assert_eq!(String::from_utf8(out.stdout).unwrap(), s);
        }
    }

    #[test]
    fn inherited_fds_are_found_and_marked_cloexec() {
        let (r, _w) = std::io::pipe().unwrap();
        use std::os::fd::AsRawFd;
        let n = r.as_raw_fd();
        // Clear CLOEXEC, as an inherited fd would have it.
        fcntl(&r, FcntlArg::F_SETFD(FdFlag::empty())).unwrap();
        cloexec_inherited_fds();
        let flags = FdFlag::from_bits_truncate(fcntl(&r, FcntlArg::F_GETFD).unwrap());
        assert!(flags.contains(FdFlag::FD_CLOEXEC));
        let owned = inherited_fd(n).unwrap();
        std::mem::forget(r); // `owned` owns it now
        drop(owned);
        assert!(inherited_fd(4095).is_none());
    }
}

#[cfg(test)]
mod interpose_tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn the_dylib_goes_first_only_when_installed_and_only_for_darling() {
        let prefix = tempfile::tempdir().unwrap();
        let mut cfg = Config {
            runner: LauncherKind::Darling,
            prefix: prefix.path().to_path_buf(),
            ..Config::default()
        };
        let mut env = BTreeMap::new();
        add_interpose(&cfg, &mut env);
        assert!(env.is_empty(), "not installed: nothing added");

        let lib = prefix.path().join("usr/local/lib/libxnu_fixes.dylib");
        std::fs::create_dir_all(lib.parent().unwrap()).unwrap();
        std::fs::write(&lib, b"").unwrap();
        env.insert("DYLD_INSERT_LIBRARIES".into(), "/opt/theirs.dylib".into());
        add_interpose(&cfg, &mut env);
        assert_eq!(
            env["DYLD_INSERT_LIBRARIES"],
            "/usr/local/lib/libxnu_fixes.dylib:/opt/theirs.dylib"
        );

        let mut env = BTreeMap::new();
        cfg.interpose = None;
        add_interpose(&cfg, &mut env);
        assert!(env.is_empty(), "interpose = off");
        cfg.interpose = Some(crate::config::DEFAULT_INTERPOSE.into());
        cfg.runner = LauncherKind::Chroot;
        add_interpose(&cfg, &mut env);
        assert!(env.is_empty(), "the chroot runner runs Linux programs");
    }
}
