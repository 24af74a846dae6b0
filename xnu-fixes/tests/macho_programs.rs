//! The Mach-O test programs the live tier runs inside Darling, checked
//! where there is no Darling (CI): they build with zig from PyPI and its own
//! libSystem stubs, their load commands are those of a macOS 11 x86_64
//! program that needs nothing but libSystem, and the symbols they import
//! are the ones the live tests mean to exercise. Darling-only symbols are
//! not imported: the glue finds them at run time, so dyld never refuses to
//! start a program over them.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// What the checks read from one program.
struct Program {
    /// `cmd` of every load command, in order.
    commands: Vec<String>,
    /// The `name` of every LC_LOAD_DYLIB.
    dylibs: Vec<String>,
    platform: String,
    minos: String,
    header: String,
    undefined: BTreeSet<String>,
    defined: BTreeSet<String>,
}

fn read(exe: &Path, objdump: &Path, nm: &Path) -> Program {
    let text = common::stdout_of(
        Command::new(objdump)
            .args(["--macho", "--private-headers"])
            .arg(exe),
    );
    let mut p = Program {
        commands: Vec::new(),
        dylibs: Vec::new(),
        platform: String::new(),
        minos: String::new(),
        header: text
            .lines()
            .find(|l| l.starts_with("MH_MAGIC"))
            .unwrap_or_default()
            .to_string(),
        undefined: BTreeSet::new(),
        defined: BTreeSet::new(),
    };
    let mut current = String::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let (Some(key), Some(value)) = (words.next(), words.next()) else {
            continue;
        };
        match key {
            "cmd" => {
                current = value.to_string();
                p.commands.push(current.clone());
            }
            "name" if current == "LC_LOAD_DYLIB" => p.dylibs.push(value.to_string()),
            "platform" if current == "LC_BUILD_VERSION" => p.platform = value.to_string(),
            "minos" if current == "LC_BUILD_VERSION" => p.minos = value.to_string(),
            _ => {}
        }
    }
    let symbols = |flag: &str| -> BTreeSet<String> {
        common::stdout_of(
            Command::new(nm)
                .arg(flag)
                .arg("--just-symbol-name")
                .arg(exe),
        )
        .lines()
        .map(str::to_string)
        .collect()
    };
    p.undefined = symbols("--undefined-only");
    p.defined = symbols("--defined-only");
    p
}

#[test]
fn macho_test_programs_build_with_zig_and_need_only_libsystem() {
    const TEST: &str = "Mach-O test programs";
    if let Err(why) = common::ensure_darwin_target() {
        return common::skip(TEST, &why);
    }
    let (Some(objdump), Some(nm)) = (common::llvm("llvm-objdump"), common::llvm("llvm-nm")) else {
        return common::skip(TEST, "no llvm-objdump/llvm-nm (Debian package `llvm`)");
    };
    if let Err(why) = common::zig() {
        return common::skip(TEST, &why);
    }
    let dir = tempfile::tempdir().unwrap();
    let header =
        std::fs::read_to_string(common::workspace().join("xnu-fixes/include/xnu_fixes.h")).unwrap();
    for (name, sources) in common::macho_programs() {
        let exe = dir.path().join(name);
        if let Err(e) = common::build_macho(&sources, &exe) {
            panic!("{e}");
        }
        let p = read(&exe, &objdump, &nm);
        assert!(
            p.header.contains("X86_64") && p.header.contains("EXECUTE"),
            "{name}: not an x86_64 executable: {}",
            p.header
        );
        assert_eq!(
            (p.platform.as_str(), p.minos.as_str()),
            ("macos", "11.0"),
            "{name}: build version"
        );
        assert!(
            p.commands.iter().any(|c| c == "LC_MAIN"),
            "{name}: no LC_MAIN"
        );
        assert_eq!(p.dylibs, ["/usr/lib/libSystem.B.dylib"], "{name}: dylibs");
        // Looked up at run time, never bound by dyld.
        for darling_only in [
            "___linux_syscall",
            "___darling_vchroot_expand",
            "_sandbox_init",
        ] {
            assert!(
                !p.undefined.contains(darling_only),
                "{name} imports {darling_only}"
            );
        }
        for lookup in ["_dlopen", "_dlsym"] {
            assert!(
                p.undefined.contains(lookup),
                "{name} does not import {lookup}"
            );
        }
        match name {
            // Darling's own answers: the libSystem calls our handlers replace.
            "darling-today" => {
                for call in [
                    "_renamex_np",
                    "_clonefile",
                    "_getattrlist",
                    "_setattrlist",
                    "_chflags",
                    "_getentropy",
                ] {
                    assert!(p.undefined.contains(call), "{name} does not call {call}");
                }
                assert!(
                    !p.defined.iter().any(|s| s.starts_with("_xnu_fixes_")),
                    "{name} carries xnu-fixes"
                );
            }
            // Our handlers, linked in, and the two hooks defined by the glue.
            "live-suite" => {
                for hook in ["___linux_syscall", "_xnu_fixes_translate_path"] {
                    assert!(p.defined.contains(hook), "{name} does not define {hook}");
                }
                let called: Vec<String> = header
                    .lines()
                    .filter_map(|l| l.strip_prefix("long xnu_fixes_"))
                    .filter_map(|l| l.split('(').next())
                    .map(|f| format!("_xnu_fixes_{f}"))
                    .collect();
                assert!(called.len() >= 10, "header read: {called:?}");
                let missing: Vec<_> = called.iter().filter(|f| !p.defined.contains(*f)).collect();
                assert!(missing.is_empty(), "{name} lacks handlers: {missing:?}");
            }
            other => panic!("unknown program {other}"),
        }
    }
}
