//! Replacing ourselves with the command. On plain Linux this is execvp.
//! Inside Darling the command is a Mac path and usually a Mach-O program:
//! Darling's own execve translates the path, runs ELF files directly and
//! hands Mach-O files and `#!` scripts to its loader, `mldr`, telling it
//! where darlingserver listens. We do the same from the outside (see
//! [`Darling`]); the live tests in tests/live.rs run it on a real Darling.

use std::ffi::{CString, OsStr, OsString};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use prefixfs::Prefix;

/// What a command file is, judged from its first bytes; it decides how
/// [`execvp_in_prefix`] starts it.
#[derive(Debug, PartialEq, Eq)]
pub enum Kind {
    /// A Linux ELF program: exec'd directly.
    Elf,
    /// A Mach-O program, 32- or 64-bit in either byte order, or a universal
    /// (fat) binary: started through Darling's loader, `mldr`.
    MachO,
    /// A `#!` script: its interpreter is started with the script's Mac path
    /// as an argument, through `mldr` when the interpreter is Mach-O,
    /// otherwise as the kernel would (at most four nested interpreters).
    Script {
        /// The interpreter's path as the `#!` line writes it (a Mac path
        /// inside a prefix).
        interpreter: String,
        /// The rest of the `#!` line, trimmed, passed as a single argument
        /// as Linux does; None when there is nothing after the interpreter.
        arg: Option<String>,
    },
    /// Anything else: refused with ENOEXEC (`Exec format error`), never
    /// handed to a shell.
    Other,
}

/// Classifies a file from its first bytes (the caller reads 256): the ELF
/// or Mach-O magic number, or a `#!` line (only the first line counts).
pub fn kind(head: &[u8]) -> Kind {
    const MACHO: [[u8; 4]; 6] = [
        [0xfe, 0xed, 0xfa, 0xce],
        [0xfe, 0xed, 0xfa, 0xcf],
        [0xce, 0xfa, 0xed, 0xfe],
        [0xcf, 0xfa, 0xed, 0xfe],
        [0xca, 0xfe, 0xba, 0xbe],
        [0xbe, 0xba, 0xfe, 0xca],
    ];
    if head.starts_with(b"\x7fELF") {
        return Kind::Elf;
    }
    if head.len() >= 4 && MACHO.iter().any(|m| head[..4] == *m) {
        return Kind::MachO;
    }
    if let Some(rest) = head.strip_prefix(b"#!") {
        let line = rest.split(|c| *c == b'\n').next().unwrap_or(b"");
        let line = String::from_utf8_lossy(line);
        let mut parts = line.trim().splitn(2, char::is_whitespace);
        if let Some(i) = parts.next().filter(|s| !s.is_empty()) {
            return Kind::Script {
                interpreter: i.to_string(),
                arg: parts
                    .next()
                    .map(|a| a.trim().to_string())
                    .filter(|a| !a.is_empty()),
            };
        }
    }
    Kind::Other
}

fn cstr(b: &[u8]) -> io::Result<CString> {
    CString::new(b).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

fn cstrs<S: AsRef<OsStr>>(argv: &[S]) -> io::Result<Vec<CString>> {
    argv.iter().map(|a| cstr(a.as_ref().as_bytes())).collect()
}

/// execv with our environment: returns only on failure.
fn execve(path: &Path, argv: &[OsString]) -> io::Error {
    let (p, args) = match (cstr(path.as_os_str().as_bytes()), cstrs(argv)) {
        (Ok(p), Ok(args)) => (p, args),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let Err(e) = nix::unistd::execv(&p, &args);
    e.into()
}

/// execvp on the host: returns only on failure.
pub fn execvp_host(argv: &[OsString]) -> io::Error {
    let args = match cstrs(argv) {
        Ok(args) => args,
        Err(e) => return e,
    };
    let Err(e) = nix::unistd::execvp(&args[0], &args);
    e.into()
}

fn is_executable(p: &Path) -> bool {
    p.is_file() && nix::unistd::access(p, nix::unistd::AccessFlags::X_OK).is_ok()
}

/// How to start Darling-managed (Mach-O) programs from outside Darling's
/// libSystem, as its own execve does: through its loader `mldr`, with the
/// darlingserver socket in `__mldr_sockpath` (mldr checks the new process
/// in there; without it the check-in fails with ECONNREFUSED). No lifetime
/// pipe is passed: mldr makes its own (or uses a pidfd on Linux >= 5.3).
pub struct Darling<'a> {
    /// The prefix the command runs in: its Mac paths (the command, `PATH`,
    /// interpreters) are resolved inside it, and darlingserver's socket is at
    /// its root.
    pub prefix: &'a Prefix,
    /// The loader, a host path.
    pub mldr: Option<&'a Path>,
}

impl Darling<'_> {
    /// darlingserver's socket: `.darlingserver.sock` at the prefix root.
    pub fn socket(&self) -> PathBuf {
        self.prefix.root().join(".darlingserver.sock")
    }

    /// Our environment plus `__mldr_sockpath` (replacing any inherited one).
    fn env(&self) -> Vec<OsString> {
        let mut env: Vec<OsString> = std::env::vars_os()
            .filter(|(k, _)| k != "__mldr_sockpath" && k != "__mldr_lifetime_pipe")
            .map(|(k, v)| {
                let mut kv = k;
                kv.push("=");
                kv.push(v);
                kv
            })
            .collect();
        let mut sock = OsString::from("__mldr_sockpath=");
        sock.push(self.socket());
        env.insert(0, sock);
        env
    }

    fn mldr(&self) -> io::Result<&Path> {
        self.mldr.ok_or_else(|| {
            io::Error::other(
                "it is a Mach-O program and Darling's `mldr` was not found (set `mldr` in sandbox-exec.toml)",
            )
        })
    }

    /// A Mach-O program: `<mldr>!<host path>` as argv[0], then the
    /// program's own argv.
    fn exec_macho(&self, host: &Path, argv: &[OsString]) -> io::Error {
        let m = match self.mldr() {
            Ok(m) => m,
            Err(e) => return e,
        };
        let mut a0 = m.as_os_str().to_owned();
        a0.push("!");
        a0.push(host);
        let mut args = vec![a0];
        args.extend(argv.iter().cloned());
        execve_env(m, &args, &self.env())
    }

    /// A `#!` script whose interpreter is Mach-O: mldr gets the
    /// interpreter's host path as argv[1] and gives it back its Mac path.
    fn exec_script(
        &self,
        interp_host: &Path,
        arg: Option<&str>,
        script_mac: &str,
        rest: &[OsString],
    ) -> io::Error {
        let m = match self.mldr() {
            Ok(m) => m,
            Err(e) => return e,
        };
        let mut args: Vec<OsString> = vec![m.as_os_str().to_owned(), interp_host.into()];
        args.extend(arg.map(OsString::from));
        args.push(script_mac.into());
        args.extend(rest.iter().cloned());
        execve_env(m, &args, &self.env())
    }
}

/// execve with an explicit environment: returns only on failure.
fn execve_env(path: &Path, argv: &[OsString], env: &[OsString]) -> io::Error {
    let (p, args, env) = match (cstr(path.as_os_str().as_bytes()), cstrs(argv), cstrs(env)) {
        (Ok(p), Ok(args), Ok(env)) => (p, args, env),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return e,
    };
    let Err(e) = nix::unistd::execve(&p, &args, &env);
    e.into()
}

/// execvp inside a Darling prefix: the command and `PATH` are Mac paths,
/// looked up and judged on their host paths, with links inside the prefix
/// followed as Darling follows them (an absolute link names a path inside
/// the prefix, not on the host); ELF files are exec'd directly, Mach-O
/// programs and `#!` scripts as Darling's execve does.
pub fn execvp_in_prefix(d: &Darling, argv: &[OsString]) -> io::Error {
    // Mac paths are text to the prefix's resolver; a name that is not
    // UTF-8 is looked up as its lossy text (and so, in practice, not found).
    let cmd = argv[0].to_string_lossy().into_owned();
    let found = if cmd.contains('/') {
        // A relative path is taken from the working directory, which is a
        // host path already.
        let host = if cmd.starts_with('/') {
            d.prefix.host_path_resolved(&cmd)
        } else {
            PathBuf::from(&argv[0])
        };
        Some((cmd.clone(), host)).filter(|(_, h)| is_executable(h))
    } else {
        // Each candidate is resolved on its own: a link in the prefix is
        // followed inside it, which a host-side PATH search cannot do.
        let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin:/usr/sbin:/sbin".into());
        path.split(':')
            .filter(|m| m.starts_with('/'))
            .map(|m| format!("{}/{cmd}", m.trim_end_matches('/')))
            .map(|mac| {
                let host = d.prefix.host_path_resolved(&mac);
                (mac, host)
            })
            .find(|(_, h)| is_executable(h))
    };
    let Some((mac, host)) = found else {
        return io::Error::from_raw_os_error(libc::ENOENT);
    };
    run_file(d, &mac, &host, &argv[1..], argv[0].clone(), 0)
}

fn run_file(
    d: &Darling,
    mac: &str,
    host: &Path,
    rest: &[OsString],
    argv0: OsString,
    depth: u32,
) -> io::Error {
    let mut head = [0u8; 256];
    let n = match std::fs::File::open(host).and_then(|mut f| f.read(&mut head)) {
        Ok(n) => n,
        Err(e) => return e,
    };
    let mut args: Vec<OsString> = vec![argv0];
    args.extend(rest.iter().cloned());
    match kind(&head[..n]) {
        Kind::Elf => execve(host, &args),
        Kind::MachO => d.exec_macho(host, &args),
        Kind::Script { interpreter, arg } if depth < 4 => {
            let ihost = d.prefix.host_path_resolved(&interpreter);
            let mut ihead = [0u8; 256];
            let n = match std::fs::File::open(&ihost).and_then(|mut f| f.read(&mut ihead)) {
                Ok(n) => n,
                Err(e) => return e,
            };
            if kind(&ihead[..n]) == Kind::MachO {
                return d.exec_script(&ihost, arg.as_deref(), mac, rest);
            }
            // An ELF (or script) interpreter: as the kernel would.
            let mut new_rest: Vec<OsString> = Vec::new();
            new_rest.extend(arg.map(OsString::from));
            new_rest.push(mac.into());
            new_rest.extend(rest.iter().cloned());
            run_file(
                d,
                &interpreter,
                &ihost,
                &new_rest,
                interpreter.clone().into(),
                depth + 1,
            )
        }
        _ => io::Error::from_raw_os_error(libc::ENOEXEC),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(kind(b"\x7fELF\x02"), Kind::Elf);
        assert_eq!(kind(&[0xcf, 0xfa, 0xed, 0xfe, 7]), Kind::MachO);
        assert_eq!(
            kind(b"#! /bin/sh -e\necho"),
            Kind::Script {
                interpreter: "/bin/sh".into(),
                arg: Some("-e".into())
            }
        );
        assert_eq!(kind(b"hello"), Kind::Other);
    }
}
