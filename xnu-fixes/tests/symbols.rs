//! The production archive (no shim) may need nothing from its host beyond
//! the two declared hooks and the mem* functions, so it links into Darling's
//! freestanding libsystem_kernel; and it must export every handler. Checked
//! for the Linux build (readelf) and for the Mach-O build Darling links
//! (`x86_64-apple-darwin`, read with llvm-nm).

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
    for name in header_functions(&header) {
        if name == "__linux_syscall" || name == "xnu_fixes_translate_path" {
            continue;
        }
        assert!(
            exported.contains(&name),
            "{name} declared in the header but not exported"
        );
    }
}

/// One archive member's symbols, as `llvm-nm -m` reports them.
#[derive(Default)]
struct Member {
    defined: BTreeSet<String>,
    exported: BTreeSet<String>,
    undefined: BTreeSet<String>,
    sections: BTreeSet<String>,
}

#[test]
fn macho_archive_exports_the_header_and_needs_only_the_declared_hooks() {
    // CI (DARLING_NIX_TOOLS=require) must run this; elsewhere a missing
    // tool or target is one skip line.
    let skip = |why: String| common::skip("Mach-O symbol check", &why);
    if let Err(why) = common::ensure_darwin_target() {
        return skip(why);
    }
    let Some(nm) = common::llvm("llvm-nm") else {
        return skip("no llvm-nm (Debian package `llvm`)".into());
    };
    let lib = common::staticlib_for("prod-darwin", "staticlib", Some(common::DARWIN));
    // --no-llvm-bc: read the Mach-O symbol tables, not the embedded bitcode
    // (which an older llvm-nm cannot parse).
    let out = Command::new(&nm)
        .args(["--no-llvm-bc", "-A", "-m"])
        .arg(&lib)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut members: std::collections::BTreeMap<String, Member> = Default::default();
    for line in text.lines() {
        // "<archive>:<member>.o: [value] (seg,sect)|(undefined) [attrs] name"
        let Some((head, rest)) = line.split_once(".o: ") else {
            continue;
        };
        let m = members.entry(head.to_string()).or_default();
        let words: Vec<&str> = rest.split_whitespace().collect();
        let Some(name) = words.last().map(|s| s.to_string()) else {
            continue;
        };
        if let Some(sect) = words.iter().find(|w| w.starts_with('(') && w.contains(',')) {
            m.sections.insert(sect.to_string());
        }
        let external = words.contains(&"external") && !words.contains(&"private");
        if words.contains(&"(undefined)") {
            if words.contains(&"external") {
                m.undefined.insert(name);
            }
        } else if words.contains(&"external") {
            m.defined.insert(name.clone());
            if external {
                m.exported.insert(name);
            }
        }
    }
    assert!(
        !members.is_empty(),
        "llvm-nm read nothing from {}:\n{}",
        lib.display(),
        String::from_utf8_lossy(&out.stderr)
    );

    // What a linker pulls in: the members defining our exports, then every
    // member that defines something those still need, to a fixed point.
    let header =
        std::fs::read_to_string(common::workspace().join("xnu-fixes/include/xnu_fixes.h")).unwrap();
    let declared: Vec<String> = header_functions(&header)
        .into_iter()
        .filter(|n| n != "__linux_syscall" && n != "xnu_fixes_translate_path")
        .map(|n| format!("_{n}"))
        .collect();
    let mut pulled: BTreeSet<&String> = BTreeSet::new();
    let mut wanted: BTreeSet<String> = declared.iter().cloned().collect();
    loop {
        let before = pulled.len();
        for (name, m) in &members {
            if !pulled.contains(name) && m.defined.iter().any(|d| wanted.contains(d)) {
                pulled.insert(name);
                wanted.extend(m.undefined.iter().cloned());
            }
        }
        if pulled.len() == before {
            break;
        }
    }
    let defined: BTreeSet<&String> = pulled.iter().flat_map(|n| &members[*n].defined).collect();
    let needed: BTreeSet<&String> = wanted.iter().filter(|s| !defined.contains(s)).collect();
    // Mach-O names carry a leading underscore; LLVM lowers zeroing memsets
    // to Darwin's `__bzero` (libsystem_platform provides it).
    let allowed = [
        "___linux_syscall",
        "_xnu_fixes_translate_path",
        "_memcpy",
        "_memmove",
        "_memset",
        "_memcmp",
        "_bcmp",
        "___bzero",
    ];
    let extra: Vec<_> = needed
        .iter()
        .filter(|s| !allowed.contains(&s.as_str()))
        .collect();
    assert!(
        extra.is_empty(),
        "the Mach-O archive needs undeclared symbols: {extra:?}"
    );
    assert!(
        needed.iter().any(|s| *s == "___linux_syscall")
            && needed.iter().any(|s| *s == "_xnu_fixes_translate_path"),
        "the hooks are not referenced: {needed:?}"
    );
    for name in &declared {
        assert!(
            pulled.iter().any(|m| members[*m].exported.contains(name)),
            "{name} declared in the header but not exported from the Mach-O archive"
        );
    }
    // A Mach-O program gets the two hooks from Darling's libsystem_kernel
    // at run time (dylib/darling_hooks.c): the installed Darling must
    // export both under the names the glue looks up.
    match common::darling_kernel() {
        None => {
            assert!(
                !e2e::live::required(),
                "DARLING_NIX_LIVE=require but no installed Darling's libsystem_kernel"
            );
            e2e::skip_line("skipped libsystem_kernel's exports check: no installed Darling");
        }
        Some(k) => {
            let out = Command::new(&nm)
                .args(["--extern-only", "--defined-only"])
                .arg(&k)
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            let has: BTreeSet<&str> = text
                .lines()
                .filter_map(|l| l.split_whitespace().last())
                .collect();
            for sym in ["___linux_syscall", "___darling_vchroot_expand"] {
                assert!(has.contains(sym), "{} does not export {sym}", k.display());
            }
        }
    }
    // No thread-local storage (Darling's libsystem_kernel sets up no TLV).
    for m in &pulled {
        let tls: Vec<_> = members[*m]
            .sections
            .iter()
            .filter(|s| s.contains("__thread_"))
            .collect();
        assert!(tls.is_empty(), "TLS sections in {m}: {tls:?}");
    }
}

/// Function names the header declares (top-level prototypes).
fn header_functions(header: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in header.lines() {
        let Some(open) = line.find('(') else { continue };
        if line.starts_with(' ')
            || line.starts_with('#')
            || line.starts_with('/')
            || !line.ends_with(");")
        {
            continue;
        }
        let head = &line[..open];
        names.push(head.rsplit([' ', '*']).next().unwrap().to_string());
    }
    names
}
