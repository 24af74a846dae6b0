//! `build-hook --nix-conf`: the nix.conf lines that send darwin builds
//! through this program, the way users configure Nix.
//!
//! Two routes. `build-hook = <this program>` is the fastest (no Nix
//! process per build besides the hook), but Nix 2.25 to 2.33 reset it to
//! their own at start-up unless it came on the command line. A `builders`
//! entry `ssh://localhost?remote-program=<this program>` works on every Nix
//! from 2.8: Nix's own build hook runs the program directly (no SSH) as
//! `<program> --serve --write`. [`Route::Auto`] picks the first where the
//! Nix at hand honours it.

use std::path::Path;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::store::NixVersion;

/// Characters a `builders` entry cannot carry as they are: field and entry
/// separators, comments, and what URL query syntax gives a meaning to.
fn url_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' | b',' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// What goes after `remote-program=`: the program, and `--config FILE`
/// when the configuration is not at the default path. Nix splits the value
/// into words on whitespace (Nix 2.8 hands it to `bash -c`), so neither
/// path may contain whitespace or shell quoting; `Err` names the one that
/// does.
pub fn remote_program(program: &Path, config: Option<&Path>) -> Result<String> {
    Ok(words(program, config)?
        .iter()
        .map(|w| url_escape(w))
        .collect::<Vec<_>>()
        .join("%20"))
}

/// The program and its `--config FILE`, checked to survive Nix's
/// splitting into words.
fn words(program: &Path, config: Option<&Path>) -> Result<Vec<String>> {
    let mut words = vec![program.display().to_string()];
    if let Some(c) = config {
        words.push("--config".into());
        words.push(c.display().to_string());
    }
    if let Some(bad) = words.iter().find(|w| {
        w.chars()
            .any(|c| c.is_whitespace() || "'\"\\$`;&|<>()*?[]#~".contains(c))
    }) {
        return Err(Error::Unsplittable(bad.clone()));
    }
    Ok(words)
}

/// The `builders` entry: URI, systems, no SSH key, jobs, speed factor 1,
/// supported features.
pub fn builders_entry(
    cfg: &Config,
    program: &Path,
    config: Option<&Path>,
    store: Option<&str>,
) -> Result<String> {
    let mut uri = format!(
        "ssh://localhost?remote-program={}",
        remote_program(program, config)?
    );
    if let Some(s) = store {
        uri.push_str(&format!("&remote-store={}", url_escape(s)));
    }
    let features = if cfg.supported_features.is_empty() {
        "-".to_string()
    } else {
        cfg.supported_features.join(",")
    };
    Ok(format!(
        "{uri} {} - {} 1 {features}",
        cfg.systems.join(","),
        cfg.max_jobs
    ))
}

/// Which lines to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Route {
    /// `build-hook` where this Nix honours it from nix.conf, else `builders`.
    Auto,
    /// `build-hook = ...` (the hook protocol).
    Hook,
    /// `builders = ssh://localhost?remote-program=...` (`--serve`).
    Serve,
}

/// Whether `v` keeps a `build-hook` line from nix.conf that this program
/// can serve (Nix 2.25 to 2.33 replace it at start-up; Lix 2.94 speaks
/// another hook protocol), and can carry `--config FILE` in it (Nix 2.12
/// and later split the setting into words).
pub fn honours_hook_line(v: &NixVersion, with_args: bool) -> bool {
    let at = (v.major, v.minor);
    // Lix keeps the setting, but 2.94 replaced the hook protocol.
    let kept = if v.lix {
        at < (2, 94)
    } else {
        !((2, 25)..(2, 34)).contains(&at)
    };
    kept && (!with_args || at >= (2, 12))
}

/// The lines for nix.conf, with a comment naming the Nix they were made
/// for.
pub fn lines(
    cfg: &Config,
    program: &Path,
    config: Option<&Path>,
    store: Option<&str>,
    nix: Option<(&Path, &NixVersion)>,
    route: Route,
) -> Result<String> {
    let hook = match route {
        Route::Hook => {
            if let Some((path, v)) = nix.filter(|(_, v)| !honours_hook_line(v, config.is_some())) {
                return Err(Error::HookIgnored {
                    path: path.display().to_string(),
                    major: v.major,
                    minor: v.minor,
                    why: if honours_hook_line(v, false) {
                        "takes no arguments in build-hook (--config needs Nix 2.12)"
                    } else {
                        "replaces a build-hook line from nix.conf with its own"
                    },
                });
            }
            true
        }
        Route::Serve => false,
        // No Nix found: the route every Nix honours.
        Route::Auto => nix.is_some_and(|(_, v)| honours_hook_line(v, config.is_some())),
    };
    let mut out = String::new();
    out.push_str(if hook {
        "# darling-nix: x86_64-darwin builds through build-hook (the hook protocol)\n"
    } else {
        "# darling-nix: x86_64-darwin builds through build-hook --serve\n"
    });
    if let Some((path, v)) = nix {
        let name = if v.lix { "Lix" } else { "Nix" };
        let note = if hook {
            "Nix 2.25 to 2.33 ignore a build-hook line: use --route serve there"
        } else {
            "the same lines serve Nix 2.8 and later"
        };
        out.push_str(&format!(
            "# for {name} {}.{} ({}); {note}\n",
            v.major,
            v.minor,
            path.display()
        ));
    }
    if hook {
        out.push_str(&format!(
            "build-hook = {}\n",
            words(program, config)?.join(" ")
        ));
    } else {
        out.push_str(&format!(
            "builders = {}\n",
            builders_entry(cfg, program, config, store)?
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_is_one_field_per_column_and_escapes_what_nix_would_split() {
        let cfg = Config::default();
        let e = builders_entry(
            &cfg,
            Path::new("/opt/dn/bin/build-hook"),
            Some(Path::new("/etc/darling-nix/hook.toml")),
            None,
        )
        .unwrap();
        assert_eq!(
            e,
            "ssh://localhost?remote-program=/opt/dn/bin/build-hook%20--config%20/etc/darling-nix/hook.toml x86_64-darwin - 1 1 big-parallel"
        );
        assert_eq!(e.split(' ').count(), 6);
        let chroot = builders_entry(&cfg, Path::new("/h"), None, Some("/tmp/s;x")).unwrap();
        assert!(chroot.starts_with("ssh://localhost?remote-program=/h&remote-store=/tmp/s%3Bx "));
        let spaced = builders_entry(
            &cfg,
            Path::new("/h"),
            Some(Path::new("/my hook.toml")),
            None,
        );
        assert!(
            matches!(&spaced, Err(Error::Unsplittable(p)) if p == "/my hook.toml"),
            "{spaced:?}"
        );
    }
}
