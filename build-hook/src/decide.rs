//! Which `try` requests are ours. Pure, so it answers in microseconds and
//! is tested without Nix.

use crate::config::Config;
use crate::protocol::TryRequest;

/// Whether a `try` request is one the hook builds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A darwin build we can run: accept if a slot is free, else postpone.
    Ours,
    /// Not for us: asked of the `forward` hook if there is one, else
    /// declined, with the reason logged at Nix's `chatty` verbosity.
    NotOurs(String),
}

/// Ours when the request's system is in `systems`, it does not need
/// `ca-derivations` (direct mode writes to output paths known before the
/// build), and each required feature is in `supported-features`. Slots and
/// `am_willing` are not considered here.
pub fn classify(cfg: &Config, req: &TryRequest) -> Verdict {
    if !cfg.systems.contains(&req.system) {
        return Verdict::NotOurs(format!(
            "system `{}` is not one of {:?}",
            req.system, cfg.systems
        ));
    }
    // Content-addressed outputs have no path before the build; direct mode
    // writes straight to the output path, so it cannot build them.
    if req.required_features.iter().any(|f| f == "ca-derivations") {
        return Verdict::NotOurs(
            "content-addressed derivations are not supported in direct mode".into(),
        );
    }
    let missing: Vec<&str> = req
        .required_features
        .iter()
        .filter(|f| !cfg.supported_features.contains(f))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Verdict::NotOurs(format!("missing required features {missing:?}"));
    }
    Verdict::Ours
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(system: &str, features: &[&str]) -> TryRequest {
        TryRequest {
            am_willing: true,
            system: system.into(),
            drv_path: "/nix/store/x.drv".into(),
            required_features: features.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn darwin_with_known_features_is_ours() {
        let c = Config::default();
        assert_eq!(classify(&c, &req("x86_64-darwin", &[])), Verdict::Ours);
        assert_eq!(
            classify(&c, &req("x86_64-darwin", &["big-parallel"])),
            Verdict::Ours
        );
    }

    #[test]
    fn everything_else_is_declined_with_a_reason() {
        let c = Config::default();
        for r in [
            req("x86_64-linux", &[]),
            req("builtin", &[]),
            req("aarch64-darwin", &[]),
            req("x86_64-darwin", &["kvm"]),
            req("x86_64-darwin", &["ca-derivations"]),
        ] {
            assert!(matches!(classify(&c, &r), Verdict::NotOurs(_)), "{r:?}");
        }
    }
}
