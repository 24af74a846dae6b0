//! The Nix side of the repository, checked with the real Nix (Debian's 2.8)
//! without fetching nixpkgs: every .nix file parses, the flake's shape
//! evaluates, the module's config renderer produces a file build-hook
//! accepts, and every module option is documented.

use std::path::{Path, PathBuf};
use std::process::Command;

use e2e::Out;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn nix_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with('.') || name == "target" {
            continue;
        }
        if p.is_dir() {
            nix_files(&p, out);
        } else if name.ends_with(".nix") {
            out.push(p);
        }
    }
}

fn eval(expr: &str) -> Out {
    e2e::nix::require_nix();
    Command::new("nix-instantiate")
        .args(["--eval", "--strict", "--json", "-E", expr])
        .current_dir(repo())
        .output()
        .unwrap()
        .into()
}

#[test]
fn every_nix_file_parses() {
    e2e::nix::require_nix();
    let mut files = Vec::new();
    nix_files(&repo(), &mut files);
    assert!(files.len() >= 6, "{files:?}");
    for f in files {
        let o: Out = Command::new("nix-instantiate")
            .arg("--parse")
            .arg(&f)
            .output()
            .unwrap()
            .into();
        assert_eq!(o.code, 0, "{}: {}", f.display(), o.stderr);
    }
}

#[test]
fn flake_and_template_shapes_evaluate() {
    let o = eval("let f = import ./flake.nix; in { d = f.description; i = builtins.attrNames f.inputs; o = builtins.isFunction f.outputs; }");
    assert_eq!(o.code, 0, "{}", o.stderr);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert!(v["d"].as_str().unwrap().contains("x86_64-darwin"));
    assert_eq!(v["i"], serde_json::json!(["nixpkgs"]));
    assert_eq!(v["o"], true);
    let o = eval("let f = import ./nix/template/flake.nix; in builtins.attrNames f.inputs");
    assert_eq!(
        o.stdout.trim(),
        r#"["darling-nix","nixpkgs"]"#,
        "{}",
        o.stderr
    );
    // The overlay and module are functions of the right arity.
    let o = eval("[ (builtins.isFunction (import ./nix/overlay.nix)) (builtins.functionArgs (import ./nix/module.nix)) ]");
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v[0], true);
    for arg in ["config", "lib", "pkgs"] {
        assert!(
            v[1].get(arg).is_some(),
            "module does not take {arg}: {}",
            o.stdout
        );
    }
}

#[test]
fn module_config_renderer_produces_what_build_hook_accepts() {
    let d = tempfile::tempdir().unwrap();
    let expr = format!(
        r#"import ./nix/hook-config.nix {{ runner = "chroot"; prefix = "{0}"; darling = "/run/wrappers/bin/darling"; systems = [ "x86_64-darwin" ]; supported-features = [ "big-parallel" "benchmark" ]; max-jobs = 3; queue = null; state-dir = "{0}/state"; build-dir = "/var/tmp/darling-nix"; forward = [ "/nix/store/x-nix/bin/nix" "__build-remote" ]; register = "import"; }}"#,
        d.path().display()
    );
    let o = eval(&expr);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let toml: String = serde_json::from_str(&o.stdout).unwrap();
    assert!(
        toml.contains("max-jobs = 3\n")
            && toml.contains("supported-features = [\"big-parallel\", \"benchmark\"]\n"),
        "{toml}"
    );
    assert!(
        !toml.contains("queue"),
        "null settings are left out: {toml}"
    );
    let cfg = d.path().join("build-hook.toml");
    std::fs::write(&cfg, &toml).unwrap();
    let o: Out = Command::new(e2e::tool("build-hook"))
        .args(["--check", "--json", "--config"])
        .arg(&cfg)
        .output()
        .unwrap()
        .into();
    let findings: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let config = findings
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "config")
        .unwrap();
    assert_eq!(config["level"], "ok", "{}", o.stdout);
    let systems = findings
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "systems")
        .unwrap();
    assert!(systems["message"]
        .as_str()
        .unwrap()
        .contains("big-parallel, benchmark"));
}

#[test]
fn every_module_option_is_documented() {
    let module = std::fs::read_to_string(repo().join("nix/module.nix")).unwrap();
    let docs = std::fs::read_to_string(repo().join("docs/builder.md")).unwrap();
    let mut names = Vec::new();
    let mut group: Option<String> = None;
    for line in module.lines() {
        let t = line.trim_start();
        let indent = line.len() - t.len();
        if let Some(name) = t.strip_suffix(" = {").filter(|_| indent == 4) {
            group = Some(name.to_string());
        } else if indent == 4 && t.starts_with('}') {
            group = None;
        }
        if let Some((name, rest)) = t.split_once(" = ") {
            if rest.starts_with("mkOption") || rest.starts_with("mkEnableOption") {
                names.push(match &group {
                    Some(g) if indent > 4 => format!("{g}.{name}"),
                    _ => name.to_string(),
                });
            }
        }
    }
    assert!(names.len() >= 12, "{names:?}");
    for n in names {
        assert!(
            docs.contains(&format!("`services.darling-builder.{n}`")),
            "{n} is not documented in docs/builder.md"
        );
    }
}
