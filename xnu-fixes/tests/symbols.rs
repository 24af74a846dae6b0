//! The production archive (no shim) may need nothing from its host beyond
//! the two declared hooks and the mem* functions, so it links into Darling's
//! freestanding libsystem_kernel; and it must export every handler.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

#[test]
fn archive_needs_only_the_declared_hooks_and_mem_functions() {
    let lib = common::staticlib("prod", "staticlib");
    let dir = tempfile::tempdir().unwrap();
    let st = Command::new("ar")
        .arg("x")
        .arg(&lib)
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(st.success());
    let mut undefined = BTreeSet::new();
    let mut defined = BTreeSet::new();
    let mut exported = BTreeSet::new();
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let p = e.unwrap().path();
        let out = Command::new("readelf").arg("-Ws").arg(&p).output().unwrap();
        assert!(out.status.success(), "readelf {}", p.display());
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            // Num: Value Size Type Bind Vis Ndx Name
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 8 || !f[0].ends_with(':') || f[4] == "LOCAL" {
                continue;
            }
            if f[6] == "UND" {
                undefined.insert(f[7].to_string());
            } else {
                defined.insert(f[7].to_string());
                if f[4] == "GLOBAL" && f[5] == "DEFAULT" {
                    exported.insert(f[7].to_string());
                }
            }
        }
    }
    let needed: BTreeSet<_> = undefined.difference(&defined).cloned().collect();
    let allowed: BTreeSet<String> = [
        "__linux_syscall",
        "xnu_fixes_translate_path",
        "memcpy",
        "memmove",
        "memset",
        "memcmp",
        "bcmp",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    let extra: Vec<_> = needed.difference(&allowed).collect();
    assert!(
        extra.is_empty(),
        "the archive needs undeclared symbols: {extra:?}"
    );
    assert!(needed.contains("__linux_syscall") && needed.contains("xnu_fixes_translate_path"));
    // No thread-local storage.
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let out = Command::new("readelf")
            .arg("-S")
            .arg(e.unwrap().path())
            .output()
            .unwrap();
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains(".tbss")
                && !String::from_utf8_lossy(&out.stdout).contains(".tdata"),
            "TLS section"
        );
    }
    // Every handler the header declares is exported.
    let header =
        std::fs::read_to_string(common::workspace().join("xnu-fixes/include/xnu_fixes.h")).unwrap();
    for line in header.lines() {
        let Some(open) = line.find('(') else { continue };
        let head = &line[..open];
        if line.starts_with(' ')
            || line.starts_with('#')
            || line.starts_with('/')
            || !line.ends_with(");")
        {
            continue;
        }
        let name = head.rsplit(|c: char| c == ' ' || c == '*').next().unwrap();
        if name == "__linux_syscall" || name == "xnu_fixes_translate_path" {
            continue;
        }
        assert!(
            exported.contains(name),
            "{name} declared in the header but not exported"
        );
    }
}
