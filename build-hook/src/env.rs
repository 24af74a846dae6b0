//! The builder's environment, prepared the way Nix prepares it for a
//! local, unsandboxed build (Nix 2.8 `initEnv`/`initTmpDir`), plus the
//! structured-attributes files.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::base32;
use crate::drv::Derivation;
use crate::runner::BuildDir;

/// Inputs to environment preparation that come from Nix's settings and the
/// hook's own environment.
pub struct EnvParams<'a> {
    /// The store's logical directory (`/nix/store`): `NIX_STORE`.
    pub store_dir: &'a str,
    /// `NIX_BUILD_CORES`, as text.
    pub cores: &'a str,
    /// Looks up the hook's environment (for `impureEnvVars`).
    pub host_env: &'a dyn Fn(&str) -> Option<String>,
}

/// Builds the environment and writes the files it refers to (passAsFile
/// attributes, `.attrs.json`, `.attrs.sh`) into the build directory.
pub fn prepare(
    drv: &Derivation,
    dir: &BuildDir,
    p: &EnvParams,
) -> io::Result<BTreeMap<String, String>> {
    let mut env = BTreeMap::new();
    env.insert("PATH".into(), "/path-not-set".into());
    env.insert("HOME".into(), "/homeless-shelter".into());
    env.insert("NIX_STORE".into(), p.store_dir.into());
    env.insert("NIX_BUILD_CORES".into(), p.cores.into());

    if let Some(json) = drv.structured_attrs() {
        write_structured_attrs(drv, json, dir, &mut env)?;
    } else {
        let pass_as_file: Vec<&str> = drv
            .env
            .get("passAsFile")
            .map(|s| s.split_whitespace().collect())
            .unwrap_or_default();
        for (k, v) in &drv.env {
            if pass_as_file.contains(&k.as_str()) {
                let name = format!(".attr-{}", base32::encode(&Sha256::digest(k.as_bytes())));
                write_private(&dir.host.join(&name), v.as_bytes())?;
                env.insert(format!("{k}Path"), format!("{}/{name}", dir.inside));
            } else {
                env.insert(k.clone(), v.clone());
            }
        }
    }
    for k in ["NIX_BUILD_TOP", "TMPDIR", "TEMPDIR", "TMP", "TEMP", "PWD"] {
        env.insert(k.into(), dir.inside.clone());
    }
    env.insert("NIX_LOG_FD".into(), "2".into());
    env.insert("TERM".into(), "xterm-256color".into());

    if drv.is_fixed_output() {
        if let Some(vars) = drv.env.get("impureEnvVars") {
            for v in vars.split_whitespace() {
                if let Some(val) = (p.host_env)(v) {
                    env.insert(v.to_string(), val);
                }
            }
        }
        env.insert("NIX_OUTPUT_CHECKED".into(), "1".into());
    }
    Ok(env)
}

fn write_private(path: &Path, data: &[u8]) -> io::Result<()> {
    fs::write(path, data)
}

fn write_structured_attrs(
    drv: &Derivation,
    json: &str,
    dir: &BuildDir,
    env: &mut BTreeMap<String, String>,
) -> io::Result<()> {
    let mut v: Value = serde_json::from_str(json).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("__json is not valid JSON: {e}"),
        )
    })?;
    let Some(obj) = v.as_object_mut() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "__json is not a JSON object",
        ));
    };
    let outputs: serde_json::Map<String, Value> = drv
        .outputs
        .iter()
        .map(|o| (o.name.clone(), Value::String(o.path.clone())))
        .collect();
    obj.insert("outputs".into(), Value::Object(outputs));
    write_private(
        &dir.host.join(".attrs.json"),
        serde_json::to_string(&v).unwrap_or_default().as_bytes(),
    )?;
    write_private(&dir.host.join(".attrs.sh"), attrs_sh(&v).as_bytes())?;
    env.insert(
        "NIX_ATTRS_JSON_FILE".into(),
        format!("{}/.attrs.json", dir.inside),
    );
    env.insert(
        "NIX_ATTRS_SH_FILE".into(),
        format!("{}/.attrs.sh", dir.inside),
    );
    Ok(())
}

fn sh_ident(k: &str) -> bool {
    let mut c = k.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "1".into() } else { String::new() }),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

/// Bash declarations for the attributes that have a shell form: scalars,
/// lists of scalars (indexed arrays) and objects of scalars (associative
/// arrays). Anything else is only in `.attrs.json`.
pub fn attrs_sh(v: &Value) -> String {
    let q = crate::runner::sh_quote;
    let mut out = String::new();
    let Some(obj) = v.as_object() else { return out };
    for (k, val) in obj {
        if !sh_ident(k) {
            continue;
        }
        match val {
            Value::Array(items) => {
                let parts: Option<Vec<String>> = items.iter().map(scalar).collect();
                if let Some(parts) = parts {
                    out.push_str(&format!("declare -a {k}=("));
                    for p in parts {
                        out.push_str(&q(&p));
                        out.push(' ');
                    }
                    out.push_str(")\n");
                }
            }
            Value::Object(m) => {
                let parts: Option<Vec<(String, String)>> = m
                    .iter()
                    .map(|(mk, mv)| scalar(mv).map(|s| (mk.clone(), s)))
                    .collect();
                if let Some(parts) = parts {
                    out.push_str(&format!("declare -A {k}=("));
                    for (mk, mv) in parts {
                        out.push_str(&format!("[{}]={} ", q(&mk), q(&mv)));
                    }
                    out.push_str(")\n");
                }
            }
            other => {
                if let Some(s) = scalar(other) {
                    out.push_str(&format!("declare {k}={}\n", q(&s)));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drv::Output;

    fn drv(env: &[(&str, &str)]) -> Derivation {
        Derivation {
            outputs: vec![Output {
                name: "out".into(),
                path: "/nix/store/aaaa-x".into(),
                hash_algo: String::new(),
                hash: String::new(),
            }],
            builder: "/bin/sh".into(),
            system: "x86_64-darwin".into(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn plain_env_with_pass_as_file() {
        let d = tempfile::tempdir().unwrap();
        let dir = BuildDir {
            host: d.path().into(),
            inside: "/inside/b".into(),
        };
        let none = |_: &str| None;
        let p = EnvParams {
            store_dir: "/nix/store",
            cores: "4",
            host_env: &none,
        };
        let env = prepare(
            &drv(&[
                ("out", "/nix/store/aaaa-x"),
                ("big", "data"),
                ("passAsFile", "big"),
            ]),
            &dir,
            &p,
        )
        .unwrap();
        assert_eq!(env["HOME"], "/homeless-shelter");
        assert_eq!(env["PATH"], "/path-not-set");
        assert_eq!(env["NIX_BUILD_TOP"], "/inside/b");
        assert_eq!(env["TMPDIR"], "/inside/b");
        assert_eq!(env["NIX_BUILD_CORES"], "4");
        assert_eq!(env["NIX_LOG_FD"], "2");
        assert!(!env.contains_key("big"));
        let path = &env["bigPath"];
        let name = path.strip_prefix("/inside/b/").unwrap();
        assert_eq!(fs::read_to_string(d.path().join(name)).unwrap(), "data");
        assert!(!env.contains_key("NIX_OUTPUT_CHECKED"));
    }

    #[test]
    fn structured_attrs_files() {
        let d = tempfile::tempdir().unwrap();
        let dir = BuildDir {
            host: d.path().into(),
            inside: "/b".into(),
        };
        let none = |_: &str| None;
        let p = EnvParams {
            store_dir: "/nix/store",
            cores: "1",
            host_env: &none,
        };
        let json = r#"{"name":"x","list":["a","b c"],"n":3,"flag":true,"deep":{"k":"v"},"nested":[{"x":1}]}"#;
        let env = prepare(&drv(&[("__json", json)]), &dir, &p).unwrap();
        assert_eq!(env["NIX_ATTRS_JSON_FILE"], "/b/.attrs.json");
        let j: Value =
            serde_json::from_str(&fs::read_to_string(d.path().join(".attrs.json")).unwrap())
                .unwrap();
        assert_eq!(j["outputs"]["out"], "/nix/store/aaaa-x");
        let sh = fs::read_to_string(d.path().join(".attrs.sh")).unwrap();
        // Check with a real shell that the declarations mean what they say.
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!(
                "{sh}\necho \"$name|${{list[1]}}|$n|$flag|${{deep[k]}}|${{outputs[out]}}\""
            ))
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "x|b c|3|1|v|/nix/store/aaaa-x"
        );
        assert!(!sh.contains("nested"));
    }

    #[test]
    fn fixed_output_gets_impure_vars() {
        let d = tempfile::tempdir().unwrap();
        let dir = BuildDir {
            host: d.path().into(),
            inside: "/b".into(),
        };
        let host = |k: &str| (k == "http_proxy").then(|| "http://proxy".to_string());
        let p = EnvParams {
            store_dir: "/nix/store",
            cores: "1",
            host_env: &host,
        };
        let mut dv = drv(&[("impureEnvVars", "http_proxy ftp_proxy")]);
        dv.outputs[0].hash_algo = "sha256".into();
        dv.outputs[0].hash = "00".into();
        let env = prepare(&dv, &dir, &p).unwrap();
        assert_eq!(env["http_proxy"], "http://proxy");
        assert!(!env.contains_key("ftp_proxy"));
        assert_eq!(env["NIX_OUTPUT_CHECKED"], "1");
    }
}
