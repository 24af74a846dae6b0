//! Signing outputs as Nix signs what it builds itself: with each key of
//! `secret-key-files`, over the path's fingerprint
//! `1;<path>;sha256:<nix32 NAR hash>;<NAR size>;<references, comma-separated>`.
//! A key file holds `<name>:<base64 of the 64-byte ed25519 key pair>`; a
//! signature is `<name>:<base64 of the 64-byte signature>`.

use std::path::Path;

use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};

use crate::base32;
use crate::error::{Error, Result};
use crate::nar::PathInfo;

/// One key from `secret-key-files`.
pub struct SecretKey {
    name: String,
    key: SigningKey,
}

impl SecretKey {
    /// Reads a key file: `<name>:<base64 of the 64-byte ed25519 key pair>`,
    /// surrounding whitespace ignored. Errors: [`Error::KeyRead`] when it
    /// cannot be read, [`Error::KeyFormat`] when it is not in that form or
    /// not a valid key pair.
    pub fn load(path: &Path) -> Result<SecretKey> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| Error::KeyRead(shown.clone(), e))?;
        let (name, b64) = text
            .trim()
            .split_once(':')
            .ok_or_else(|| Error::KeyFormat(shown.clone()))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| Error::KeyFormat(shown.clone()))?;
        let pair: [u8; 64] = bytes
            .try_into()
            .map_err(|_| Error::KeyFormat(shown.clone()))?;
        let key = SigningKey::from_keypair_bytes(&pair).map_err(|_| Error::KeyFormat(shown))?;
        Ok(SecretKey {
            name: name.to_string(),
            key,
        })
    }

    /// The signature of `path` with `info`.
    pub fn sign(&self, path: &str, info: &PathInfo) -> String {
        let sig = self.key.sign(fingerprint(path, info).as_bytes());
        format!(
            "{}:{}",
            self.name,
            base64::engine::general_purpose::STANDARD.encode(sig.to_bytes())
        )
    }
}

/// What Nix signs for a store path.
pub fn fingerprint(path: &str, info: &PathInfo) -> String {
    let refs: Vec<&str> = info.references.iter().map(String::as_str).collect();
    format!(
        "1;{path};sha256:{};{};{}",
        base32::encode(&info.nar_sha256),
        info.nar_size,
        refs.join(",")
    )
}

/// The keys named by a `secret-key-files` value (whitespace-separated).
pub fn load_all(setting: &str) -> Result<Vec<SecretKey>> {
    setting
        .split_whitespace()
        .map(|p| SecretKey::load(Path::new(p)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_is_nix_s() {
        let info = PathInfo {
            nar_sha256: [0; 32],
            nar_size: 120,
            references: ["/nix/store/b-y".to_string(), "/nix/store/a-x".to_string()]
                .into_iter()
                .collect(),
        };
        assert_eq!(
            fingerprint("/nix/store/a-x", &info),
            format!(
                "1;/nix/store/a-x;sha256:{};120;/nix/store/a-x,/nix/store/b-y",
                "0".repeat(52)
            )
        );
    }

    #[test]
    fn a_bad_key_file_is_named() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("k");
        std::fs::write(&f, "name:notbase64!").unwrap();
        let e = SecretKey::load(&f).err().unwrap().to_string();
        assert!(e.contains("is not `<name>:<base64"), "{e}");
    }
}
