//! `build-hook --nix-conf`: the nix.conf lines that send darwin builds
//! through this program, the way users configure Nix.
//!
//! One route works on every Nix from 2.8 on: Nix's own build hook with a
//! `builders` entry `ssh://localhost?remote-program=<this program>`, which
//! Nix runs directly (no SSH) as `<program> --serve --write`. A
//! `build-hook = ...` line would be simpler, but Nix 2.25 to 2.33 reset it
//! to their own at start-up unless it came on the command line.

use std::path::Path;

use crate::config::Config;
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
pub fn remote_program(program: &Path, config: Option<&Path>) -> Result<String, String> {
    let mut words = vec![program.display().to_string()];
    if let Some(c) = config {
        words.push("--config".into());
        words.push(c.display().to_string());
    }
    if let Some(bad) = words.iter().find(|w| {
        w.chars()
            .any(|c| c.is_whitespace() || "'\"\\$`;&|<>()*?[]#~".contains(c))
    }) {
        return Err(format!(
            "`{bad}` cannot go into a builders entry (Nix splits remote-program on spaces and Nix 2.8 runs it through bash): use a path without spaces or shell characters"
        ));
    }
    Ok(words
        .iter()
        .map(|w| url_escape(w))
        .collect::<Vec<_>>()
        .join("%20"))
}

/// The `builders` entry: URI, systems, no SSH key, jobs, speed factor 1,
/// supported features.
pub fn builders_entry(
    cfg: &Config,
    program: &Path,
    config: Option<&Path>,
    store: Option<&str>,
) -> Result<String, String> {
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

/// The lines for nix.conf, with a comment naming the Nix they were made
/// for.
pub fn lines(
    cfg: &Config,
    program: &Path,
    config: Option<&Path>,
    store: Option<&str>,
    nix: Option<(&Path, &NixVersion)>,
) -> Result<String, String> {
    let mut out = String::new();
    out.push_str("# darling-nix: x86_64-darwin builds through build-hook --serve\n");
    if let Some((path, v)) = nix {
        let name = if v.lix { "Lix" } else { "Nix" };
        out.push_str(&format!(
            "# for {name} {}.{} ({}); the same lines serve Nix 2.8 and later\n",
            v.major,
            v.minor,
            path.display()
        ));
    }
    out.push_str(&format!(
        "builders = {}\n",
        builders_entry(cfg, program, config, store)?
    ));
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
        assert!(spaced.unwrap_err().contains("`/my hook.toml`"));
    }
}
