//! The Nix side of the repository, checked with the real Nix (Debian's 2.8)
//! without fetching nixpkgs: every .nix file parses, the flake's shape
//! evaluates, the module's config renderer produces a file build-hook
//! accepts, every module option is documented, and the module (evaluated
//! with stand-ins for nixpkgs) picks the route build-hook would.

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

/// The module evaluated with stand-ins for nixpkgs' `lib` (the few functions
/// it uses, written as nixpkgs writes them) and `pkgs`: the route it picks
/// for each Nix, and the tools tree the prefix service installs.
#[test]
fn module_picks_the_route_build_hook_would_and_the_configured_tree() {
    let expr = r#"
      let
        mod = import ./nix/module.nix;
        take = n: l: if builtins.length l <= n then l else builtins.genList (builtins.elemAt l) n;
        lib = rec {
          mkOption = o: o;
          mkEnableOption = d: { default = false; };
          mkIf = c: v: { _if = c; _v = v; };
          literalExpression = x: x;
          types = { package = "package"; path = "path"; bool = "bool"; str = "str"; int = "int";
            nullOr = t: t; listOf = t: t; attrsOf = t: t; oneOf = t: t; ints.between = a: b: "int"; };
          versionOlder = v1: v2: builtins.compareVersions v2 v1 == 1;
          versionAtLeast = v1: v2: !versionOlder v1 v2;
          versions.majorMinor = v: builtins.concatStringsSep "." (take 2 (builtins.splitVersion v));
        };
        pkgs = {
          darling-nix = { all = "/nix/store/x-darling-nix"; prefix-tree = "/nix/store/x-prefix-tree"; };
          stdenv.hostPlatform.system = "x86_64-linux";
          util-linux = "/nix/store/x-util-linux"; coreutils = "/nix/store/x-coreutils";
          runtimeShell = "/bin/sh";
        };
        opts = (mod { config = { }; inherit lib pkgs; }).options.services.darling-builder;
        defaults = builtins.mapAttrs (n: o: o.default or null) (removeAttrs opts [ "sshServe" ])
          // { sshServe = { enable = false; keys = [ ]; }; };
        run = { version ? null, pname ? "nix", extra ? { } }:
          let
            package = { inherit pname; outPath = "/nix/store/x-nix"; }
              // (if version == null then { } else { inherit version; });
            cfg = defaults // { enable = true; darlingPackage = "/nix/store/x-darling"; } // extra;
            out = (mod {
              inherit lib pkgs;
              config = { services.darling-builder = cfg; nix.package = package; security.wrapperDir = "/run/wrappers/bin"; };
            }).config._v;
          in {
            hook = out.nix.settings.build-hook._if;
            builders = out.nix.buildMachines._if;
            tree = out.systemd.services.darling-prefix.environment.TOOLS_TREE;
          };
        hook = v: (run { version = v; }).hook;
      in {
        nix = map hook [ "2.8.0" "2.24.10" "2.25pre20241010_0123abcd" "2.25.0" "2.28.3" "2.33.1" "2.34pre20250101_0123abcd" "2.34.0" ];
        lix = map (v: (run { version = v; pname = "lix"; }).hook) [ "2.93.3" "2.94.0" ];
        unknown = run { };
        tree = (run { version = "2.28.3"; }).tree;
        own = (run { version = "2.28.3"; extra.prefixTree = "/nix/store/y-prefix-tree"; }).tree;
      }
    "#;
    let o = eval(expr);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    // As build-hook's `honours_hook_line`: major.minor only, 2.25 to 2.33
    // (pre-releases of 2.25 included) get the builder.
    assert_eq!(
        v["nix"],
        serde_json::json!([true, true, false, false, false, false, true, true]),
        "{}",
        o.stdout
    );
    assert_eq!(v["lix"], serde_json::json!([true, false]), "{}", o.stdout);
    // No version: the builder, which every Nix honours (route auto without
    // a Nix).
    assert_eq!(v["unknown"]["hook"], false, "{}", o.stdout);
    assert_eq!(v["unknown"]["builders"], true, "{}", o.stdout);
    assert_eq!(v["tree"], "/nix/store/x-prefix-tree");
    assert_eq!(v["own"], "/nix/store/y-prefix-tree");
}
