//! The darling-xnu patch stays in step with this crate: it adds exactly the
//! glue in `integration/`, points the documented table slots at handlers the
//! header declares, and (where a darling-xnu git repository is at hand, as
//! `XNU_FIXES_DARLING_XNU=<git dir>`) applies to the commit it names. CI has
//! no Darling source tree, so there the last part is skipped with a line.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::process::{Command, Stdio};

fn integration(name: &str) -> String {
    fs::read_to_string(common::workspace().join("xnu-fixes/integration").join(name)).unwrap()
}

/// The lines a patch adds to the file whose path ends with `suffix`.
fn added_file(patch: &str, suffix: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in patch.lines() {
        if let Some(p) = line.strip_prefix("+++ ") {
            inside = p.ends_with(suffix);
        } else if inside {
            if let Some(l) = line.strip_prefix('+') {
                out.push_str(l);
                out.push('\n');
            } else if line.starts_with("diff ") {
                inside = false;
            }
        }
    }
    out
}

/// `[N] = name,` entries the patch adds to a syscall table.
fn table_slots(patch: &str) -> BTreeMap<u32, String> {
    patch
        .lines()
        .filter_map(|l| l.strip_prefix("+\t["))
        .filter_map(|l| {
            let (n, rest) = l.split_once("] = ")?;
            Some((n.parse().ok()?, rest.trim_end_matches(',').to_string()))
        })
        .collect()
}

const SLOTS: [(u32, &str); 12] = [
    (34, "xnu_fixes_chflags"),
    (35, "xnu_fixes_fchflags"),
    (220, "xnu_fixes_getattrlist"),
    (221, "xnu_fixes_setattrlist"),
    (228, "xnu_fixes_fgetattrlist"),
    (229, "xnu_fixes_fsetattrlist"),
    (462, "xnu_fixes_clonefileat"),
    (476, "xnu_fixes_getattrlistat"),
    (488, "xnu_fixes_renameatx_np"),
    (500, "xnu_fixes_getentropy"),
    (517, "xnu_fixes_fclonefileat"),
    (524, "xnu_fixes_setattrlistat"),
];

#[test]
fn patch_adds_our_glue_and_the_documented_table_slots() {
    let patch = integration("darling-xnu.patch");
    assert_eq!(
        added_file(&patch, "/darling_nix/xnu_fixes_glue.c"),
        integration("xnu_fixes_glue.c"),
        "the patch's glue differs from integration/xnu_fixes_glue.c"
    );
    let header =
        fs::read_to_string(common::workspace().join("xnu-fixes/include/xnu_fixes.h")).unwrap();
    let slots = table_slots(&patch);
    let want: BTreeMap<u32, String> = SLOTS.iter().map(|(n, s)| (*n, s.to_string())).collect();
    assert_eq!(slots, want);
    for name in slots.values() {
        assert!(
            header.contains(&format!(" {name}(")),
            "{name} not in the header"
        );
    }
    // The older-layout patch points the same slots at the same handlers.
    assert_eq!(table_slots(&integration("darling-xnu-1f001ce.patch")), want);
}

/// `git apply --check` of `patch` against `commit` of the darling-xnu git
/// repository `repo`, in a scratch work tree (only libsystem_kernel).
fn applies(repo: &str, commit: &str, patch: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("xnu");
    fs::create_dir(&tree).unwrap();
    let archive = Command::new("git")
        .args([
            "--git-dir",
            repo,
            "archive",
            commit,
            "darling/src/libsystem_kernel",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let st = Command::new("tar")
        .arg("-x")
        .current_dir(&tree)
        .stdin(archive.stdout.unwrap())
        .status()
        .map_err(|e| e.to_string())?;
    if !st.success() {
        return Err(format!("git archive {commit} failed"));
    }
    let p = dir.path().join("p.patch");
    fs::write(&p, patch).unwrap();
    let out = Command::new("git")
        .args(["apply", "--check", "-v"])
        .arg(&p)
        .current_dir(&tree)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The full commit the patch's first line names.
fn named_commit(patch: &str) -> String {
    let first = patch.lines().next().unwrap();
    first
        .split_whitespace()
        .find(|w| w.len() >= 7 && w.chars().all(|c| c.is_ascii_hexdigit()))
        .unwrap_or_else(|| panic!("no commit in the patch's first line: {first}"))
        .to_string()
}

#[test]
fn patches_apply_to_the_darling_xnu_commits_they_name() {
    let Some(repo) = std::env::var_os("XNU_FIXES_DARLING_XNU") else {
        e2e::skip_line(
            "skipped: set XNU_FIXES_DARLING_XNU to a darlinghq/darling-xnu git directory to check that the patches apply",
        );
        return;
    };
    let repo = repo.to_str().unwrap().to_string();
    for name in ["darling-xnu.patch", "darling-xnu-1f001ce.patch"] {
        let patch = integration(name);
        let commit = named_commit(&patch);
        if let Err(e) = applies(&repo, &commit, &patch) {
            panic!("{name} does not apply to darling-xnu {commit}:\n{e}");
        }
    }
}
