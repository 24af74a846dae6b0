//! The hook's configuration: built-in defaults, then a TOML file, then
//! `DARLING_NIX_HOOK_*` environment variables, then command-line flags.
//! (Nix 2.8 passes no extra arguments to a hook, so the file and the
//! environment are how most installations configure it.)

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// The configuration file read when neither `--config` nor
/// [`CONFIG_ENV`] names one; skipped when it does not exist.
pub const DEFAULT_CONFIG: &str = "/etc/darling-nix/build-hook.toml";
/// The environment variable naming the configuration file when `--config`
/// is not given. A file named this way must exist.
pub const CONFIG_ENV: &str = "DARLING_NIX_HOOK_CONFIG";
/// Prefix of the variables that set one key each: `DARLING_NIX_HOOK_<KEY>`,
/// the key upper-cased with `-` as `_` (`DARLING_NIX_HOOK_MAX_JOBS`). Any
/// other variable with this prefix but [`CONFIG_ENV`] is an error.
pub const ENV_PREFIX: &str = "DARLING_NIX_HOOK_";

/// How builders are started: the `runner` key, `darling` (the default) or
/// `chroot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LauncherKind {
    /// Production: the configured Darling prefix (its job server, else
    /// `darling shell`).
    Darling,
    /// Tests and fixtures: run the builder natively, chrooted into the
    /// prefix directory (needs root).
    Chroot,
}

pub use nixstore::store::Register;

/// The hook's settings once every layer is applied ([`Config::load`], then
/// `--set`). Each field names its key; the defaults are
/// [`Config::default`]'s. In environment variables and `--set`, list keys
/// take words separated by commas or whitespace (`forward`: whitespace
/// only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `systems`: the Nix system types the hook builds; a `try` for any
    /// other is declined (or forwarded). Default `["x86_64-darwin"]`; must
    /// not be empty. Also the systems of the `builders` line `--nix-conf`
    /// prints.
    pub systems: Vec<String>,
    /// `supported-features`: the `requiredSystemFeatures` the hook
    /// satisfies; a derivation that needs any other is declined
    /// (`ca-derivations` always is). Default `["big-parallel"]`. Also the
    /// features of the printed `builders` line.
    pub supported_features: Vec<String>,
    /// `max-jobs`: how many hook-route builds run at once, as lock files in
    /// `<state-dir>/slots/` shared by every hook process on the machine;
    /// 1 to 4096, default 1. Also the job count of the printed `builders`
    /// line (on that route Nix itself limits the builds).
    pub max_jobs: u32,
    /// Builds accepted to wait for a busy slot before Nix is told to
    /// postpone (see `slots`).
    pub queue: Option<u32>,
    /// `state-dir`: the hook's own state: slot and queue locks (`slots/`,
    /// `queue/`), the job servers' files (`jobserver/`) and the cached Nix
    /// version. Default `/var/lib/darling-nix/build-hook` as root, else
    /// `$HOME/.local/state/darling-nix/build-hook`; must be absolute.
    pub state_dir: PathBuf,
    /// `runner`: how builders are started. Default
    /// [`LauncherKind::Darling`].
    pub runner: LauncherKind,
    /// `prefix`: the Darling prefix builders run in (`chroot` runner: the
    /// directory to chroot into). Default `$DPREFIX`, else
    /// `$HOME/.darling`; must be absolute.
    pub prefix: PathBuf,
    /// `darling`: the Darling launcher, a path or a name looked up on
    /// `PATH`. Default `darling`.
    pub darling: String,
    /// `darling` runner: start builders through the prefix's job server
    /// (one long-lived Darling shell) instead of one `darling shell` each.
    pub job_server: bool,
    /// `build-dir`: the host directory build directories are made in, for
    /// the `darling` runner (a directory outside the prefix is seen by the
    /// builder under `/Volumes/SystemRoot`); the `chroot` runner uses
    /// `<prefix>/tmp`. Default `/tmp`; must be absolute.
    pub build_dir: PathBuf,
    /// `label`: the machine name sent after `# accept`, which Nix shows as
    /// `building '…' on '<label>'`, also named in build failure messages.
    /// Default `darling`.
    pub label: String,
    /// `forward`: the argv of another build hook (`["nix",
    /// "__build-remote"]`) that is asked about every request this hook
    /// declines; Nix's verbosity is appended. Empty (the default): decline.
    pub forward: Vec<String>,
    /// `register`: how direct mode registers the outputs in Nix's store.
    /// Default `auto`.
    pub register: Register,
    /// `nix-store`: the `nix-store` used to register outputs and to learn
    /// Nix's version. None (the default, or an empty value): the one next
    /// to the executable of the Nix that started the hook, else the one on
    /// `PATH`.
    pub nix_store: Option<PathBuf>,
    /// `darling` runner: the interposing xnu-fixes dylib, a path inside the
    /// prefix, loaded into every builder (`DYLD_INSERT_LIBRARIES`) when it
    /// is installed there; None (`interpose = "off"`): never.
    pub interpose: Option<String>,
    /// Where this configuration came from, for messages.
    pub source: Vec<String>,
}

/// Where nix-install and the flake put libxnu_fixes.dylib in a prefix.
pub const DEFAULT_INTERPOSE: &str = "/usr/local/lib/libxnu_fixes.dylib";

/// The file format; every key optional, unknown keys rejected.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct FileConfig {
    systems: Option<Vec<String>>,
    supported_features: Option<Vec<String>>,
    max_jobs: Option<u32>,
    queue: Option<u32>,
    state_dir: Option<PathBuf>,
    runner: Option<String>,
    prefix: Option<PathBuf>,
    darling: Option<String>,
    job_server: Option<bool>,
    build_dir: Option<PathBuf>,
    label: Option<String>,
    forward: Option<Vec<String>>,
    register: Option<String>,
    nix_store: Option<PathBuf>,
    mode: Option<String>,
    interpose: Option<String>,
}

/// Every key the file, the environment and `--set` accept.
pub const KEYS: &[&str] = &[
    "systems",
    "supported-features",
    "max-jobs",
    "queue",
    "state-dir",
    "runner",
    "prefix",
    "darling",
    "job-server",
    "build-dir",
    "label",
    "forward",
    "register",
    "nix-store",
    "mode",
    "interpose",
];

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"))
}

/// The `DARLING_NIX_HOOK_*` variables of this process. Other variables
/// are never read, so one that is not UTF-8 cannot stop the hook; one of
/// ours that is not is a configuration error naming it (not its value).
fn env_settings() -> Result<Vec<(String, String)>> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v)))
        .filter(|(k, _)| k.starts_with(ENV_PREFIX))
        .map(|(k, v)| match v.into_string() {
            Ok(v) => Ok((k, v)),
            Err(_) => Err(Error::BadValue {
                origin: format!("${k}"),
                key: k
                    .trim_start_matches(ENV_PREFIX)
                    .to_ascii_lowercase()
                    .replace('_', "-"),
                value: String::new(),
                msg: "not valid UTF-8".into(),
            }),
        })
        .collect()
}

impl Default for Config {
    fn default() -> Self {
        let root = nix::unistd::geteuid().is_root();
        let state_dir = if root {
            PathBuf::from("/var/lib/darling-nix/build-hook")
        } else {
            home().join(".local/state/darling-nix/build-hook")
        };
        let prefix = std::env::var_os("DPREFIX")
            .map(PathBuf::from)
            .unwrap_or_else(|| home().join(".darling"));
        Config {
            systems: vec!["x86_64-darwin".into()],
            supported_features: vec!["big-parallel".into()],
            max_jobs: 1,
            queue: None,
            state_dir,
            runner: LauncherKind::Darling,
            prefix,
            darling: "darling".into(),
            job_server: true,
            build_dir: PathBuf::from("/tmp"),
            label: "darling".into(),
            forward: Vec::new(),
            register: Register::Auto,
            nix_store: None,
            interpose: Some(DEFAULT_INTERPOSE.into()),
            source: vec!["defaults".into()],
        }
    }
}

fn split_list(v: &str) -> Vec<String> {
    v.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

impl fmt::Display for LauncherKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LauncherKind::Darling => "darling",
            LauncherKind::Chroot => "chroot",
        })
    }
}

impl Config {
    /// Queue places in front of the slots: by default 8 per slot and at
    /// least 32, at most 256. A waiting build costs Nix a hook process and
    /// four fds; a postponed one costs a whole `build-poll-interval`.
    pub fn queue_depth(&self) -> u32 {
        self.queue.unwrap_or((self.max_jobs * 8).clamp(32, 256))
    }

    /// Loads defaults, the file (explicit path, `$DARLING_NIX_HOOK_CONFIG`,
    /// or the default path if it exists), then the environment.
    pub fn load(explicit: Option<&Path>) -> Result<Config> {
        let mut c = Config::default();
        let from_env = std::env::var_os(CONFIG_ENV).map(PathBuf::from);
        match explicit.map(Path::to_path_buf).or(from_env) {
            Some(p) => c.apply_file(&p)?,
            None if Path::new(DEFAULT_CONFIG).exists() => {
                c.apply_file(Path::new(DEFAULT_CONFIG))?
            }
            None => {}
        }
        c.apply_env(env_settings()?)?;
        Ok(c)
    }

    /// Applies a TOML file over the current values (keys it lacks keep
    /// theirs) and adds it to [`Config::source`]. Errors: [`Error::ConfigFile`]
    /// when it cannot be read or parsed, unknown keys included;
    /// [`Error::BadValue`] for a value its key cannot take.
    pub fn apply_file(&mut self, path: &Path) -> Result<()> {
        let err = |msg: String| Error::ConfigFile {
            path: path.display().to_string(),
            msg,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let f: FileConfig = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
        let origin = path.display().to_string();
        let set_str = |c: &mut Config, key: &str, v: Option<String>| match v {
            Some(v) => c.set(&origin, key, &v),
            None => Ok(()),
        };
        if let Some(v) = f.systems {
            self.systems = v;
        }
        if let Some(v) = f.supported_features {
            self.supported_features = v;
        }
        if let Some(v) = f.max_jobs {
            self.set(&origin, "max-jobs", &v.to_string())?;
        }
        if let Some(v) = f.queue {
            self.set(&origin, "queue", &v.to_string())?;
        }
        if let Some(v) = f.state_dir {
            self.state_dir = v;
        }
        set_str(self, "runner", f.runner)?;
        if let Some(v) = f.prefix {
            self.prefix = v;
        }
        if let Some(v) = f.darling {
            self.darling = v;
        }
        if let Some(v) = f.job_server {
            self.job_server = v;
        }
        if let Some(v) = f.build_dir {
            self.build_dir = v;
        }
        if let Some(v) = f.label {
            self.label = v;
        }
        if let Some(v) = f.forward {
            self.forward = v;
        }
        set_str(self, "register", f.register)?;
        if let Some(v) = f.nix_store {
            self.nix_store = Some(v);
        }
        set_str(self, "mode", f.mode)?;
        set_str(self, "interpose", f.interpose)?;
        self.source.push(origin);
        Ok(())
    }

    /// Applies `DARLING_NIX_HOOK_<KEY>` variables (key upper-cased, dashes
    /// as underscores). Unknown variables with the prefix are errors, so a
    /// typo does not pass silently.
    pub fn apply_env(&mut self, vars: impl IntoIterator<Item = (String, String)>) -> Result<()> {
        for (k, v) in vars {
            let Some(rest) = k.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if rest == "CONFIG" {
                continue;
            }
            let key = rest.to_ascii_lowercase().replace('_', "-");
            self.set(&format!("${k}"), &key, &v)?;
            self.source.push(format!("${k}"));
        }
        Ok(())
    }

    /// Sets one key from its text form (environment, `--set`, file enums).
    pub fn set(&mut self, origin: &str, key: &str, value: &str) -> Result<()> {
        let bad = |msg: &str| Error::BadValue {
            origin: origin.into(),
            key: key.into(),
            value: value.into(),
            msg: msg.into(),
        };
        match key {
            "systems" => self.systems = split_list(value),
            "supported-features" => self.supported_features = split_list(value),
            "max-jobs" => {
                self.max_jobs = value
                    .trim()
                    .parse()
                    .ok()
                    .filter(|n| (1..=4096).contains(n))
                    .ok_or_else(|| bad("expected a whole number from 1 to 4096"))?
            }
            "queue" => {
                self.queue = Some(
                    value
                        .trim()
                        .parse()
                        .ok()
                        .filter(|n| *n <= 4096)
                        .ok_or_else(|| bad("expected a whole number from 0 to 4096"))?,
                )
            }
            "state-dir" => self.state_dir = PathBuf::from(value),
            "runner" => {
                self.runner = match value {
                    "darling" => LauncherKind::Darling,
                    "chroot" => LauncherKind::Chroot,
                    _ => return Err(bad("expected `darling` or `chroot`")),
                }
            }
            "prefix" => self.prefix = PathBuf::from(value),
            "darling" => self.darling = value.into(),
            "job-server" => {
                self.job_server = match value {
                    "true" | "1" | "yes" => true,
                    "false" | "0" | "no" => false,
                    _ => return Err(bad("expected `true` or `false`")),
                }
            }
            "interpose" => {
                self.interpose = match value.trim() {
                    "off" | "false" | "no" => None,
                    p if p.starts_with('/') && !p.contains(':') => Some(p.to_string()),
                    _ => {
                        return Err(bad(
                            "expected `off` or an absolute path inside the prefix (no `:`)",
                        ))
                    }
                }
            }
            "build-dir" => self.build_dir = PathBuf::from(value),
            "label" => self.label = value.into(),
            "forward" => self.forward = value.split_whitespace().map(str::to_string).collect(),
            "register" => {
                self.register = match value {
                    "auto" => Register::Auto,
                    "import" => Register::Import,
                    "register-validity" => Register::RegisterValidity,
                    "db" => Register::Db,
                    _ => {
                        return Err(bad(
                            "expected `auto`, `db`, `import` or `register-validity`",
                        ))
                    }
                }
            }
            "nix-store" => {
                self.nix_store = if value.is_empty() {
                    None
                } else {
                    Some(PathBuf::from(value))
                }
            }
            "mode" => {
                if value != "direct" {
                    return Err(bad(
                        "only `direct` mode (a /nix/store shared with the prefix) is implemented",
                    ));
                }
            }
            _ => {
                return Err(Error::UnknownKey {
                    origin: origin.into(),
                    key: key.into(),
                })
            }
        }
        Ok(())
    }

    /// Checks relations between settings that single values cannot show.
    pub fn validate(&self) -> Result<()> {
        if self.systems.is_empty() {
            return Err(Error::InvalidConfig(
                "`systems` is empty: the hook would decline everything".into(),
            ));
        }
        for (name, p) in [
            ("state-dir", &self.state_dir),
            ("prefix", &self.prefix),
            ("build-dir", &self.build_dir),
        ] {
            if !p.is_absolute() {
                return Err(Error::InvalidConfig(format!(
                    "`{name}` must be an absolute path, not `{}`",
                    p.display()
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_apply_in_order() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("c.toml");
        std::fs::write(&f, "max-jobs = 3\nrunner = \"chroot\"\nprefix = \"/p\"\nsystems = [\"x86_64-darwin\", \"aarch64-darwin\"]\n").unwrap();
        let mut c = Config::default();
        c.apply_file(&f).unwrap();
        assert_eq!(c.max_jobs, 3);
        assert_eq!(c.runner, LauncherKind::Chroot);
        assert_eq!(c.systems.len(), 2);
        c.apply_env([
            ("DARLING_NIX_HOOK_MAX_JOBS".to_string(), "5".to_string()),
            (
                "DARLING_NIX_HOOK_SUPPORTED_FEATURES".into(),
                "kvm, big-parallel".into(),
            ),
            ("UNRELATED".into(), "x".into()),
        ])
        .unwrap();
        assert_eq!(c.max_jobs, 5);
        assert_eq!(c.supported_features, vec!["kvm", "big-parallel"]);
        c.validate().unwrap();
    }

    #[test]
    fn bad_input_is_named() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("c.toml");
        std::fs::write(&f, "max-jobz = 3\n").unwrap();
        let e = Config::default().apply_file(&f).unwrap_err().to_string();
        assert!(e.contains("max-jobz"), "{e}");
        let e = Config::default()
            .apply_env([("DARLING_NIX_HOOK_MAX_JOBS".to_string(), "0".to_string())])
            .unwrap_err()
            .to_string();
        assert!(e.contains("MAX_JOBS") && e.contains("1 to 4096"), "{e}");
        let e = Config::default()
            .set("--set", "mode", "copy")
            .unwrap_err()
            .to_string();
        assert!(e.contains("direct"), "{e}");
    }
}
