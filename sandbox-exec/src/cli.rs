//! The command line, parsed as BSD getopt(3) would with
//! `D:f:n:p:` (plus our `M:` and `v`): options stop at the first operand
//! or `--`, so builder arguments starting with `-` pass through.

/// The usage text, printed on stderr after a usage error's message (exit
/// 64). Like macOS's it names only `-f`, `-n`, `-p` and `-D`, not our `-M`
/// and `-v`.
pub const USAGE: &str = "Usage: sandbox-exec [options] command [args]\n\
Options:\n  -f profile-file     Read profile from file.\n  -n profile-name     Use pre-defined profile.\n  -p profile-string   Specify a profile on the command line.\n  -D key=value        Define a profile parameter.\n\
Exactly one of -f, -n, -p must be specified.\n";

use std::ffi::OsString;

/// Where the profile comes from: exactly one of `-f`, `-n` and `-p`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Profile {
    /// `-f PATH`: an SBPL file. Inside a prefix an absolute PATH is a Mac
    /// path, resolved in the prefix; a relative one is taken from the
    /// working directory. The file's directory is searched first by
    /// `import`.
    File(String),
    /// `-n NAME`: one of the built-in profiles of [`crate::named`].
    Named(String),
    /// `-p TEXT`: the profile itself (`<input string>` in error messages).
    Text(String),
}

/// A command line that parsed: the profile, its parameters, our two
/// extensions and the command to exec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The one profile source given.
    pub profile: Profile,
    /// The `-D KEY=VALUE` pairs in command-line order, split at the first
    /// `=`; the profile reads them with `(param "KEY")`, and a repeated KEY
    /// takes its last value.
    pub params: Vec<(String, String)>,
    /// `-M off|best-effort|strict` (darling-nix extension).
    pub mode: Option<String>,
    /// `-v`: say what is not enforced (darling-nix extension).
    pub verbose: bool,
    /// The command and its arguments, as the bytes we were given.
    pub command: Vec<OsString>,
}

/// A usage error: the message (possibly empty) to print before the usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

/// Options and their values are read as text (bytes that are not UTF-8
/// become U+FFFD); the command and its arguments are kept as given.
pub fn parse(args: &[OsString]) -> Result<Invocation, UsageError> {
    let mut profiles = Vec::new();
    let mut params = Vec::new();
    let mut mode = None;
    let mut verbose = false;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].to_string_lossy();
        if a == "--" {
            i += 1;
            break;
        }
        if !a.starts_with('-') || a == "-" {
            break;
        }
        let chars = a[1..].char_indices();
        for (k, c) in chars {
            match c {
                'v' => verbose = true,
                'D' | 'f' | 'n' | 'p' | 'M' => {
                    let rest = &a[1 + k + c.len_utf8()..];
                    let value = if !rest.is_empty() {
                        rest.to_string()
                    } else {
                        i += 1;
                        match args.get(i) {
                            Some(v) => v.to_string_lossy().into_owned(),
                            None => {
                                return Err(UsageError(format!(
                                    "sandbox-exec: option requires an argument -- {c}\n"
                                )))
                            }
                        }
                    };
                    match c {
                        'D' => match value.split_once('=') {
                            Some((k, v)) => params.push((k.to_string(), v.to_string())),
                            None => return Err(UsageError(String::new())),
                        },
                        'f' => profiles.push(Profile::File(value)),
                        'n' => profiles.push(Profile::Named(value)),
                        'p' => profiles.push(Profile::Text(value)),
                        _ => mode = Some(value),
                    }
                    break;
                }
                other => {
                    return Err(UsageError(format!(
                        "sandbox-exec: illegal option -- {other}\n"
                    )))
                }
            }
        }
        i += 1;
    }
    if profiles.len() != 1 || i >= args.len() {
        return Err(UsageError(String::new()));
    }
    Ok(Invocation {
        profile: profiles.remove(0),
        params,
        mode,
        verbose,
        command: args[i..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(a: &[&str]) -> Result<Invocation, UsageError> {
        parse(&a.iter().map(OsString::from).collect::<Vec<_>>())
    }

    #[test]
    fn nix_argv() {
        let i = p(&[
            "-f",
            "/tmp/b/.sandbox.sb",
            "-D",
            "_GLOBAL_TMP_DIR=/tmp",
            "-D",
            "_ALLOW_LOCAL_NETWORKING=1",
            "/nix/store/x-bash/bin/bash",
            "-e",
            "builder.sh",
        ])
        .unwrap();
        assert_eq!(i.profile, Profile::File("/tmp/b/.sandbox.sb".into()));
        assert_eq!(
            i.params,
            vec![
                ("_GLOBAL_TMP_DIR".into(), "/tmp".into()),
                ("_ALLOW_LOCAL_NETWORKING".into(), "1".into())
            ]
        );
        assert_eq!(
            i.command,
            vec!["/nix/store/x-bash/bin/bash", "-e", "builder.sh"]
        );
    }

    #[test]
    fn getopt_details() {
        assert_eq!(p(&["-pX=1", "--", "-cmd"]).unwrap().command, vec!["-cmd"]);
        assert_eq!(
            p(&["-vn", "no-network", "true"]).unwrap().profile,
            Profile::Named("no-network".into())
        );
        assert_eq!(
            p(&["-DK=a=b", "-p", "x", "c"]).unwrap().params,
            vec![("K".into(), "a=b".into())]
        );
        assert_eq!(
            p(&["-h"]).unwrap_err().0,
            "sandbox-exec: illegal option -- h\n"
        );
        assert_eq!(
            p(&["-f"]).unwrap_err().0,
            "sandbox-exec: option requires an argument -- f\n"
        );
        assert!(p(&["-f", "a", "-p", "b", "cmd"]).is_err());
        assert!(p(&["-f", "a"]).is_err());
        assert!(p(&["cmd"]).is_err());
        assert!(p(&["-D", "novalue", "-p", "x", "cmd"]).is_err());
    }
}
