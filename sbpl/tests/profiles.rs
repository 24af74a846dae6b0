//! Profiles with the shapes Nix 1.11 to 2.24 generate (written for these
//! tests, not copied), evaluated and planned.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sbpl::{evaluate, plan, Action, Options, Resource};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/profiles")
}

fn opts(params: &[(&str, &str)]) -> Options {
    Options {
        params: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        import_paths: vec![],
    }
}

fn nix_full_profile(outputs: &[&str], inputs: &[&str], extra: &str, import_style: bool) -> String {
    // version, deny default, defaults, outputs, inputs, ancestors, __sandboxProfile
    let mut s = String::from("(version 1)\n(deny default (with no-log))\n");
    if import_style {
        s.push_str("(import \"sandbox-defaults.sb\")\n");
    } else {
        s.push_str(&std::fs::read_to_string(dir().join("defaults.sb")).unwrap());
    }
    for o in outputs {
        s.push_str(&format!(
            "(allow file-read* file-write* process-exec (subpath \"{o}\"))\n"
        ));
    }
    s.push_str("(allow file-read* file-write* process-exec\n");
    for i in inputs {
        s.push_str(&format!("  (subpath \"{i}\")\n"));
    }
    s.push_str(")\n(allow file-read*\n  (literal \"/nix\")\n  (literal \"/nix/store\"))\n");
    s.push_str(extra);
    s
}

#[test]
fn nix_2_24_shape_with_inlined_defaults() {
    let src = nix_full_profile(
        &["/nix/store/out1-x"],
        &["/nix/store/in1-bash", "/private/tmp/nix-build-x-0"],
        "",
        false,
    );
    let p = evaluate(
        &src,
        "/tmp/nix-build-x-0/.sandbox.sb",
        &opts(&[
            ("_GLOBAL_TMP_DIR", "/private/tmp"),
            ("_NIX_BUILD_TOP", "/private/tmp/nix-build-x-0"),
        ]),
    )
    .unwrap();
    let read = |path| p.decide("file-read-data", &Resource::Path(path));
    let write = |path| p.decide("file-write-data", &Resource::Path(path));
    assert_eq!(read("/nix/store/in1-bash/bin/bash"), Action::Allow);
    assert_eq!(write("/nix/store/out1-x/bin/x"), Action::Allow);
    assert_eq!(read("/nix/store/other"), Action::Deny);
    assert_eq!(read("/etc/passwd"), Action::Deny);
    assert_eq!(
        p.decide("file-read-metadata", &Resource::Path("/etc")),
        Action::Allow
    );
    assert_eq!(
        p.decide(
            "mach-lookup",
            &Resource::GlobalName("com.apple.system.opendirectoryd.libinfo")
        ),
        Action::Allow
    );
    assert_eq!(
        p.decide(
            "mach-lookup",
            &Resource::GlobalName("com.apple.windowserver")
        ),
        Action::Deny
    );
    assert_eq!(
        p.decide("file-write-setugid", &Resource::Path("/nix/store/other")),
        Action::Deny
    );
    // Last match wins: the later `file*` grant on TMPDIR covers setugid too.
    assert_eq!(
        p.decide("file-write-setugid", &Resource::Path("/private/tmp/x")),
        Action::Allow
    );
    assert_eq!(write("/dev/ttys004"), Action::Allow);
    let pl = plan(&p);
    assert!(pl.deny_inet && pl.deny_setugid, "{pl:?}");
    assert!(pl
        .grants
        .iter()
        .any(|g| g.path == "/nix/store/out1-x" && g.access == 7));
    assert!(pl
        .grants
        .iter()
        .any(|g| g.path == "/private/tmp/nix-build-x-0"));
    // Without _ALLOW_LOCAL_NETWORKING the `if` added no network rule.
    assert!(
        !pl.unenforced.iter().any(|u| u.starts_with("network: only")),
        "{:?}",
        pl.unenforced
    );
}

#[test]
fn nix_2_0_shape_with_imports_from_import_dir() {
    let src = nix_full_profile(&["/nix/store/out2-y"], &["/nix/store/in2"], "", true);
    let o = opts(&[
        ("_GLOBAL_TMP_DIR", "/tmp"),
        ("IMPORT_DIR", dir().to_str().unwrap()),
    ]);
    // The defaults file is named sandbox-defaults.sb in that layout.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(
        dir().join("defaults.sb"),
        tmp.path().join("sandbox-defaults.sb"),
    )
    .unwrap();
    let o = Options {
        params: {
            let mut p = o.params;
            p.insert("IMPORT_DIR".into(), tmp.path().display().to_string());
            p
        },
        ..o
    };
    let p = evaluate(&src, "<input string>", &o).unwrap();
    assert_eq!(
        p.decide("file-read-data", &Resource::Path("/nix/store/in2/lib")),
        Action::Allow
    );
    assert_eq!(p.decide("process-fork", &Resource::Nothing), Action::Allow);
    // A missing import names the file, and is located in libsandbox's
    // prelude (where `import` is implemented), as on macOS.
    let e = evaluate("(version 1)\n(import \"sandbox-network.sb\")", "x.sb", &o).unwrap_err();
    assert_eq!(
        e.to_string(),
        "<internal init prelude>:292:47: unable to open sandbox-network.sb: not found"
    );
    assert_eq!(e.kind, sbpl::Kind::Other);
}

#[test]
fn local_networking_and_fixed_output_network_profile() {
    let src = nix_full_profile(&["/nix/store/o"], &[], "", false);
    let p = evaluate(
        &src,
        "t.sb",
        &opts(&[
            ("_GLOBAL_TMP_DIR", "/tmp"),
            ("_ALLOW_LOCAL_NETWORKING", "1"),
        ]),
    )
    .unwrap();
    let pl = plan(&p);
    assert!(!pl.deny_inet, "localhost networking must stay possible");
    assert!(
        pl.unenforced
            .iter()
            .any(|u| u.contains("remote ip \"localhost:*\"")),
        "{:?}",
        pl.unenforced
    );

    let net = std::fs::read_to_string(dir().join("network.sb")).unwrap();
    let src = format!("(version 1)\n(deny default)\n{net}");
    let pl = plan(&evaluate(&src, "t.sb", &opts(&[])).unwrap());
    assert!(!pl.deny_inet);
}

#[test]
fn minimal_profile_and_sandbox_profile_overrides_last() {
    let min = std::fs::read_to_string(dir().join("minimal.sb")).unwrap();
    let p = evaluate(&format!("(version 1)\n{min}"), "t.sb", &opts(&[])).unwrap();
    assert_eq!(
        p.decide("file-write-data", &Resource::Path("/anything")),
        Action::Allow
    );
    assert_eq!(
        p.decide("file-write-setugid", &Resource::Path("/anything")),
        Action::Deny
    );
    let pl = plan(&p);
    assert!(pl.fully_enforced() && pl.deny_setugid && pl.handled == 0);

    // nixpkgs' __sandboxProfile comes last and wins, with `with` modifiers.
    let extra = "(allow file-read* file-write* process-exec mach-lookup)\n(deny file-read* file-write* process-exec mach-lookup (subpath \"/usr/local\") (with no-log))\n";
    let src = nix_full_profile(&["/nix/store/o"], &[], extra, false);
    let p = evaluate(&src, "t.sb", &opts(&[("_GLOBAL_TMP_DIR", "/tmp")])).unwrap();
    assert_eq!(
        p.decide("file-read-data", &Resource::Path("/etc/passwd")),
        Action::Allow
    );
    assert_eq!(
        p.decide("file-read-data", &Resource::Path("/usr/local/bin/x")),
        Action::Deny
    );
    assert_eq!(p.rules.last().unwrap().modifiers, vec!["no-log"]);
    let pl = plan(&p);
    assert!(
        pl.unenforced.iter().any(|u| u.contains("/usr/local")),
        "{:?}",
        pl.unenforced
    );
}

#[test]
fn nix_1_11_shape_and_functions_and_absolute_imports() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("standard.sb");
    std::fs::write(&lib, "(define (allow-read-under dir) (allow file-read* (subpath dir)))\n(define-once LIBDIR \"/usr/lib\")\n").unwrap();
    let src = format!(
        "(version 1)\n(deny default)\n(import \"{}\")\n(allow-read-under LIBDIR)\n(allow-read-under (string-append (param \"_GLOBAL_TMP_DIR\") \"/sub\"))\n\
         (let ((x \"/opt\")) (allow file-read* (literal x)))\n(deny file-write-setugid)\n",
        lib.display()
    );
    let p = evaluate(&src, "t.sb", &opts(&[("_GLOBAL_TMP_DIR", "/tmp")])).unwrap();
    assert_eq!(
        p.decide(
            "file-read-data",
            &Resource::Path("/usr/lib/libSystem.B.dylib")
        ),
        Action::Allow
    );
    assert_eq!(
        p.decide("file-read-data", &Resource::Path("/tmp/sub/f")),
        Action::Allow
    );
    assert_eq!(
        p.decide("file-read-data", &Resource::Path("/opt")),
        Action::Allow
    );
    assert_eq!(
        p.decide("file-read-data", &Resource::Path("/opt/x")),
        Action::Deny
    );
}

#[test]
fn errors_carry_file_line_and_column() {
    let cases: &[(&str, &str)] = &[
        (
            "(version 1)\n(allow file-read* (subpath (param \"NOPE\")))",
            "t.sb:2:28: invalid data type of path filter; expected pattern, got boolean",
        ),
        (
            "(version 1)\n(allow bogus-op)",
            "t.sb:2:8: unbound variable: bogus-op",
        ),
        (
            "(version 2)",
            "t.sb:1:1: unsupported SBPL version 2 (only 1)",
        ),
        (
            "(version 1)\n(allow file-read* (literal \"/a\")",
            "t.sb:2:33: syntax error: expecting ')'",
        ),
        (
            "(allow network* (remote ip \"nohost\"))",
            "t.sb:1:28: invalid IP address: nohost",
        ),
        (
            "(allow file-read* (regex #\"([\"))",
            "t.sb:1:26: invalid regular expression: ([",
        ),
        ("(deny)", "t.sb:1:1: rule names no operation"),
        ("(frobnicate 1)", "t.sb:1:2: unbound variable: frobnicate"),
        (
            "(allow network* (local bogus))",
            "t.sb:1:24: unbound variable: bogus",
        ),
        ("(version 1))", "t.sb:1:12: syntax error: unexpected ')'"),
    ];
    for (src, want) in cases {
        let e = evaluate(src, "t.sb", &opts(&[])).unwrap_err();
        assert_eq!(e.to_string(), *want, "{src}");
        let kind = if want.contains(": syntax error: ") {
            sbpl::Kind::Syntax
        } else if want.contains(": unbound variable: ") {
            sbpl::Kind::Unbound
        } else {
            sbpl::Kind::Other
        };
        assert_eq!(e.kind, kind, "{src}");
    }
}

#[test]
fn large_profiles_are_fine() {
    // Nix splits its path list every 16 KiB; thousands of subpaths.
    let inputs: Vec<String> = (0..5000)
        .map(|i| format!("/nix/store/{i:032}-pkg"))
        .collect();
    let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let src = nix_full_profile(&["/nix/store/out"], &refs, "", false);
    assert!(src.len() > 200_000);
    let p = evaluate(&src, "t.sb", &opts(&[("_GLOBAL_TMP_DIR", "/tmp")])).unwrap();
    let pl = plan(&p);
    assert!(pl.grants.len() > 5000);
}
