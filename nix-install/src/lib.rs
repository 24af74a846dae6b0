//! Installing Nix into a Darling prefix as a plan of actions. Each action
//! (one module under [`actions`], one [`Action`] implementation) can say what
//! it will do, whether it is already done, do it, and revert what it
//! recorded in the receipt (`/var/db/darling-nix/install-receipt.json`
//! inside the prefix, see [`receipt`]).

#![warn(missing_docs)]

pub mod actions;
pub mod error;
pub mod files;
pub mod guard;
mod plan;
pub mod receipt;
pub mod tarball;

use std::fs;
use std::io;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use darling_host::Runner;
use serde::{Deserialize, Serialize};

pub use actions::{Action, ActionId};
pub use darling_host::TOOLS;

/// The interposing xnu-fixes dylib: its name in the tools directory, and
/// where it goes in the prefix (the build hook's `interpose` default).
pub const XNU_FIXES_DYLIB: (&str, &str) =
    ("libxnu_fixes.dylib", "usr/local/lib/libxnu_fixes.dylib");

/// The Mach-O probe built beside the dylib, which nix-verify runs inside.
pub const XNU_FIXES_PROBE: (&str, &str) = (
    "xnu-fixes-probe",
    "usr/local/libexec/darling-nix/xnu-fixes-probe",
);
use error::io_at;
pub use error::{Error, RunError};
pub use files::write_atomic;
use files::Changes;
pub use plan::{install, plan, render, uninstall, uninstall_plan};
pub use receipt::{Receipt, Record};
pub use tarball::{tarball_version, version_gate};

/// The build users' group that build-users creates in daemon mode, and that
/// nix-conf names as `build-users-group` in `/etc/nix/nix.conf` (left empty
/// in single-user mode).
pub const GROUP: &str = "nixbld";
/// The gid of [`GROUP`], and the base of the build users' uids: `_nixbldN`
/// gets uid `GID + N` and [`GID`] as its primary group.
pub const GID: u32 = 350;

/// Single- or multi-user install (`--mode`). In single-user mode the
/// build-users and daemon actions have nothing to do and nix.conf names no
/// build group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Root runs builds itself; no build users, no daemon.
    Single,
    /// Build users and a launchd nix-daemon plist.
    Daemon,
}

/// What nix-install was asked to do, from its command line; the actions read
/// it through [`Cx::s`] and never change it.
pub struct Settings {
    /// The Darling prefix directory on the host (`--prefix`, default
    /// `$DPREFIX`, else `~/.darling`). The receipt records paths under it.
    pub prefix: PathBuf,
    /// The Nix binary tarball (`--tarball`): a host path, or an `http://` or
    /// `https://` URL that fetch-tarball downloads. Without one,
    /// fetch-tarball fails with [`Error::NoTarball`].
    pub tarball: Option<String>,
    /// The tarball's expected sha256 in hex (`--sha256`), compared ignoring
    /// case. Required for a URL ([`Error::NeedsSha256`]); a local file is
    /// checked only when it is given.
    pub sha256: Option<String>,
    /// Where install-tools copies the in-prefix tools ([`TOOLS`]) from, and
    /// the xnu-fixes dylib and probe when present (`--tools-dir`, default:
    /// the directory nix-install itself is in).
    pub tools_dir: PathBuf,
    /// How many build users (`_nixbld1` to `_nixbldN`) build-users makes in
    /// daemon mode (`--users`, clamped to 1..=128).
    pub users: u32,
    /// Single- or multi-user install (`--mode`).
    pub mode: Mode,
    /// Darling's libsandbox is fixed: do not set `_NIX_TEST_NO_SANDBOX`.
    pub libsandbox_fixed: bool,
    /// Where fetch-tarball downloads a URL to (`$XDG_CACHE_HOME/darling-nix`,
    /// else `~/.cache/darling-nix`); the downloaded file is recorded, so
    /// uninstall removes it.
    pub cache_dir: PathBuf,
    /// Time allowed for each command run inside the prefix ([`Cx::run`],
    /// `--timeout`); the runner kills a command that takes longer.
    pub timeout: Duration,
    /// Actions not to run (reported as skipped), e.g. the store actions for
    /// a prefix whose store comes from elsewhere.
    pub skip: Vec<ActionId>,
}

impl Settings {
    /// Whether the tools directory carries libxnu_fixes.dylib, which then
    /// goes into the prefix and into nix-daemon's environment.
    pub fn has_xnu_fixes_dylib(&self) -> bool {
        self.tools_dir.join(XNU_FIXES_DYLIB.0).is_file()
    }
}

/// Where a step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Not done yet (plan).
    Pending,
    /// Already in place: nothing to do.
    Done,
    /// Ran and changed something.
    Ran,
    /// Not run, as asked (`--skip`).
    Skipped,
    /// Ran and failed; the step's `detail` holds the error. Install and
    /// uninstall stop at the first failed step.
    Failed,
}

impl Status {
    /// The status as the text report and the JSON spell it: `pending`,
    /// `done`, `ran`, `skipped` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Done => "done",
            Status::Ran => "ran",
            Status::Skipped => "skipped",
            Status::Failed => "failed",
        }
    }
}

/// One line of a plan, install or uninstall: an action, what it does and
/// how it stands. `--json` prints these as `steps`.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// The action (as `--skip` and the receipt name it).
    pub id: ActionId,
    /// What the action does ([`Action::describe`]); for uninstall, what its
    /// revert undoes (`revert: remove N files, restore N, delete N users`).
    pub description: String,
    /// How the step stands.
    pub status: Status,
    /// The error of a failed step, or why the plan could not tell whether
    /// the action is done; left out of the JSON when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What the actions share: the settings, the way in, the receipt so far, and
/// the tarball once fetched.
pub struct Cx<'a> {
    /// What was asked for.
    pub s: &'a Settings,
    /// How commands reach the prefix: `darling shell`, or in tests the
    /// fixture runner.
    pub runner: &'a dyn Runner,
    /// The receipt as install or uninstall loaded it from
    /// [`Cx::receipt_path`], with the records added (install) or taken
    /// away (uninstall) so far; saved after each action.
    pub receipt: Receipt,
    /// The verified tarball on the host, once fetched.
    pub tarball_local: Option<PathBuf>,
    /// The action install is running, whose changes [`Cx::note`] saves in
    /// the receipt as they are made; `None` outside an action.
    pub acting: Option<ActionId>,
    /// Whether [`Cx::note`] saved a record of the running action.
    noted: std::cell::Cell<bool>,
}

impl<'a> Cx<'a> {
    /// A context with an empty receipt and no tarball yet; install and
    /// uninstall load the prefix's receipt themselves.
    pub fn new(s: &'a Settings, runner: &'a dyn Runner) -> Cx<'a> {
        Cx {
            s,
            runner,
            receipt: Receipt::default(),
            tarball_local: None,
            acting: None,
            noted: Default::default(),
        }
    }
    /// Where the prefix's files are read and written: the merged view of a
    /// running prefix, else the prefix directory
    /// ([`darling_host::file_view`]). Asked each time: running a command
    /// inside may have started the prefix.
    pub fn root(&self) -> PathBuf {
        darling_host::file_view(&self.s.prefix)
    }
    /// The prefix directory as the receipt spells it: absolute, and
    /// lexically normal (no `.` or `..`).
    pub fn prefix_dir(&self) -> PathBuf {
        receipt::lexical(&self.s.prefix)
    }
    /// A path under [`Cx::root`] as the receipt keeps it: under the prefix
    /// directory ([`Cx::prefix_dir`]), which stays valid whether or not the
    /// prefix runs.
    pub fn record(&self, path: &Path) -> String {
        match path.strip_prefix(self.root()) {
            Ok(rel) => self.prefix_dir().join(rel),
            Err(_) => path.to_path_buf(),
        }
        .display()
        .to_string()
    }
    /// A path from the receipt, where it is now (the inverse of
    /// [`Cx::record`]).
    pub fn view(&self, recorded: &str) -> PathBuf {
        let p = Path::new(recorded);
        match p.strip_prefix(self.prefix_dir()) {
            Ok(rel) => self.root().join(rel),
            Err(_) => p.to_path_buf(),
        }
    }
    /// Refuses ([`Error::OutsidePrefix`]) to write or remove `path` (under
    /// [`Cx::root`]) unless its directory, with every symlink followed as
    /// the kernel would, is inside the prefix: a symlink such as
    /// `/etc/nix -> /somewhere` in the prefix must not lead a write out of
    /// it. Asked before every file nix-install writes in the prefix.
    pub fn check_inside(&self, path: &Path) -> Result<(), Error> {
        let prefix = self.prefix_dir();
        let canonical = fs::canonicalize(&prefix).unwrap_or(prefix);
        guard::check_inside(
            &self.root(),
            &canonical,
            path,
            Path::new(&self.record(path)),
        )
    }
    /// The prefix's receipt ([`Cx::receipt_path`]), checked: every path it
    /// records must be where this version of nix-install writes
    /// ([`Receipt::check`]), and comes back in the form [`Cx::record`]
    /// gives. A receipt that is not is [`Error::UnsafeReceipt`].
    pub fn load_receipt(&self) -> Result<Receipt, Error> {
        let path = self.receipt_path();
        let mut r = Receipt::load(&path)?;
        let bounds = receipt::Bounds {
            prefix: self.prefix_dir(),
            backups: receipt::lexical(Path::new(&self.record(&self.backups()))),
            cache_dir: receipt::lexical(&self.s.cache_dir),
        };
        r.check(&bounds)
            .map_err(|(entry, why)| Error::UnsafeReceipt {
                path: self.record(&path).into(),
                entry,
                why,
            })?;
        Ok(r)
    }
    /// The prefix's `/etc` under [`Cx::root`]: its real directory
    /// `private/etc` (where the account files and `nix/nix.conf` are), or
    /// `etc` when there is no `private/etc`.
    pub fn etc(&self) -> PathBuf {
        prefixfs::Prefix::at(self.root()).etc_dir()
    }
    /// darling-nix's own state in the prefix: receipt, backups, reginfo.
    pub fn state_dir(&self) -> PathBuf {
        prefixfs::Prefix::at(self.root()).state_dir()
    }
    /// Where [`Cx::replace_file`] keeps the originals of replaced files
    /// until uninstall restores them: `/var/db/darling-nix/backup` inside,
    /// each backup under its original's file name (`<name>.N` when that
    /// is taken).
    pub fn backups(&self) -> PathBuf {
        self.state_dir().join("backup")
    }
    /// The receipt: `/var/db/darling-nix/install-receipt.json` inside the
    /// prefix.
    pub fn receipt_path(&self) -> PathBuf {
        self.state_dir().join("install-receipt.json")
    }
    /// Puts `data` at `path` (mode `mode` for a new file), keeping a backup
    /// of different old content (with its mode) and recording either in
    /// `changes`. A file the receipt already records as created or replaced
    /// (by an earlier install, or earlier in this action) is ours: it is
    /// written without a new backup or record, so that the backup of the
    /// original is never replaced by one of ours.
    pub fn replace_file(
        &self,
        changes: &mut Changes,
        path: &Path,
        data: &[u8],
        mode: u32,
    ) -> Result<(), Error> {
        self.check_inside(path)?;
        let rec = self.record(path);
        let ours = self
            .receipt
            .records
            .iter()
            .map(|r| &r.changes)
            .chain(std::iter::once(&*changes))
            .any(|c| c.created.contains(&rec) || c.replaced.iter().any(|(p, _)| *p == rec));
        let mode = match fs::read(path) {
            Ok(old) if old == data => return Ok(()),
            Ok(old) => {
                let old_mode = fs::metadata(path)
                    .map_err(io_at(path))?
                    .permissions()
                    .mode()
                    & 0o7777;
                if !ours {
                    let b = self.new_backup(path, &old, old_mode)?;
                    changes.replaced.push((rec, self.record(&b)));
                    self.note(changes)?;
                }
                old_mode
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // Missing parents, outermost first, so revert can take them
                // away again.
                let mut missing: Vec<&Path> = path
                    .ancestors()
                    .skip(1)
                    .take_while(|d| fs::symlink_metadata(d).is_err())
                    .collect();
                missing.reverse();
                for d in missing {
                    changes.dirs.push(self.record(d));
                }
                if !ours {
                    changes.created.push(rec);
                }
                self.note(changes)?;
                mode
            }
            Err(e) => return Err(io_at(path)(e)),
        };
        if ours {
            changes.rewritten += 1;
        }
        write_atomic(path, data, mode)
    }
    /// A new backup of `path`'s old content `data` (mode `mode`) in
    /// [`Cx::backups`], under `path`'s file name, or `<name>.N` when that
    /// is taken: made with `create_new`, so that no backup is ever
    /// overwritten. Complete and synced when it returns.
    fn new_backup(&self, path: &Path, data: &[u8], mode: u32) -> Result<PathBuf, Error> {
        let dir = self.backups();
        let name = path
            .file_name()
            .unwrap_or(path.as_os_str())
            .to_string_lossy()
            .into_owned();
        self.check_inside(&dir.join(&name))?;
        fs::create_dir_all(&dir).map_err(io_at(&dir))?;
        let mut n = 0;
        loop {
            let b = match n {
                0 => dir.join(&name),
                n => dir.join(format!("{name}.{n}")),
            };
            n += 1;
            let mut f = match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&b)
            {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_at(&b)(e)),
            };
            let written = f
                .write_all(data)
                .and_then(|()| f.set_permissions(fs::Permissions::from_mode(mode)))
                .and_then(|()| f.sync_all())
                .and_then(|()| fs::File::open(&dir)?.sync_all());
            if let Err(e) = written {
                let _ = fs::remove_file(&b);
                return Err(io_at(&b)(e));
            }
            return Ok(b);
        }
    }
    /// Saves [`Cx::receipt`] at [`Cx::receipt_path`] (atomically), once
    /// [`Cx::check_inside`] agrees.
    pub fn save_receipt(&self) -> Result<(), Error> {
        let path = self.receipt_path();
        self.check_inside(&path)?;
        self.receipt.save(&path)
    }
    /// Saves the receipt with `changes`, what the running action
    /// ([`Cx::acting`]) has recorded so far, as its record: called after a
    /// change is recorded and before it is made, so that a run killed
    /// half-way leaves nothing unrecorded. Without an action running, or
    /// with nothing recorded, it does nothing.
    pub fn note(&self, changes: &Changes) -> Result<(), Error> {
        let Some(id) = self.acting.filter(|_| !changes.is_empty()) else {
            return Ok(());
        };
        let path = self.receipt_path();
        self.check_inside(&path)?;
        let mut r = self.receipt.clone();
        r.records.push(Record {
            id,
            changes: changes.clone(),
        });
        r.save(&path)?;
        self.noted.set(true);
        Ok(())
    }
    /// Runs `argv` inside; anything but exit 0 is an error.
    pub fn run(&self, argv: &[&str], stdin: Option<&[u8]>) -> Result<darling_host::Output, Error> {
        let o = self
            .runner
            .run(argv, stdin, self.s.timeout)
            .map_err(|source| Error::Run {
                argv: shown(argv),
                source,
            })?;
        if o.code != 0 {
            return Err(Error::Exited {
                argv: shown(argv),
                code: o.code,
                stderr: o.stderr.trim().to_string(),
            });
        }
        Ok(o)
    }
}

/// A command for a message: a script argument (several lines) is shown by
/// its size, not in full.
fn shown(argv: &[&str]) -> String {
    argv.iter()
        .map(|a| match a.lines().count() {
            0 | 1 => a.to_string(),
            n => format!("<script of {n} lines>"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}
