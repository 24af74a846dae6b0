//! Facts about Nix binary tarballs: their names and their `.reginfo`.

use crate::error::Error;

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
