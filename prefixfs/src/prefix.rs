use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

/// The environment variable that names the prefix explicitly. It wins over
/// every detection method, for tests and for host-side use.
pub(crate) const PREFIX_ENV: &str = "DARLING_PREFIX";

/// Why [`Prefix::resolve`] found no prefix.
#[derive(Debug, thiserror::Error)]
pub enum PrefixError {
    /// `DARLING_PREFIX` is set but is not a directory; holds its value.
    #[error("DARLING_PREFIX={0:?} is not a directory")]
    NotADirectory(PathBuf),
    /// No detection method found a prefix; holds the executable path
    /// searched above (empty if unknown).
    #[error(
        "cannot find the Darling prefix: set DARLING_PREFIX, or run this tool inside Darling \
         (no overlay mount of a prefix in /proc/self/mountinfo, and no .init.pid above {0:?})"
    )]
    NotFound(PathBuf),
    /// A path a tool would write (or read its records from) leads outside the
    /// prefix once symbolic links are followed, or through a dangling link:
    /// e.g. `<prefix>/private/etc` planted as a link to the host's `/etc`.
    /// Holds the path (its longest existing part) and the prefix root.
    #[error(
        "{0:?} is not inside the Darling prefix {1:?} once symbolic links are followed; \
         refusing to use it"
    )]
    Escapes(PathBuf, PathBuf),
    /// Looking up a path in the prefix failed (e.g. permission denied).
    #[error("{path}: {source}")]
    Io {
        /// The path looked up.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Where Darling shows the host's root directory inside a prefix.
pub const SYSTEM_ROOT: &str = "/Volumes/SystemRoot";

/// A Darling prefix root as a host path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefix {
    root: PathBuf,
}

impl Prefix {
    /// Use `root` as the prefix without any detection.
    pub fn at(root: impl Into<PathBuf>) -> Prefix {
        Prefix { root: root.into() }
    }

    /// Resolve the prefix: `DARLING_PREFIX`, else the Darling container this
    /// process runs in.
    pub fn resolve() -> Result<Prefix, PrefixError> {
        let env = std::env::var_os(PREFIX_ENV);
        // The override makes the mount table irrelevant: skip reading it.
        let mountinfo = match env.as_ref().filter(|v| !v.is_empty()) {
            Some(_) => None,
            None => read_mountinfo(),
        };
        Self::resolve_from(env, mountinfo.as_deref(), std::env::current_exe().ok())
    }

    /// The detection logic with its inputs made explicit (for tests).
    pub fn resolve_from(
        env: Option<OsString>,
        mountinfo: Option<&str>,
        exe: Option<PathBuf>,
    ) -> Result<Prefix, PrefixError> {
        if let Some(value) = env.filter(|v| !v.is_empty()) {
            let root = PathBuf::from(value);
            if !root.is_dir() {
                return Err(PrefixError::NotADirectory(root));
            }
            return Ok(Prefix { root });
        }
        // darlingserver mounts an overlay on the prefix path itself, with the
        // prefix as its upper layer; ELF children share that mount namespace.
        if let Some(root) = mountinfo.and_then(overlay_prefix_from_mountinfo) {
            return Ok(Prefix { root });
        }
        // Our tools are installed inside the prefix, and Darling runs a running
        // container's init pid file at its root.
        let exe = exe.unwrap_or_default();
        for dir in exe.ancestors().skip(1) {
            if dir.join(".init.pid").is_file() {
                return Ok(Prefix {
                    root: dir.to_path_buf(),
                });
            }
        }
        Err(PrefixError::NotFound(exe))
    }

    /// The prefix root as a host path (what Mac programs see as `/`).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `/etc` of the prefix. On macOS (and in a Darling prefix) `/etc` is a
    /// symlink to `/private/etc`; the symlink target is absolute *inside* the
    /// prefix, so we pick the real directory ourselves.
    pub fn etc_dir(&self) -> PathBuf {
        self.private_or_plain("etc")
    }

    /// `/var` of the prefix, resolved like [`Prefix::etc_dir`].
    pub fn var_dir(&self) -> PathBuf {
        self.private_or_plain("var")
    }

    /// `/tmp` of the prefix, resolved like [`Prefix::etc_dir`].
    pub fn tmp_dir(&self) -> PathBuf {
        self.private_or_plain("tmp")
    }

    /// darling-nix's own state in the prefix (`/var/db/darling-nix`): the
    /// account sidecar, diskutil's volumes, nix-install's receipt.
    pub fn state_dir(&self) -> PathBuf {
        self.var_dir().join("db/darling-nix")
    }

    /// Map an absolute path as a Mac program sees it to the host path.
    /// [`SYSTEM_ROOT`] (any case) is Darling's door to the host root.
    pub fn host_path(&self, mac_path: &str) -> PathBuf {
        let head = mac_path.get(..SYSTEM_ROOT.len());
        if head.is_some_and(|h| h.eq_ignore_ascii_case(SYSTEM_ROOT)) {
            let rest = &mac_path[SYSTEM_ROOT.len()..];
            if rest.is_empty() {
                return PathBuf::from("/");
            }
            if rest.starts_with('/') {
                return PathBuf::from(rest);
            }
        }
        let rel = mac_path.trim_start_matches('/');
        self.root.join(rel)
    }

    /// [`Prefix::host_path`], following symlinks inside the prefix as
    /// Darling's vchroot does: an absolute link names a path in the prefix
    /// (`/etc` is a link to `private/etc`, `/dev` to
    /// `/Volumes/SystemRoot/dev`). Under [`SYSTEM_ROOT`] the host's own
    /// links are left to the kernel. One readlink per path component.
    pub fn host_path_resolved(&self, mac: &str) -> PathBuf {
        let mut mac = normalize(mac);
        'restart: for _ in 0..40 {
            let parts: Vec<&str> = mac.split('/').filter(|c| !c.is_empty()).collect();
            let mut sofar = String::new();
            for (i, part) in parts.iter().enumerate() {
                sofar.push('/');
                sofar.push_str(part);
                if sofar.eq_ignore_ascii_case(SYSTEM_ROOT) {
                    break;
                }
                let Ok(target) = std::fs::read_link(self.host_path(&sofar)) else {
                    continue;
                };
                let target = target.to_string_lossy().into_owned();
                let base = if target.starts_with('/') {
                    target
                } else {
                    let parent = sofar.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
                    format!("{parent}/{target}")
                };
                let rest = parts[i + 1..].join("/");
                mac = normalize(&format!("{base}/{rest}"));
                continue 'restart;
            }
            break;
        }
        self.host_path(&mac)
    }

    /// The inverse of [`Prefix::host_path`]: how a Mac program inside the
    /// prefix names a host path (prefix-relative when the path is inside
    /// the prefix, else through [`SYSTEM_ROOT`]).
    pub fn mac_path(&self, host: &Path) -> String {
        match host.strip_prefix(&self.root) {
            Ok(rest) => format!("/{}", rest.display()),
            Err(_) => format!("{SYSTEM_ROOT}{}", host.display()),
        }
    }

    /// [`Prefix::etc_dir`], after [`Prefix::check_inside`]: the `/etc` a
    /// tool may write.
    pub fn writable_etc_dir(&self) -> Result<PathBuf, PrefixError> {
        let dir = self.etc_dir();
        self.check_inside(&dir)?;
        Ok(dir)
    }

    /// [`Prefix::state_dir`], after [`Prefix::check_inside`]: the state
    /// directory a tool may write.
    pub fn writable_state_dir(&self) -> Result<PathBuf, PrefixError> {
        let dir = self.state_dir();
        self.check_inside(&dir)?;
        Ok(dir)
    }

    /// Refuse a host path that is not inside the prefix once symbolic links
    /// are followed: its longest existing part (a dangling link counts as
    /// existing) must canonicalise to a path under the canonical root. The
    /// rest does not exist yet, so creating it stays inside; a relative
    /// link within the prefix (`etc -> private/etc`) is fine. Call it
    /// before creating, reading or writing anything under `path`. (It
    /// cannot stop a writer of the prefix from swapping a directory for a
    /// link *after* the check.)
    pub fn check_inside(&self, path: &Path) -> Result<(), PrefixError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| PrefixError::Io { path, source }
        };
        let root = fs::canonicalize(&self.root).map_err(io(&self.root))?;
        let mut existing = path;
        loop {
            match fs::symlink_metadata(existing) {
                Ok(_) => break,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(existing)(e)),
            }
            // A missing `..` (no file name) would climb from wherever the
            // rest ends up; refuse rather than reason about it.
            match (existing.parent(), existing.file_name()) {
                (Some(parent), Some(_)) => existing = parent,
                _ => return Err(PrefixError::Escapes(path.to_path_buf(), root)),
            }
        }
        let escapes = || PrefixError::Escapes(existing.to_path_buf(), root.clone());
        match fs::canonicalize(existing) {
            Ok(real) if real.starts_with(&root) => {}
            Ok(_) => return Err(escapes()),
            // The existing part is a link whose target is missing: no
            // telling where a directory created through it would be.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(escapes()),
            Err(e) => return Err(io(existing)(e)),
        }
        Ok(())
    }

    fn private_or_plain(&self, name: &str) -> PathBuf {
        let private = self.root.join("private").join(name);
        if private.is_dir() {
            private
        } else {
            self.root.join(name)
        }
    }
}

/// `/proc/self/mountinfo` in one read where it fits: the kernel builds the
/// text anew for each read, and `read_to_string` starts with 32 bytes and
/// doubles (eight reads for a small table, on every tool start).
fn read_mountinfo() -> Option<String> {
    use std::io::Read;
    let mut f = fs::File::open("/proc/self/mountinfo").ok()?;
    let mut buf = Vec::with_capacity(64 * 1024);
    f.read_to_end(&mut buf).ok()?;
    String::from_utf8(buf).ok()
}

/// Parse `/proc/self/mountinfo` for an overlay whose upper directory is its
/// own mount point, which is how darlingserver mounts the prefix.
fn overlay_prefix_from_mountinfo(mountinfo: &str) -> Option<PathBuf> {
    overlay_mounts(mountinfo)
        .into_iter()
        .find_map(|(at, upper)| (upper.as_ref() == Some(&at)).then_some(at))
}

/// The overlay mounts listed in a mountinfo text (`/proc/<pid>/mountinfo`):
/// each mount point with its upper directory, when it has one.
pub fn overlay_mounts(mountinfo: &str) -> Vec<(PathBuf, Option<PathBuf>)> {
    let mut found = Vec::new();
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(sep) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        if fields.len() < sep + 2 || fields.len() < 5 || fields[sep + 1] != "overlay" {
            continue;
        }
        let upper = fields
            .get(sep + 3)
            .and_then(|opts| opts.split(',').find_map(|o| o.strip_prefix("upperdir=")))
            .map(|u| PathBuf::from(unescape_mountinfo(u)));
        found.push((PathBuf::from(unescape_mountinfo(fields[4])), upper));
    }
    found
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_mountinfo(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let oct = bytes.get(i + 1..i + 4);
        if bytes[i] == b'\\' && oct.is_some_and(|o| o.iter().all(|b| (b'0'..=b'7').contains(b))) {
            let o = oct.unwrap_or_default();
            out.push((o[0] - b'0') * 64 + (o[1] - b'0') * 8 + (o[2] - b'0'));
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether the caller counts as root. Darling's `sudo` only sets
/// `__FAKE_SETUID_ROOT`, and Darling's `geteuid` then answers 0; an ELF tool
/// sees the real uid, so it must apply the same rule itself.
pub fn privileged() -> bool {
    nix::unistd::geteuid().is_root() || std::env::var_os("__FAKE_SETUID_ROOT").is_some()
}

/// `.` and `..` removed lexically, one leading slash.
fn normalize(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    format!("/{}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_paths_follow_the_prefix_links() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::create_dir_all(root.join("private/etc")).unwrap();
        std::os::unix::fs::symlink("private/etc", root.join("etc")).unwrap();
        std::os::unix::fs::symlink("/Volumes/SystemRoot/dev", root.join("dev")).unwrap();
        std::os::unix::fs::symlink("../etc/x", root.join("private/l")).unwrap();
        let p = Prefix::at(root);
        let r = |m: &str| p.host_path_resolved(m);
        assert_eq!(r("/dev/null"), PathBuf::from("/dev/null"));
        assert_eq!(r("/etc/hosts"), root.join("private/etc/hosts"));
        assert_eq!(r("/private/l"), root.join("private/etc/x"));
        assert_eq!(r("/usr/./lib/../bin"), root.join("usr/bin"));
        assert_eq!(r("/Volumes/SystemRoot/etc"), PathBuf::from("/etc"));
    }

    #[test]
    fn mac_paths_round_trip() {
        let p = Prefix::at("/home/u/.darling");
        for host in ["/tmp/nix-build-x-0", "/home/u/.darling/private/tmp/b", "/"] {
            let mac = p.mac_path(Path::new(host));
            assert_eq!(p.host_path(&mac), PathBuf::from(host), "{mac}");
        }
        assert_eq!(p.mac_path(Path::new("/tmp/b")), "/Volumes/SystemRoot/tmp/b");
        assert_eq!(
            p.mac_path(Path::new("/home/u/.darling/private/tmp/b")),
            "/private/tmp/b"
        );
    }

    #[test]
    fn system_root_leads_to_the_host() {
        let p = Prefix::at("/home/u/.darling");
        assert_eq!(
            p.host_path("/nix/store/x"),
            PathBuf::from("/home/u/.darling/nix/store/x")
        );
        assert_eq!(
            p.host_path("/Volumes/SystemRoot/etc/hosts"),
            PathBuf::from("/etc/hosts")
        );
        assert_eq!(p.host_path("/volumes/systemroot"), PathBuf::from("/"));
        assert_eq!(
            p.host_path("/Volumes/SystemRootX"),
            PathBuf::from("/home/u/.darling/Volumes/SystemRootX")
        );
    }

    #[test]
    fn env_override_wins() {
        let dir = tempfile::tempdir().unwrap();
        let p = Prefix::resolve_from(Some(dir.path().into()), None, None).unwrap();
        assert_eq!(p.root(), dir.path());
    }

    #[test]
    fn env_override_must_exist() {
        let err = Prefix::resolve_from(Some("/nonexistent/prefix".into()), None, None);
        assert!(matches!(err, Err(PrefixError::NotADirectory(_))));
    }

    #[test]
    fn overlay_mount_is_found() {
        let info = "22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/vda rw\n\
            310 22 0:55 / /home/u/my\\040prefix rw,relatime - overlay overlay \
            rw,lowerdir=/usr/libexec/darling,upperdir=/home/u/my\\040prefix,workdir=/home/u/my\\040prefix.workdir,index=off\n";
        let p = Prefix::resolve_from(None, Some(info), None).unwrap();
        assert_eq!(p.root(), Path::new("/home/u/my prefix"));
    }

    #[test]
    fn unrelated_overlay_is_ignored() {
        let info = "310 22 0:55 / /var/lib/docker/x rw - overlay overlay rw,lowerdir=/a,upperdir=/b,workdir=/c\n";
        let err = Prefix::resolve_from(None, Some(info), Some("/usr/bin/dscl".into()));
        assert!(matches!(err, Err(PrefixError::NotFound(_))));
    }

    #[test]
    fn exe_ancestry_with_init_pid() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("usr/bin")).unwrap();
        fs::write(dir.path().join(".init.pid"), "42").unwrap();
        let exe = dir.path().join("usr/bin/dscl");
        let p = Prefix::resolve_from(None, Some(""), Some(exe)).unwrap();
        assert_eq!(p.root(), dir.path());
    }

    #[test]
    fn writable_dirs_stay_inside_the_prefix() {
        use std::os::unix::fs::symlink;
        let d = tempfile::tempdir().unwrap();
        let (root, outside) = (d.path().join("pfx"), d.path().join("outside"));
        fs::create_dir_all(root.join("private/etc")).unwrap();
        fs::create_dir_all(&outside).unwrap();
        // Darling's own layout: relative links inside the prefix.
        symlink("private/etc", root.join("etc")).unwrap();
        let p = Prefix::at(&root);
        assert_eq!(p.writable_etc_dir().unwrap(), root.join("private/etc"));
        assert!(p.check_inside(&root.join("etc/new/deeper")).is_ok());
        // Nothing of var exists yet: it will be created inside.
        assert_eq!(
            p.writable_state_dir().unwrap(),
            root.join("var/db/darling-nix")
        );
        // The root itself reached through a link is fine.
        symlink(&root, d.path().join("alias")).unwrap();
        assert!(Prefix::at(d.path().join("alias"))
            .writable_etc_dir()
            .is_ok());

        fn escapes<T>(r: Result<T, PrefixError>) -> bool {
            matches!(r, Err(PrefixError::Escapes(..)))
        }
        fs::create_dir_all(root.join("private")).unwrap();
        symlink(&outside, root.join("private/var")).unwrap();
        assert!(escapes(p.writable_state_dir()), "absolute link out");
        fs::remove_file(root.join("private/var")).unwrap();
        symlink("../../outside", root.join("private/var")).unwrap();
        assert!(escapes(p.writable_state_dir()), "relative link out");
        fs::remove_file(root.join("private/var")).unwrap();
        symlink("/nonexistent/darling-nix-test", root.join("private/var")).unwrap();
        assert!(
            escapes(p.check_inside(&root.join("private/var/db"))),
            "dangling"
        );
        fs::remove_file(root.join("private/var")).unwrap();
        assert!(escapes(p.check_inside(&root.join("private/missing/../.."))));
        assert!(escapes(
            p.check_inside(&p.host_path("/Volumes/SystemRoot/etc"))
        ));
        fs::remove_dir(root.join("private/etc")).unwrap();
        symlink(&outside, root.join("private/etc")).unwrap();
        assert!(escapes(p.writable_etc_dir()), "the audit's case");
        assert!(fs::read_dir(&outside).unwrap().next().is_none());
    }

    #[test]
    fn etc_prefers_private() {
        let dir = tempfile::tempdir().unwrap();
        let p = Prefix::at(dir.path());
        assert_eq!(p.etc_dir(), dir.path().join("etc"));
        fs::create_dir_all(dir.path().join("private/etc")).unwrap();
        assert_eq!(p.etc_dir(), dir.path().join("private/etc"));
        assert_eq!(p.host_path("/var/empty"), dir.path().join("var/empty"));
    }
}
