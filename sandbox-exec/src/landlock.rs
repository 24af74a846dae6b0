//! Landlock through the `landlock` crate: our READ/WRITE/EXEC classes as
//! file-system rights, our modes as its compatibility levels, and the
//! project's rules for paths the kernel will not take (missing ones are
//! skipped; pipes and sockets need no rule).

use std::path::{Path, PathBuf};

use landlock::{
    make_bitflags, AccessFs, BitFlags, CompatLevel, Compatible, PathBeneath, PathFd, PathFdError,
    Ruleset, RulesetAttr, RulesetCreated, RulesetCreatedAttr, RulesetError, RulesetStatus,
};

use crate::config::Mode;

/// The rights we ask for. Newer ones stay out on purpose: IOCTL_DEV would
/// refuse ioctls on devices granted for reading (terminals), and
/// RESOLVE_UNIX would cut Darling's own unix-socket IPC.
const WRITE_RIGHTS: BitFlags<AccessFs> = make_bitflags!(AccessFs::{
    WriteFile | RemoveDir | RemoveFile | MakeChar | MakeDir | MakeReg | MakeSock
    | MakeFifo | MakeBlock | MakeSym | Refer | Truncate
});
/// Rights a rule on a non-directory may carry.
const FILE_RIGHTS: BitFlags<AccessFs> =
    make_bitflags!(AccessFs::{ Execute | WriteFile | ReadFile | Truncate });

/// The Linux rights for our READ/WRITE/EXEC classes.
pub fn rights(classes: u8) -> BitFlags<AccessFs> {
    let mut r = BitFlags::EMPTY;
    if classes & sbpl::plan::READ != 0 {
        r |= AccessFs::ReadFile | AccessFs::ReadDir;
    }
    if classes & sbpl::plan::WRITE != 0 {
        r |= WRITE_RIGHTS;
    }
    if classes & sbpl::plan::EXEC != 0 {
        r |= AccessFs::Execute;
    }
    r
}

/// What [`Rules::allow`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// A rule was added, or none was needed because none of the rights
    /// asked for is handled by the ruleset (so none is restricted).
    Rule,
    /// The path does not exist, or cannot be opened because a component is
    /// not a directory or not searchable (ENOENT, ENOTDIR, EACCES):
    /// Landlock needs an open file. No rule is added.
    Missing,
    /// A pipe, socket or anonymous inode (what /dev/stdout is when Nix
    /// gives the builder a pipe): Landlock neither restricts these nor
    /// takes rules on them.
    Unrestricted,
}

/// What a path is, for the rights a rule on it may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A directory: the rule may carry every handled right, and covers
    /// everything beneath it.
    Dir,
    /// Regular files and devices: file rights only.
    File,
    /// Pipes, sockets: no rule.
    Unrestricted,
}

/// Why Landlock could not be set up. The messages follow `sandbox_apply: `.
#[derive(Debug, thiserror::Error)]
pub enum LandlockError {
    /// The ruleset could not be created. In strict mode this is also how a
    /// kernel without Landlock, or without a right the profile needs, is
    /// refused.
    #[error("creating the Landlock ruleset: {0}")]
    Create(#[source] RulesetError),
    /// Opening a rule's path failed for another reason than its absence.
    #[error("{source}")]
    Open {
        /// The rule's host path.
        path: PathBuf,
        /// Why opening it (`O_PATH`) failed.
        #[source]
        source: PathFdError,
    },
    /// The kernel refused a rule (`landlock_add_rule`) for another reason
    /// than the path being on an internal file system.
    #[error("adding a rule for {}: {source}", path.display())]
    AddRule {
        /// The rule's host path.
        path: PathBuf,
        /// The refusal.
        #[source]
        source: RulesetError,
    },
    /// Setting `no_new_privs` or `landlock_restrict_self` failed; the
    /// process is then not restricted.
    #[error("landlock_restrict_self: {0}")]
    Restrict(#[source] RulesetError),
}

/// A ruleset being filled.
pub struct Rules {
    rs: RulesetCreated,
    /// The rights the ruleset handles: a rule may carry no others.
    handled: BitFlags<AccessFs>,
}

fn errno(e: &RulesetError) -> Option<i32> {
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return io.raw_os_error();
        }
        src = s.source();
    }
    None
}

impl Rules {
    /// A ruleset handling the rights of `classes`. Best-effort uses what the
    /// kernel has, but only with ABI 2 or later (REFER): under ABI 1 every
    /// rename across directories would fail, so the file part is left out
    /// (the status then says NotEnforced). Strict requires every right.
    pub fn new(classes: u8, mode: Mode) -> Result<Rules, LandlockError> {
        let handled = rights(classes);
        let level = match mode {
            Mode::Strict => CompatLevel::HardRequirement,
            _ => CompatLevel::SoftRequirement,
        };
        let r = || -> Result<RulesetCreated, RulesetError> {
            // REFER is handled whatever the classes: the kernel treats it as
            // handled anyway (cross-directory renames are refused unless a
            // rule grants it).
            let mut r = Ruleset::default()
                .set_compatibility(level)
                .handle_access((handled & !AccessFs::Truncate) | AccessFs::Refer)?;
            if handled.contains(AccessFs::Truncate) {
                let level = match mode {
                    Mode::Strict => CompatLevel::HardRequirement,
                    _ => CompatLevel::BestEffort,
                };
                r = r
                    .set_compatibility(level)
                    .handle_access(AccessFs::Truncate)?;
            }
            r.create()
        };
        let mut rules = Rules {
            rs: r().map_err(LandlockError::Create)?,
            handled: handled | AccessFs::Refer,
        };
        if classes & sbpl::plan::WRITE == 0 {
            // Writing is not restricted, so neither is moving things around.
            rules.allow(Path::new("/"), AccessFs::Refer.into(), Kind::Dir)?;
        }
        Ok(rules)
    }

    /// Allows `access` beneath `path`, which was found to be of `kind`.
    /// Rights the ruleset does not handle are left out: they are not
    /// restricted in the first place (the paths every program needs are
    /// granted read and execute whatever the profile restricts).
    pub fn allow(
        &mut self,
        path: &Path,
        access: BitFlags<AccessFs>,
        kind: Kind,
    ) -> Result<Added, LandlockError> {
        let access = access & self.handled;
        let access = match kind {
            Kind::Dir => access,
            Kind::File => access & FILE_RIGHTS,
            Kind::Unrestricted => return Ok(Added::Unrestricted),
        };
        if access.is_empty() {
            return Ok(Added::Rule);
        }
        let fd = match PathFd::new(path) {
            Ok(fd) => fd,
            Err(landlock::PathFdError::OpenCall { source, .. })
                if matches!(
                    source.raw_os_error(),
                    Some(libc::ENOENT) | Some(libc::ENOTDIR) | Some(libc::EACCES)
                ) =>
            {
                return Ok(Added::Missing)
            }
            Err(source) => {
                return Err(LandlockError::Open {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        match (&mut self.rs).add_rule(PathBeneath::new(fd, access)) {
            Ok(_) => Ok(Added::Rule),
            // Internal file systems (pipefs, sockfs, nsfs, memfd…) behind
            // a regular-looking type: never restricted either.
            Err(e) if errno(&e) == Some(libc::EBADFD) => Ok(Added::Unrestricted),
            Err(source) => Err(LandlockError::AddRule {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Sets no_new_privs and restricts this thread (and what it execs).
    pub fn restrict_self(self) -> Result<RulesetStatus, LandlockError> {
        self.rs
            .restrict_self()
            .map(|s| s.ruleset)
            .map_err(LandlockError::Restrict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_errors_keep_the_path_and_print_as_before() {
        let mut rs = Rules::new(sbpl::plan::READ, Mode::BestEffort).unwrap();
        let long = PathBuf::from(format!("/{}", "a".repeat(5000)));
        let e = rs
            .allow(&long, rights(sbpl::plan::READ), Kind::Dir)
            .unwrap_err();
        let LandlockError::Open { path, source } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(path, &long);
        assert_eq!(e.to_string(), source.to_string());
        // Missing paths are no error.
        assert_eq!(
            rs.allow(
                Path::new("/nonexistent/x"),
                rights(sbpl::plan::READ),
                Kind::Dir
            )
            .unwrap(),
            Added::Missing
        );
    }
}
