//! Facts about Nix binary tarballs: their names and their `.reginfo`.

use crate::error::Error;

/// A tarball URL as messages show it: its userinfo (`user:token@`) and its
/// query and fragment (`?token=...`) replaced by `<redacted>`. A path, or
/// a URL without them, is returned as it is.
pub fn redact_url(s: &str) -> String {
    let Some((scheme, rest)) = s.split_once("://") else {
        return s.to_string();
    };
    let (before, tail) = match rest.find(['?', '#']) {
        Some(i) => (&rest[..i], format!("{}<redacted>", &rest[i..i + 1])),
        None => (rest, String::new()),
    };
    let (authority, path) = before.split_at(before.find('/').unwrap_or(before.len()));
    let host = match authority.rfind('@') {
        Some(i) => format!("<redacted>@{}", &authority[i + 1..]),
        None => authority.to_string(),
    };
    format!("{scheme}://{host}{path}{tail}")
}

/// The file name a tarball URL ends in, without its query or fragment
/// (`https://h/d/nix-2.34.1-x86_64-darwin.tar.xz?t=x` →
/// `nix-2.34.1-x86_64-darwin.tar.xz`); `nix.tar.xz` when it ends in none.
pub fn url_file_name(url: &str) -> &str {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let path = path.split_once("://").map_or(path, |(_, rest)| rest);
    match path.split_once('/') {
        Some((_, p)) => p.rsplit('/').next().filter(|n| !n.is_empty()),
        None => None,
    }
    .unwrap_or("nix.tar.xz")
}

/// `nix-2.34.1-x86_64-darwin.tar.xz` → ("2.34.1", "x86_64-darwin").
pub fn tarball_version(name: &str) -> Option<(String, String)> {
    let base = name.rsplit('/').next()?;
    let rest = base.strip_prefix("nix-")?;
    let stem = rest.split(".tar").next()?;
    let (ver, sys) = stem.split_once('-')?;
    Some((ver.to_string(), sys.to_string()))
}

/// Refuses tarballs Darling cannot use; `Ok(Some(warning))` when the name
/// does not tell.
pub fn version_gate(name: &str) -> Result<Option<String>, Error> {
    let Some((version, system)) = tarball_version(name) else {
        return Ok(Some(format!(
            "cannot tell the Nix version from `{name}`; expected nix-<version>-x86_64-darwin.tar.*"
        )));
    };
    if system != "x86_64-darwin" {
        return Err(Error::WrongSystem {
            name: name.into(),
            system,
        });
    }
    let mut n = version.split('.').filter_map(|p| p.parse::<u32>().ok());
    let v = (n.next().unwrap_or(0), n.next().unwrap_or(0));
    if v >= (2, 35) {
        return Err(Error::TooNew { version });
    }
    Ok(None)
}

/// The store paths of a `.reginfo` (`nix-store --dump-db` blocks: path,
/// hash, size, deriver, number of references, the references).
pub fn reginfo_paths(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 4 < lines.len() {
        out.push(lines[i].to_string());
        let n: usize = lines[i + 4].trim().parse().unwrap_or(0);
        i += 5 + n;
    }
    out
}

/// Whether a store path is Nix itself (`<hash>-nix-<digit>…`).
pub fn is_nix_path(p: &str) -> bool {
    let name = p.rsplit('/').next().unwrap_or("");
    name.get(33..)
        .and_then(|n| n.strip_prefix("nix-"))
        .is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_gates() {
        assert_eq!(
            tarball_version("https://x/nix-2.34.1-x86_64-darwin.tar.xz"),
            Some(("2.34.1".into(), "x86_64-darwin".into()))
        );
        assert!(version_gate("nix-2.35.0-x86_64-darwin.tar.xz")
            .unwrap_err()
            .to_string()
            .contains("macOS older than 14"));
        assert!(matches!(
            version_gate("nix-2.34.1-aarch64-darwin.tar.xz"),
            Err(Error::WrongSystem { .. })
        ));
        assert_eq!(
            version_gate("nix-2.24.9-x86_64-darwin.tar.xz").unwrap(),
            None
        );
        assert!(version_gate("mynix.tar").unwrap().is_some());
    }

    #[test]
    fn urls_are_shown_without_their_secrets() {
        for (url, shown, name) in [
            (
                "https://user:pw@h:8/d/nix-2.34.1-x86_64-darwin.tar.xz?token=T&x=1#f",
                "https://<redacted>@h:8/d/nix-2.34.1-x86_64-darwin.tar.xz?<redacted>",
                "nix-2.34.1-x86_64-darwin.tar.xz",
            ),
            (
                "https://h/nix-2.34.1-x86_64-darwin.tar.xz",
                "https://h/nix-2.34.1-x86_64-darwin.tar.xz",
                "nix-2.34.1-x86_64-darwin.tar.xz",
            ),
            (
                "http://tok@h/a/b.tar.xz#frag/x",
                "http://<redacted>@h/a/b.tar.xz#<redacted>",
                "b.tar.xz",
            ),
            ("https://h?x=/y", "https://h?<redacted>", "nix.tar.xz"),
            ("https://h/", "https://h/", "nix.tar.xz"),
            ("/tmp/nix-2.8.0.tar", "/tmp/nix-2.8.0.tar", "nix-2.8.0.tar"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
            if url.contains("://") {
                assert_eq!(url_file_name(url), name, "{url}");
            }
        }
    }

    #[test]
    fn reginfo_blocks() {
        let t = "/nix/store/a\nh\n1\n\n1\n/nix/store/b\n/nix/store/b\nh\n1\n\n0\n";
        assert_eq!(reginfo_paths(t), vec!["/nix/store/a", "/nix/store/b"]);
        assert!(is_nix_path(
            "/nix/store/00000000000000000000000000000000-nix-2.8.0"
        ));
        assert!(!is_nix_path(
            "/nix/store/00000000000000000000000000000000-nix-shell"
        ));
    }
}
