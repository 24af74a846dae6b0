//! Replacing ourselves with the command. On plain Linux this is execvp.
//! Inside Darling the command is a Mac path and usually a Mach-O program:
//! Darling's own execve translates the path, runs ELF files directly and
//! hands Mach-O files and `#!` scripts to its loader, `mldr`, as
//! `argv[0] = "<mldr>!<host path>"`. We do the same from the outside.
//! That hand-over is written from reading Darling's execve and is untested
//! on a live Darling.

use std::ffi::{CString, OsString};
use std::io::{self, Read};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use prefixfs::Prefix;

#[derive(Debug, PartialEq, Eq)]
pub enum Kind {
    Elf,
    MachO,
    Script {
        interpreter: String,
        arg: Option<String>,
    },
    Other,
}

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

/// execv with our environment: returns only on failure.
fn execve(path: &Path, argv: &[OsString]) -> io::Error {
    let run = || -> io::Result<()> {
        let p = cstr(path.as_os_str().as_bytes())?;
        let args = argv
            .iter()
            .map(|a| cstr(a.as_bytes()))
            .collect::<io::Result<Vec<CString>>>()?;
        nix::unistd::execv(&p, &args)?;
        Ok(())
    };
    match run() {
        Err(e) => e,
        Ok(()) => unreachable!("execv returned success"),
    }
}

/// execvp on the host: returns only on failure.
pub fn execvp_host(argv: &[String]) -> io::Error {
    let cmd = &argv[0];
    let path = if cmd.contains('/') {
        PathBuf::from(cmd)
    } else {
        match which::which(cmd) {
            Ok(p) => p,
            Err(_) => return io::Error::from_raw_os_error(libc::ENOENT),
        }
    };
    let args: Vec<OsString> = argv.iter().map(OsString::from).collect();
    execve(&path, &args)
}

fn is_executable(p: &Path) -> bool {
    p.is_file() && nix::unistd::access(p, nix::unistd::AccessFlags::X_OK).is_ok()
}

/// execvp inside a Darling prefix: PATH search and the file's kind are
/// judged on host paths, Mach-O and scripts go through `mldr`.
pub fn execvp_in_prefix(prefix: &Prefix, mldr: Option<&Path>, argv: &[String]) -> io::Error {
    let cmd = &argv[0];
    let candidates: Vec<String> = if cmd.contains('/') {
        vec![cmd.clone()]
    } else {
        std::env::var("PATH")
            .unwrap_or_else(|_| "/usr/bin:/bin:/usr/sbin:/sbin".into())
            .split(':')
            .filter(|d| !d.is_empty())
            .map(|d| format!("{}/{cmd}", d.trim_end_matches('/')))
            .collect()
    };
    let Some((mac, host)) = candidates
        .into_iter()
        .map(|m| {
            let h = prefix.host_path(&m);
            (m, h)
        })
        .find(|(_, h)| is_executable(h))
    else {
        return io::Error::from_raw_os_error(libc::ENOENT);
    };
    run_file(prefix, mldr, &mac, &host, &argv[1..], argv[0].clone(), 0)
}

fn run_file(
    prefix: &Prefix,
    mldr: Option<&Path>,
    mac: &str,
    host: &Path,
    rest: &[String],
    argv0: String,
    depth: u32,
) -> io::Error {
    let mut head = [0u8; 256];
    let n = match std::fs::File::open(host).and_then(|mut f| f.read(&mut head)) {
        Ok(n) => n,
        Err(e) => return e,
    };
    let mut args: Vec<OsString> = vec![argv0.into()];
    args.extend(rest.iter().map(OsString::from));
    match kind(&head[..n]) {
        Kind::Elf => execve(host, &args),
        Kind::MachO => match mldr {
            Some(m) => {
                let mut a = args;
                a[0] =
                    OsString::from_vec(format!("{}!{}", m.display(), host.display()).into_bytes());
                execve(m, &a)
            }
            None => io::Error::other(
                "it is a Mach-O program and no `mldr` is configured in sandbox-exec.toml",
            ),
        },
        Kind::Script { interpreter, arg } if depth < 4 => {
            let mut new_rest: Vec<String> = Vec::new();
            if let Some(a) = arg {
                new_rest.push(a);
            }
            new_rest.push(mac.to_string());
            new_rest.extend(rest.iter().cloned());
            let ihost: PathBuf = prefix.host_path(&interpreter);
            run_file(
                prefix,
                mldr,
                &interpreter,
                &ihost,
                &new_rest,
                interpreter.clone(),
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
