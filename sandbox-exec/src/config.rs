//! How hard to enforce, and the paths Darling itself needs, from
//! `<prefix>/etc/darling-nix/sandbox-exec.toml` (or
//! `/etc/darling-nix/sandbox-exec.toml` outside a prefix). Never from the
//! build's environment: Nix runs sandbox-exec with the builder's.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// How much of the profile is enforced: the `mode` key of the configuration
/// file, overridden by `-M`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Parse and check the profile, enforce nothing.
    Off,
    /// Enforce what Linux can; stay quiet about the rest unless `-v`.
    BestEffort,
    /// Refuse (exit 71) a profile that cannot be enforced in full.
    Strict,
}

impl Mode {
    /// The mode spelled exactly `off`, `best-effort` or `strict` (in the
    /// file and after `-M` alike); None for anything else.
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "off" => Some(Mode::Off),
            "best-effort" => Some(Mode::BestEffort),
            "strict" => Some(Mode::Strict),
            _ => None,
        }
    }
}

/// A configuration file that exists but cannot be used. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but could not be read (a missing file is no error:
    /// the defaults apply).
    #[error("{}: {source}", path.display())]
    Read {
        /// The configuration file.
        path: PathBuf,
        /// Why reading it failed.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML, or has an unknown key or a value of the
    /// wrong type.
    #[error("{}: {source}", path.display())]
    Parse {
        /// The configuration file.
        path: PathBuf,
        /// The TOML parser's error, which locates the problem in the file.
        #[source]
        source: toml::de::Error,
    },
    /// The `mode` key names no [`Mode`].
    #[error("{}: mode `{mode}`: expected off, best-effort or strict", path.display())]
    Mode {
        /// The configuration file.
        path: PathBuf,
        /// The value as written.
        mode: String,
    },
}

/// What sandbox-exec runs with: [`Config::defaults`], then the keys the
/// configuration file sets (`mode`, `verbose`, `implicit-read`,
/// `implicit-exec`, `implicit-write`, `mldr`), then `-M` and `-v`.
///
/// The `implicit_*` paths are Mac paths inside a prefix (host paths outside
/// one). They get Landlock rules whatever the profile says, but only for
/// the access classes the profile restricts at all.
#[derive(Debug, Clone)]
pub struct Config {
    /// How hard to enforce; best-effort unless configured.
    pub mode: Mode,
    /// Report on stderr what the profile says that is not enforced as
    /// written (`not enforced: …` lines) and rule paths that do not exist
    /// (`note: …` lines): the `verbose` key, or `-v`.
    pub verbose: bool,
    /// Paths kept readable and executable (Darling's libraries, loader and
    /// devices, which every program in the prefix needs: it has no dyld
    /// shared cache).
    pub implicit_read: Vec<String>,
    /// Paths kept readable and executable as well; empty by default.
    pub implicit_exec: Vec<String>,
    /// Paths kept readable and writable: `/dev/null`, `/dev/zero` and
    /// `/dev/tty` by default inside a prefix.
    pub implicit_write: Vec<String>,
    /// Darling's Mach-O loader (host path), for handing Mach-O programs over.
    pub mldr: Option<PathBuf>,
    /// Darling's installed tree (host paths): the prefix overlay's lower
    /// directories, which mldr reads dyld and the system libraries from
    /// wherever Darling was installed. Kept readable and executable.
    pub darling_tree: Vec<PathBuf>,
    /// The configuration file that was read; None when there was none and
    /// only the defaults apply.
    pub source: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct File {
    mode: Option<String>,
    verbose: Option<bool>,
    implicit_read: Option<Vec<String>>,
    implicit_exec: Option<Vec<String>>,
    implicit_write: Option<Vec<String>>,
    mldr: Option<PathBuf>,
}

impl Config {
    /// Defaults: best-effort; inside a Darling prefix, Darling's system
    /// directories stay readable (it has no dyld shared cache).
    pub fn defaults(in_prefix: bool) -> Config {
        let (read, write) = if in_prefix {
            (
                [
                    "/usr/lib",
                    "/System/Library",
                    "/usr/libexec",
                    "/usr/share",
                    "/private/etc",
                    "/dev",
                    "/proc",
                ]
                .map(String::from)
                .into_iter()
                .chain(
                    [
                        // mldr is a Linux program: its loader and C library.
                        "/lib",
                        "/lib64",
                        "/usr/lib",
                        // Darling's installed tree, which mldr reads dyld from.
                        "/usr/local/libexec/darling",
                    ]
                    .map(|host| format!("{}{host}", prefixfs::SYSTEM_ROOT)),
                )
                .collect(),
                ["/dev/null", "/dev/zero", "/dev/tty"]
                    .map(String::from)
                    .to_vec(),
            )
        } else {
            (Vec::new(), Vec::new())
        };
        Config {
            mode: Mode::BestEffort,
            verbose: false,
            implicit_read: read,
            implicit_exec: Vec::new(),
            implicit_write: write,
            mldr: None,
            darling_tree: Vec::new(),
            source: None,
        }
    }

    /// Reads the file if it exists. Errors name the file.
    pub fn load(path: &Path, in_prefix: bool) -> Result<Config, ConfigError> {
        let mut c = Config::defaults(in_prefix);
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(c),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let f: File = toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
        if let Some(m) = f.mode {
            c.mode = Mode::parse(&m).ok_or_else(|| ConfigError::Mode {
                path: path.to_path_buf(),
                mode: m.clone(),
            })?;
        }
        if let Some(v) = f.verbose {
            c.verbose = v;
        }
        if let Some(v) = f.implicit_read {
            c.implicit_read = v;
        }
        if let Some(v) = f.implicit_exec {
            c.implicit_exec = v;
        }
        if let Some(v) = f.implicit_write {
            c.implicit_write = v;
        }
        c.mldr = f.mldr;
        c.source = Some(path.to_path_buf());
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_the_file_and_print_as_before() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("sandbox-exec.toml");
        std::fs::write(&f, "mode = \"bogus\"\n").unwrap();
        let e = Config::load(&f, true).unwrap_err();
        assert!(matches!(&e, ConfigError::Mode { path, mode } if *path == f && mode == "bogus"));
        assert_eq!(
            e.to_string(),
            format!(
                "{}: mode `bogus`: expected off, best-effort or strict",
                f.display()
            )
        );

        std::fs::write(&f, "verbose = 3\n").unwrap();
        let e = Config::load(&f, true).unwrap_err();
        let ConfigError::Parse { path, source } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(path, &f);
        assert_eq!(e.to_string(), format!("{}: {source}", f.display()));

        // A directory where the file should be: read error, with errno.
        let e = Config::load(d.path(), true).unwrap_err();
        let ConfigError::Read { source, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(source.raw_os_error(), Some(libc::EISDIR));
        assert_eq!(
            e.to_string(),
            format!("{}: Is a directory (os error 21)", d.path().display())
        );

        // Missing: the defaults.
        let c = Config::load(&d.path().join("none.toml"), false).unwrap();
        assert_eq!(c.mode, Mode::BestEffort);
        assert!(c.source.is_none());
    }
}
