//! The five built-in profiles of `sandbox-exec -n`, written as SBPL.
//! Apple spells them with hyphens; Darling's header used underscores, so
//! both are accepted.

/// The SBPL text of the built-in profile `name`, with `_` read as `-`;
/// None for any other name (sandbox-exec then exits 65 with `unable to find
/// profile`).
///
/// * `no-internet`: everything allowed but IP networking.
/// * `no-network`: everything allowed but networking.
/// * `no-write`: everything allowed but writing files.
/// * `no-write-except-temporary`: as `no-write`, except beneath `/tmp`,
///   `/var/tmp` and their `/private` forms.
/// * `pure-computation`: everything denied but exec, fork, signals, sysctl
///   reads and reading beneath `/usr/lib`, `/System/Library`, `/nix/store`,
///   `/bin`, `/usr/bin`, `/lib` and `/lib64`.
pub fn profile(name: &str) -> Option<&'static str> {
    Some(match name.replace('_', "-").as_str() {
        "no-internet" => "(version 1)\n(allow default)\n(deny network* (remote ip) (local ip))\n",
        "no-network" => "(version 1)\n(allow default)\n(deny network*)\n",
        "no-write" => "(version 1)\n(allow default)\n(deny file-write*)\n",
        "no-write-except-temporary" => {
            "(version 1)\n(allow default)\n(deny file-write*)\n\
             (allow file-write* (subpath \"/private/tmp\") (subpath \"/private/var/tmp\") (subpath \"/tmp\") (subpath \"/var/tmp\"))\n"
        }
        "pure-computation" => {
            "(version 1)\n(deny default)\n(allow process-exec process-fork signal sysctl-read)\n\
             (allow file-read* (subpath \"/usr/lib\") (subpath \"/System/Library\") (subpath \"/nix/store\") (subpath \"/bin\") (subpath \"/usr/bin\") (subpath \"/lib\") (subpath \"/lib64\"))\n\
             (allow process-exec (subpath \"/usr/lib\") (subpath \"/nix/store\") (subpath \"/bin\") (subpath \"/usr/bin\") (subpath \"/lib\") (subpath \"/lib64\"))\n"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_named_profile_parses_and_both_spellings_work() {
        for n in [
            "no-internet",
            "no-network",
            "no-write",
            "no-write-except-temporary",
            "pure-computation",
            "no_write",
            "pure_computation",
        ] {
            let src = super::profile(n).unwrap();
            sbpl::evaluate(src, n, &sbpl::Options::default()).unwrap();
        }
        assert!(super::profile("bogus").is_none());
    }
}
