//! The C test suite: compiled with the system C compiler against the
//! staticlib (with the Linux shim standing in for Darling's hooks) and run.

mod common;

use std::process::Command;

#[test]
fn c_suite_passes_against_the_staticlib() {
    let lib = common::staticlib("shim", "staticlib,linux-shim");
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("xnu_fixes_test");
    let ws = common::workspace();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-O1", "-I"])
        .arg(ws.join("xnu-fixes/include"))
        .arg(ws.join("xnu-fixes/tests/c/xnu_fixes_test.c"))
        .arg(&lib)
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("the system C compiler (cc)");
    assert!(
        out.status.success(),
        "cc failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let scratch = tempfile::tempdir().unwrap();
    let run = Command::new(&exe)
        .current_dir(scratch.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "C suite failed: {}{}",
        stdout,
        String::from_utf8_lossy(&run.stderr)
    );
    let n: u32 = stdout.trim().strip_prefix("ok ").unwrap().parse().unwrap();
    assert!(n >= 30, "only {n} checks ran");
}
