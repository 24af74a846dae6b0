//! The hook binary against hand-written protocol streams: every reply, the
//! slot limit, malformed and truncated input, and secrets in the settings.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use build_hook::protocol::{Settings, TryRequest};
use build_hook::wire::WireWriter;
use e2e::Out;

mod common;
use common::{hook, session};

fn config(dir: &Path, extra: &str) -> PathBuf {
    let p = dir.join("hook.toml");
    fs::write(
        &p,
        format!(
            "runner = \"chroot\"\nprefix = \"{}\"\nstate-dir = \"{}\"\n{extra}\n",
            dir.display(),
            dir.join("state").display()
        ),
    )
    .unwrap();
    p
}

fn settings() -> Settings {
    Settings::from_pairs([
        ("access-tokens", "github.com=ghp_SECRETSECRET"),
        ("max-silent-time", "0"),
        ("store", "auto"),
    ])
}

fn try_req(system: &str, features: &[&str]) -> TryRequest {
    TryRequest {
        am_willing: true,
        system: system.into(),
        drv_path: format!("/nix/store/00000000000000000000000000000000-{system}.drv"),
        required_features: features.iter().map(|s| s.to_string()).collect(),
    }
}

fn stream(tries: &[TryRequest]) -> Vec<u8> {
    let mut w = WireWriter::new();
    settings().encode(&mut w);
    for t in tries {
        t.encode(&mut w);
    }
    w.buf
}

#[test]
fn declines_what_is_not_darwin_and_ends_cleanly() {
    let d = tempfile::tempdir().unwrap();
    let cfg = config(d.path(), "");
    let o = session(
        &cfg,
        &["7"],
        &stream(&[
            try_req("x86_64-linux", &[]),
            try_req("builtin", &[]),
            try_req("x86_64-darwin", &["kvm"]),
        ]),
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let replies: Vec<&str> = o.stderr.lines().filter(|l| l.starts_with("# ")).collect();
    assert_eq!(replies, ["# decline", "# decline", "# decline"]);
    // Diagnostics are @nix JSON lines (plain lines would be echoed by Nix).
    for l in o.stderr.lines().filter(|l| !l.starts_with("# ")) {
        let j: serde_json::Value = serde_json::from_str(l.strip_prefix("@nix ").expect(l)).unwrap();
        assert_eq!(j["action"], "msg");
    }
    assert!(!o.stderr.contains("SECRET") && !o.stdout.contains("SECRET"));
}

#[test]
fn postpones_while_every_slot_is_held_by_another_process() {
    let d = tempfile::tempdir().unwrap();
    let cfg = config(d.path(), "max-jobs = 1\nqueue = 0");
    let slots = d.path().join("state/slots");
    fs::create_dir_all(&slots).unwrap();
    let held = fs::File::create(slots.join("0.lock")).unwrap();
    held.lock().unwrap();
    let o = session(
        &cfg,
        &["3"],
        &stream(&[
            try_req("x86_64-darwin", &[]),
            try_req("x86_64-darwin", &["big-parallel"]),
        ]),
    );
    assert_eq!((o.code, o.stderr.as_str()), (0, "# postpone\n# postpone\n"));
}

#[test]
fn accept_is_the_reply_then_the_label_with_nothing_between() {
    let d = tempfile::tempdir().unwrap();
    let cfg = config(d.path(), "label = \"darling-test\"");
    // EOF right after the accept: the hook then fails reading the inputs.
    let o = session(&cfg, &["7"], &stream(&[try_req("x86_64-darwin", &[])]));
    assert!(
        o.stderr.starts_with("# accept\ndarling-test\n"),
        "{}",
        o.stderr
    );
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("bad build inputs from Nix"),
        "{}",
        o.stderr
    );
}

#[test]
fn malformed_and_truncated_input_end_with_a_clear_error() {
    let d = tempfile::tempdir().unwrap();
    let cfg = config(d.path(), "");
    // A bad tag in the settings block.
    let mut w = WireWriter::new();
    w.u64(7);
    let o = session(&cfg, &["0"], &w.buf);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("unexpected tag 7"), "{}", o.stderr);
    // Cut the stream at every byte: never a hang, a panic or a reply to a
    // request that did not fully arrive.
    let full = stream(&[try_req("x86_64-linux", &[])]);
    let settings_len = {
        let mut w = WireWriter::new();
        settings().encode(&mut w);
        w.buf.len()
    };
    for cut in (0..full.len()).step_by(3) {
        let o = session(&cfg, &["0"], &full[..cut]);
        if cut == 0 || cut == settings_len {
            assert_eq!(o.code, 0, "cut {cut}: {}", o.stderr);
        } else {
            assert_eq!(o.code, 1, "cut {cut}: {}", o.stderr);
            assert!(
                o.stderr.contains("input ended in the middle of"),
                "cut {cut}: {}",
                o.stderr
            );
        }
        assert!(
            !o.stderr.contains("# "),
            "cut {cut}: replied to a partial request"
        );
        assert!(!o.stderr.contains("panicked"), "cut {cut}");
    }
    // A huge length is refused without allocating it.
    let mut w = WireWriter::new();
    w.u64(1).u64(u64::MAX);
    let o = session(&cfg, &["0"], &w.buf);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("more than the limit"), "{}", o.stderr);
}

#[test]
fn a_broken_config_declines_everything_and_says_why() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("bad.toml");
    fs::write(&p, "max-jobs = \"many\"\n").unwrap();
    let o = session(&p, &["0"], &stream(&[try_req("x86_64-darwin", &[])]));
    assert_eq!(o.code, 0);
    assert!(o.stderr.contains("configuration error"), "{}", o.stderr);
    assert!(o.stderr.ends_with("# decline\n"), "{}", o.stderr);
}

#[test]
fn argv_shapes_of_every_nix_version() {
    let d = tempfile::tempdir().unwrap();
    let cfg = config(d.path(), "");
    let input = stream(&[try_req("x86_64-linux", &[])]);
    // 2.8: [hook, verbosity]; 2.12+: [hook, extra args..., verbosity].
    for args in [
        &["3"][..],
        &["--set", "label=x", "3"][..],
        &["--config", cfg.to_str().unwrap(), "3"][..],
    ] {
        let o = session(&cfg, args, &input);
        assert_eq!((o.code, o.stderr.as_str()), (0, "# decline\n"), "{args:?}");
    }
    let o = session(&cfg, &["banana"], &input);
    assert_eq!(o.code, 2);
    let o = session(&cfg, &[], &input);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("--check"));
}

#[test]
fn check_reports_problems_and_speaks_json() {
    let d = tempfile::tempdir().unwrap();
    let cfg = config(d.path(), "max-jobs = 3");
    let o: Out = Command::new(hook())
        .args(["--check", "--json", "--config"])
        .arg(&cfg)
        .output()
        .unwrap()
        .into();
    let j: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let find = |c: &str| {
        j.as_array()
            .unwrap()
            .iter()
            .find(|f| f["check"] == c)
            .cloned()
            .unwrap()
    };
    assert_eq!(find("slots")["level"], "ok", "{}", o.stdout);
    assert!(find("slots")["message"]
        .as_str()
        .unwrap()
        .contains("3 slots"));
    assert_eq!(find("runner")["level"], "ok", "{}", o.stdout);
    assert_eq!(find("nix-store")["level"], "ok", "{}", o.stdout);
    assert_eq!(o.code, 0, "{}", o.stdout);

    // A darling runner without Darling, and a missing prefix: exit 1, named.
    let bad = d.path().join("bad.toml");
    fs::write(&bad, "runner = \"darling\"\ndarling = \"/nonexistent/darling\"\nprefix = \"/nonexistent/prefix\"\n").unwrap();
    let o: Out = Command::new(hook())
        .args(["--check", "--config"])
        .arg(&bad)
        .output()
        .unwrap()
        .into();
    assert_eq!(o.code, 1, "{}", o.stdout);
    assert!(
        o.stdout.contains("error runner") && o.stdout.contains("/nonexistent/darling"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("/nonexistent/prefix"), "{}", o.stdout);
    // The guard helper, found next to the hook (cargo builds the workspace's
    // binaries into one directory) or reported missing.
    let beside = hook().with_file_name("darling-nix-guard").is_file();
    let want = if beside {
        ["ok", "guard"]
    } else {
        ["warn", "guard"]
    };
    assert!(
        o.stdout
            .lines()
            .any(|l| l.split_whitespace().take(2).eq(want)),
        "{want:?}: {}",
        o.stdout
    );
}
