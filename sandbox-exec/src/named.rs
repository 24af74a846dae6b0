//! The five built-in profiles of `sandbox-exec -n`, written as SBPL.
//! Apple spells them with hyphens; Darling's header used underscores, so
//! both are accepted.

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
