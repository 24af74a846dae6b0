//! Driving the actions: the plan, install, uninstall and their rendering.

use std::fs;

use crate::actions::{self, ActionId};
use crate::error::{io_at, Error, RunError};
use crate::files::{remove_dir_if_empty, Changes};
use crate::receipt::Record;
use crate::{Cx, Status, Step};

fn step(id: ActionId, description: String, status: Status, detail: Option<String>) -> Step {
    Step {
        id,
        description,
        status,
        detail,
    }
}

/// nix-install's lock: a `flock` on the prefix directory itself, held
/// (exclusive) by install and uninstall and (shared) by the plans until it
/// is dropped, so that two runs never change one prefix at once. On the
/// prefix directory, as the host sees it, rather than on a file in the
/// prefix: a lock file would have to be made in the prefix, and one in a
/// running prefix's merged view is another inode than the same file seen
/// in the prefix directory, so runs made before and after the prefix
/// started would not see each other's lock. `None` when the prefix does not
/// exist yet (check-darling creates it; install takes the lock then). A
/// lock held by another run is waited for, saying so on stderr.
fn lock_prefix(cx: &Cx, exclusive: bool) -> Result<Option<fs::File>, Error> {
    let p = cx.prefix_dir();
    let f = match fs::File::open(&p) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_at(&p)(e)),
    };
    let tried = if exclusive {
        f.try_lock()
    } else {
        f.try_lock_shared()
    };
    match tried {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            eprintln!(
                "nix-install: waiting for another nix-install in {} to finish",
                p.display()
            );
            if exclusive { f.lock() } else { f.lock_shared() }.map_err(io_at(&p))?;
        }
        Err(fs::TryLockError::Error(e)) => return Err(io_at(&p)(e)),
    }
    Ok(Some(f))
}

/// The plan with each action's current state, without changing anything.
/// Waits while an install or uninstall runs (a shared lock).
pub fn plan(cx: &Cx) -> Vec<Step> {
    let _lock = lock_prefix(cx, false).ok().flatten();
    actions::all()
        .map(|a| {
            let description = a.describe(cx.s);
            if cx.s.skip.contains(&a.id()) {
                return step(a.id(), description, Status::Skipped, None);
            }
            match a.is_done(cx) {
                Ok(true) => step(a.id(), description, Status::Done, None),
                Ok(false) => step(a.id(), description, Status::Pending, None),
                Err(e) => step(a.id(), description, Status::Pending, Some(e.to_string())),
            }
        })
        .collect()
}

fn revert_description(c: &Changes) -> String {
    let groups = match (c.group.is_some(), c.groups.len()) {
        (true, _) => " and the group".to_string(),
        (false, 0) => String::new(),
        (false, n) => format!(" and {n} groups"),
    };
    format!(
        "revert: remove {} files, restore {}, delete {} users{groups}",
        c.created.len(),
        c.replaced.len(),
        c.users.len(),
    )
}

/// What `uninstall` would undo, newest first, without changing anything.
pub fn uninstall_plan(cx: &Cx) -> Result<Vec<Step>, RunError> {
    let _lock = lock_prefix(cx, false).map_err(RunError::Lock)?;
    let receipt = cx.load_receipt().map_err(RunError::Receipt)?;
    Ok(receipt
        .records
        .iter()
        .rev()
        .map(|r| step(r.id, revert_description(&r.changes), Status::Pending, None))
        .collect())
}

/// Runs every action that is not done yet; stops at the first failure. The
/// receipt is saved after each action that changed something.
pub fn install(cx: &mut Cx) -> (Vec<Step>, Result<(), RunError>) {
    let mut steps = Vec::new();
    let mut lock = match lock_prefix(cx, true) {
        Ok(l) => l,
        Err(e) => return (steps, Err(RunError::Lock(e))),
    };
    cx.receipt = match cx.load_receipt() {
        Ok(r) => r,
        Err(e) => return (steps, Err(RunError::Receipt(e))),
    };
    for a in actions::all() {
        let (id, description) = (a.id(), a.describe(cx.s));
        if cx.s.skip.contains(&id) {
            steps.push(step(id, description, Status::Skipped, None));
            continue;
        }
        let fail = |mut steps: Vec<Step>, e: Error| {
            steps.push(step(
                id,
                description.clone(),
                Status::Failed,
                Some(e.to_string()),
            ));
            let err = RunError::Action {
                action: id,
                source: e,
            };
            (steps, Err(err))
        };
        match a.is_done(cx) {
            Ok(true) => {
                steps.push(step(id, description, Status::Done, None));
                continue;
            }
            Ok(false) => {}
            Err(e) => return fail(steps, e),
        }
        let mut changes = Changes::default();
        // Each change is saved in the receipt (Cx::note) before it is made.
        cx.acting = Some(id);
        cx.noted.set(false);
        let r = a.execute(cx, &mut changes);
        cx.acting = None;
        let (changed, rewritten) = (!changes.is_empty(), changes.rewritten);
        if changed || cx.noted.get() {
            // Recorded even when the action failed half-way, so uninstall
            // can revert what it did.
            // (A record noted and then found empty is dropped again.)
            if changed {
                cx.receipt.records.push(Record { id, changes });
            }
            if let Err(e) = cx.save_receipt() {
                return fail(steps, e);
            }
        }
        if let Err(e) = r {
            return fail(steps, e);
        }
        if lock.is_none() {
            // The prefix did not exist; check-darling made it: locked now,
            // and the receipt read again (another run may have begun).
            lock = match lock_prefix(cx, true) {
                Ok(l) => l,
                Err(e) => return (steps, Err(RunError::Lock(e))),
            };
            cx.receipt = match cx.load_receipt() {
                Ok(r) => r,
                Err(e) => return (steps, Err(RunError::Receipt(e))),
            };
        }
        let status = if changed || rewritten > 0 {
            Status::Ran
        } else {
            Status::Done
        };
        steps.push(step(id, description, status, None));
    }
    (steps, Ok(()))
}

/// Reverts every recorded action, newest first. The receipt is saved after
/// each, so a failed uninstall can be run again.
pub fn uninstall(cx: &mut Cx) -> (Vec<Step>, Result<(), RunError>) {
    let mut steps = Vec::new();
    let _lock = match lock_prefix(cx, true) {
        Ok(l) => l,
        Err(e) => return (steps, Err(RunError::Lock(e))),
    };
    let path = cx.receipt_path();
    cx.receipt = match cx.load_receipt() {
        Ok(r) => r,
        Err(e) => return (steps, Err(RunError::Receipt(e))),
    };
    while let Some(rec) = cx.receipt.records.pop() {
        let description = revert_description(&rec.changes);
        if let Err(e) = rec.id.action().revert(cx, &rec.changes) {
            steps.push(step(
                rec.id,
                description,
                Status::Failed,
                Some(e.to_string()),
            ));
            let id = rec.id;
            cx.receipt.records.push(rec);
            // The receipt still holds this record; it is unchanged on disk.
            return (
                steps,
                Err(RunError::Action {
                    action: id,
                    source: e,
                }),
            );
        }
        // Backups go only once the receipt without their record is saved.
        if let Err(e) = cx
            .save_receipt()
            .and_then(|()| rec.changes.remove_backups(cx, &cx.receipt))
        {
            return (steps, Err(RunError::Receipt(e)));
        }
        steps.push(step(rec.id, description, Status::Ran, None));
    }
    // Our state directory goes once it is empty; anything else left in it
    // (not ours) stays.
    let cleanup = || -> Result<(), Error> {
        fs::remove_file(&path).map_err(io_at(&path))?;
        for d in [cx.backups(), cx.state_dir()] {
            remove_dir_if_empty(&d)?;
        }
        Ok(())
    };
    match fs::symlink_metadata(&path) {
        Ok(_) => (steps, cleanup().map_err(RunError::Receipt)),
        Err(_) => (steps, Ok(())),
    }
}

/// The steps as nix-install prints them: one line each, status and action
/// name in columns, then the description, and the step's detail (an
/// error), if any, on an indented line below.
pub fn render(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|s| {
            format!(
                "{:<8} {:<14} {}{}\n",
                s.status.as_str(),
                s.id.as_str(),
                s.description,
                s.detail
                    .as_ref()
                    .map(|d| format!("\n         {d}"))
                    .unwrap_or_default()
            )
        })
        .collect()
}
