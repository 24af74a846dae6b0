//! fetch-tarball: the Nix binary tarball, a local file or downloaded with
//! curl, checked against its sha256 and Darling's limits.

use std::fs;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use super::{Action, ActionId};
use crate::error::{io_at, Error};
use crate::files::{sha256_file, Changes};
use crate::tarball::{redact_url, url_file_name, version_gate};
use crate::{Cx, Settings};

pub(super) struct FetchTarball;

impl Action for FetchTarball {
    fn id(&self) -> ActionId {
        ActionId::FetchTarball
    }

    /// The tarball as given, a URL without its secrets
    /// ([`redact_url`]).
    fn describe(&self, s: &Settings) -> String {
        format!(
            "get and verify the Nix tarball {}",
            s.tarball
                .as_deref()
                .map_or("(none given)".to_string(), redact_url)
        )
    }

    /// Only needed while the store is not unpacked.
    fn is_done(&self, cx: &Cx) -> Result<bool, Error> {
        super::unpack_store::UnpackStore.is_done(cx)
    }

    fn execute(&self, cx: &mut Cx, changes: &mut Changes) -> Result<(), Error> {
        let src = cx.s.tarball.clone().ok_or(Error::NoTarball)?;
        // Messages, the cache's file names and the receipt never carry a
        // URL's secrets (userinfo, query).
        let shown = redact_url(&src);
        if let Some(warning) = version_gate(&shown)? {
            eprintln!("nix-install: warning: {warning}");
        }
        let local = if src.starts_with("https://") || src.starts_with("http://") {
            if cx.s.sha256.is_none() {
                return Err(Error::NeedsSha256);
            }
            // Named by a hash of the whole URL, and its file name without
            // the query.
            let hash: String = Sha256::digest(src.as_bytes())[..8]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let dest =
                cx.s.cache_dir
                    .join(format!("{hash}-{}", url_file_name(&src)));
            fs::create_dir_all(&cx.s.cache_dir).map_err(io_at(&cx.s.cache_dir))?;
            let partial = dest.with_extension("partial");
            let curl = which::which("curl").map_err(|e| Error::Spawn {
                program: "curl".into(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, e),
            })?;
            // The URL goes to curl on its stdin (`--config -`), not on its
            // command line, which any user can read in /proc. Progress on
            // our stderr; the exit status is ours to judge.
            let args: [&std::ffi::OsStr; 6] = [
                "-fL".as_ref(),
                "--progress-bar".as_ref(),
                "-o".as_ref(),
                partial.as_os_str(),
                "--config".as_ref(),
                "-".as_ref(),
            ];
            let out = duct::cmd(&curl, args)
                .stdin_bytes(curl_config(&src))
                .unchecked()
                .stdout_to_stderr()
                .run()
                .map_err(|source| Error::Spawn {
                    program: curl.display().to_string(),
                    source,
                })?;
            if !out.status.success() {
                let _ = fs::remove_file(&partial);
                return Err(Error::Download {
                    url: shown,
                    status: out.status.to_string(),
                });
            }
            changes.created(cx, &dest)?;
            fs::rename(&partial, &dest).map_err(io_at(&dest))?;
            dest
        } else {
            PathBuf::from(&src)
        };
        if let Some(want) = &cx.s.sha256 {
            let got = sha256_file(&local)?;
            if !got.eq_ignore_ascii_case(want.trim()) {
                return Err(Error::Sha256 {
                    path: local,
                    got,
                    want: want.clone(),
                });
            }
        }
        cx.tarball_local = Some(local);
        Ok(())
    }
}

/// curl's configuration for one URL: `url = "..."`, quoted as curl's config
/// files quote (a backslash before `\` and `"`; a line break, which no URL
/// has, escaped).
fn curl_config(url: &str) -> Vec<u8> {
    let mut quoted = String::new();
    for c in url.chars() {
        match c {
            '\\' | '"' => {
                quoted.push('\\');
                quoted.push(c);
            }
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            c => quoted.push(c),
        }
    }
    format!("url = \"{quoted}\"\n").into_bytes()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_url_is_quoted_for_curl() {
        assert_eq!(
            super::curl_config(r#"https://h/a"b\c?t=1"#),
            br#"url = "https://h/a\"b\\c?t=1"
"#
        );
    }
}
