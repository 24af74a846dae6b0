//! syscall-triage on recorded logs: mixed output, repeated numbers, JSON
//! read by jq, and --compare's exit status.

use std::io::Write;
use std::process::{Command, Stdio};

use e2e::Out;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_syscall-triage")
}

/// The tool with all three standard streams piped.
fn spawn(args: &[&str]) -> std::process::Child {
    Command::new(bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn run(args: &[&str], stdin: &str) -> Out {
    let mut c = spawn(args);
    c.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    c.wait_with_output().unwrap().into()
}

/// Darling prints these on stdout, so they land mid-line in program output.
const LOG_OLD: &str = "$ mv a b\nUnimplemented syscall (488)\nmv: cannot move 'a' to 'b': Function not implemented\n\
$ cargo build\n   Compiling fooUnimplemented syscall (517)\nUnimplemented syscall (517)\nUnimplemented syscall (517)\n\
$ ps\nUnimplemented syscall (539)\n  PID TTY\nCalled unimplemented Mach trap: task_name_for_pid\n";
const LOG_NEW: &str = "$ mv a b\nUnimplemented syscall (488)\n$ neofetch\nUnimplemented syscall (180)\nUnimplemented mach trap (44)\n";

#[test]
fn markdown_report_names_counts_and_categorises() {
    let o = run(&[], LOG_OLD);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout
            .contains("6 occurrences of 4 distinct calls in stdin."),
        "{}",
        o.stdout
    );
    let lines: Vec<&str> = o
        .stdout
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| call"))
        .collect();
    assert_eq!(
        lines[0],
        "| fclonefileat (517) | BSD syscall | file system | 3 |"
    );
    assert!(o
        .stdout
        .contains("| renameatx_np (488) | BSD syscall | file system | 1 |"));
    assert!(o
        .stdout
        .contains("| task_read_for_pid (539) | BSD syscall |"));
    assert!(o
        .stdout
        .contains("| task_name_for_pid | Mach trap | mach | 1 |"));
}

#[test]
fn json_for_jq_and_files() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("build.log");
    std::fs::write(&f, LOG_OLD).unwrap();
    let o = run(&["--json", f.to_str().unwrap()], "");
    assert_eq!(o.code, 0);
    let mut jq = Command::new("jq").args(["-e", ".version == 1 and .total == 6 and (.entries[0] | .kind == \"bsd\" and .number == 517 and .name == \"fclonefileat\" and .count == 3)"]).stdin(Stdio::piped()).stdout(Stdio::null()).spawn().expect("jq (installed by .ci/run)");
    jq.stdin
        .take()
        .unwrap()
        .write_all(o.stdout.as_bytes())
        .unwrap();
    assert!(jq.wait().unwrap().success(), "{}", o.stdout);
}

#[test]
fn compare_flags_regressions_with_exit_1() {
    let d = tempfile::tempdir().unwrap();
    let old = d.path().join("old.json");
    std::fs::write(&old, run(&["--json"], LOG_OLD).stdout).unwrap();
    // Same log: no regression.
    let o = run(&["--compare", old.to_str().unwrap()], LOG_OLD);
    assert_eq!(o.code, 0);
    assert!(o.stdout.contains("No change."));
    // New calls appear: regression.
    let o = run(&["--compare", old.to_str().unwrap()], LOG_NEW);
    assert_eq!(o.code, 1, "{}", o.stdout);
    assert!(o.stdout.contains("- **new:** kdebug_trace (180)"));
    assert!(o.stdout.contains("- **new:** mach trap 44"));
    assert!(o.stdout.contains("- gone: fclonefileat (517)"));
    // Only fewer calls: fine.
    let o = run(
        &["--compare", old.to_str().unwrap()],
        "Unimplemented syscall (488)\n",
    );
    assert_eq!(o.code, 0);
    // Errors are exit 2.
    assert_eq!(run(&["--compare", "/nonexistent.json"], "").code, 2);
    assert_eq!(run(&["/nonexistent.log"], "").code, 2);
    let o = run(&[], "");
    assert!(o.stdout.contains("None found."));
}

#[test]
fn compare_matches_named_trap_with_and_without_impl() {
    let d = tempfile::tempdir().unwrap();
    let old = d.path().join("old.json");
    let o = run(
        &["--json"],
        "Called unimplemented Mach trap: task_name_for_pid\n",
    );
    std::fs::write(&old, o.stdout).unwrap();
    let o = run(
        &["--compare", old.to_str().unwrap()],
        "Called unimplemented Mach trap: task_name_for_pid_impl\n",
    );
    assert_eq!(o.code, 0, "{}", o.stdout);
    assert!(o.stdout.contains("No change."), "{}", o.stdout);
    assert!(
        o.stdout
            .contains("| task_name_for_pid | Mach trap | mach | 1 |"),
        "{}",
        o.stdout
    );
}

#[test]
fn compare_refuses_another_schema_version() {
    let d = tempfile::tempdir().unwrap();
    let old = d.path().join("v7.json");
    std::fs::write(
        &old,
        r#"{"version": 7, "sources": [], "total": 0, "entries": []}"#,
    )
    .unwrap();
    let o = run(
        &["--compare", old.to_str().unwrap()],
        "Unimplemented syscall (488)\n",
    );
    assert_eq!(o.code, 2, "{}", o.stdout);
    assert!(o.stdout.is_empty(), "{}", o.stdout);
    assert!(
        o.stderr.contains(&format!(
            "{}: not a version 1 syscall-triage JSON report",
            old.display()
        )),
        "{}",
        o.stderr
    );
}

/// Runs with standard output already closed by its reader (as `| head`
/// does), returning the exit code and stderr.
fn run_closed_stdout(args: &[&str], stdin: &str) -> (Option<i32>, String) {
    let mut c = spawn(args);
    // The reader goes away before the tool has read its input, so before it
    // writes anything.
    drop(c.stdout.take());
    c.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let o = c.wait_with_output().unwrap();
    (o.status.code(), String::from_utf8_lossy(&o.stderr).into())
}

#[test]
fn closed_stdout_exits_quietly_with_the_runs_status() {
    let log: String = (0..3000)
        .map(|i| format!("Unimplemented syscall ({i})\n"))
        .collect();
    let (code, err) = run_closed_stdout(&[], &log);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.is_empty(), "{err}");
    let (code, err) = run_closed_stdout(&["--json"], &log);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.is_empty(), "{err}");
    // A regression keeps its exit 1 even when nobody reads the report.
    let d = tempfile::tempdir().unwrap();
    let old = d.path().join("old.json");
    std::fs::write(&old, run(&["--json"], "").stdout).unwrap();
    let (code, err) = run_closed_stdout(&["--compare", old.to_str().unwrap()], &log);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.is_empty(), "{err}");
}
