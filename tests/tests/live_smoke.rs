//! The live tier's own checks: a prefix runs Mach-O programs, output comes
//! back through files, and nothing is left running after drop.

use std::time::Duration;

use e2e::live::{processes_of, LivePrefix};

#[test]
fn live_prefix_runs_macho_bash_and_leaves_nothing_behind() {
    let Some(p) = LivePrefix::new("smoke") else {
        return;
    };
    let out = p.shell("echo out; echo err >&2; exit 3");
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.contains("err")),
        (3, "out\n", true),
        "{out:?}"
    );
    let sw = p.shell("sw_vers -productName; echo $OSTYPE");
    assert_eq!(sw.code, 0, "{sw:?}");
    assert!(sw.stdout.starts_with("macOS\ndarwin"), "{sw:?}");
    let prefix = p.prefix().to_path_buf();
    assert!(!processes_of(&prefix).is_empty(), "darlingserver runs");
    drop(p);
    assert!(processes_of(&prefix).is_empty(), "nothing left after drop");
    assert!(!prefix.exists(), "prefix removed");
}

#[test]
fn host_files_are_visible_under_volumes_systemroot() {
    let Some(p) = LivePrefix::new("systemroot") else {
        return;
    };
    let f = p.scratch().join("hello.txt");
    std::fs::write(&f, "from the host\n").unwrap();
    let out = p.shell(&format!("cat '{}'", p.inside(&f)));
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "from the host\n"),
        "{out:?}"
    );
}

/// A session whose process group is killed comes back from `darling shell`
/// as status 1 with no output (what a Mach-O program's fatal signal does:
/// Darling re-raises it to the group). `shell_single` returns that as is;
/// `shell` runs the script a second time.
#[test]
fn a_lost_session_is_reported_and_run_again_once() {
    let Some(p) = LivePrefix::new("lost") else {
        return;
    };
    let mark = p.scratch().join("ran-once");
    let script = format!(
        "if test -e '{m}'; then echo second; exit 0; fi\n: > '{m}'\nkill -KILL 0\necho not reached",
        m = p.inside(&mark)
    );
    let lost = p.shell_single(&script, Duration::from_secs(120));
    assert_eq!(
        (lost.code, lost.stdout.as_str(), lost.stderr.as_str()),
        (1, "", ""),
        "{lost:?}"
    );
    assert!(mark.exists(), "the script ran up to its kill");
    std::fs::remove_file(&mark).unwrap();
    let again = p.shell(&script);
    assert_eq!(
        (again.code, again.stdout.as_str()),
        (0, "second\n"),
        "{again:?}"
    );
    // The prefix still answers after its session was lost.
    assert_eq!(p.shell("echo up").stdout, "up\n");
}
