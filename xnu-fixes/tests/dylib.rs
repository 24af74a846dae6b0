//! libxnu_fixes.dylib, checked where there is no Darling (CI): it builds
//! with `dylib/build.sh` (zig from PyPI, no SDK), is an x86_64 dylib whose
//! `__DATA,__interpose` section holds exactly the documented entries, each
//! bound to libSystem's function, defines none of the names it replaces,
//! and finds Darling's own symbols at run time rather than importing them.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

/// What the dylib interposes (docs/tools/xnu-fixes.md, dylib/interpose.c).
const INTERPOSED: &[&str] = &[
    "_renamex_np",
    "_renameatx_np",
    "_clonefile",
    "_clonefileat",
    "_fclonefileat",
    "_getattrlist",
    "_fgetattrlist",
    "_getattrlistat",
    "_setattrlist",
    "_fsetattrlist",
    "_setattrlistat",
    "_chflags",
    "_fchflags",
    "_getentropy",
    "_sandbox_init",
    "_sandbox_init_with_parameters",
    "_sandbox_init_with_extensions",
    "_sandbox_free_error",
    "___ulock_wait",
    "___ulock_wait2",
    "___ulock_wake",
    "_setrlimit",
    "_os_unfair_lock_lock",
    "_os_unfair_lock_unlock",
];

#[test]
fn the_dylib_interposes_exactly_the_documented_calls() {
    const TEST: &str = "libxnu_fixes.dylib";
    let (Some(objdump), Some(nm)) = (common::llvm("llvm-objdump"), common::llvm("llvm-nm")) else {
        return common::skip(TEST, "no llvm-objdump/llvm-nm (Debian package `llvm`)");
    };
    let dylib = match common::build_dylib("dylib") {
        Ok(d) => d,
        Err(why) => return common::skip(TEST, &why),
    };

    let header = common::stdout_of(
        Command::new(&objdump)
            .args(["--macho", "--private-header"])
            .arg(&dylib),
    );
    assert!(
        header.contains("X86_64") && header.contains("DYLIB"),
        "{header}"
    );
    let sections = common::stdout_of(
        Command::new(&objdump)
            .args(["--macho", "--section-headers"])
            .arg(&dylib),
    );
    let size = sections
        .lines()
        .find(|l| l.contains("__interpose"))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|s| u64::from_str_radix(s, 16).ok())
        .unwrap_or_else(|| panic!("no __interpose section: {sections}"));
    assert_eq!(size, 16 * INTERPOSED.len() as u64, "two pointers per entry");

    // Each entry's replacee is bound to libSystem's symbol.
    let binds = common::stdout_of(
        Command::new(&objdump)
            .args(["--macho", "--bind"])
            .arg(&dylib),
    );
    let bound: BTreeSet<&str> = binds
        .lines()
        .filter(|l| l.contains("__interpose"))
        .filter(|l| l.contains("libSystem"))
        .filter_map(|l| l.split_whitespace().last())
        .collect();
    let want: BTreeSet<&str> = INTERPOSED.iter().copied().collect();
    assert_eq!(bound, want);

    let defined = common::stdout_of(
        Command::new(&nm)
            .args(["--defined-only", "--just-symbol-name"])
            .arg(&dylib),
    );
    let defined: BTreeSet<&str> = defined.lines().collect();
    for name in INTERPOSED {
        assert!(
            !defined.contains(name),
            "the dylib defines {name}, which it must import"
        );
    }
    let undefined = common::stdout_of(
        Command::new(&nm)
            .args(["--undefined-only", "--just-symbol-name"])
            .arg(&dylib),
    );
    for darling_only in ["___linux_syscall", "___darling_vchroot_expand"] {
        assert!(
            !undefined.lines().any(|l| l == darling_only),
            "imports {darling_only}"
        );
    }
    for lookup in ["_dlopen", "_dlsym"] {
        assert!(undefined.lines().any(|l| l == lookup), "no {lookup}");
    }
    // The hooks stay private: a flat lookup in the process must never find
    // this dylib's __linux_syscall.
    // The probe beside it calls libSystem's getentropy (which the dylib
    // replaces when loaded).
    let probe = dylib.with_file_name("xnu-fixes-probe");
    let probe_imports = common::stdout_of(
        Command::new(&nm)
            .args(["--undefined-only", "--just-symbol-name"])
            .arg(&probe),
    );
    assert!(
        probe_imports.lines().any(|l| l == "_getentropy"),
        "{probe_imports}"
    );
    let exported = common::stdout_of(
        Command::new(&nm)
            .args(["--extern-only", "--defined-only", "--just-symbol-name"])
            .arg(&dylib),
    );
    assert!(
        !exported.lines().any(|l| l == "___linux_syscall"),
        "{exported}"
    );
    assert!(
        exported.lines().any(|l| l == "_xnu_fixes_getattrlist"),
        "{exported}"
    );
}
