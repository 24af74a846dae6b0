//! `build-hook --check`: validates the whole setup and says what is wrong,
//! in words or as JSON.

use std::path::Path;

use serde::Serialize;

use crate::config::{Config, ConfigError, Register, RunnerKind};
use crate::runner;
use crate::slots;
use crate::store;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warn,
    Error,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub level: Level,
    pub check: &'static str,
    pub message: String,
}

fn f(level: Level, check: &'static str, message: impl Into<String>) -> Finding {
    Finding {
        level,
        check,
        message: message.into(),
    }
}

/// Reads the `build-hook` line of nix.conf, if any.
fn nix_conf_hook() -> Option<(String, String)> {
    let dir = std::env::var("NIX_CONF_DIR").unwrap_or_else(|_| "/etc/nix".into());
    let path = format!("{dir}/nix.conf");
    let text = std::fs::read_to_string(&path).ok()?;
    text.lines().rev().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == "build-hook").then(|| (path.clone(), v.trim().to_string()))
    })
}

pub fn run(cfg: Result<Config, ConfigError>) -> Vec<Finding> {
    let mut out = Vec::new();
    let cfg = match cfg.and_then(|c| c.validate().map(|_| c)) {
        Ok(c) => c,
        Err(e) => {
            out.push(f(Level::Error, "config", e.to_string()));
            return out;
        }
    };
    out.push(f(
        Level::Ok,
        "config",
        format!("loaded from {}", cfg.source.join(", ")),
    ));
    out.push(f(
        Level::Ok,
        "systems",
        format!(
            "accepting {} with features [{}]",
            cfg.systems.join(", "),
            cfg.supported_features.join(", ")
        ),
    ));

    match slots::try_acquire(&cfg.state_dir, cfg.max_jobs) {
        Ok(slot) => {
            // Release the probe's own slot before counting busy ones.
            drop(slot);
            let busy = slots::busy(&cfg.state_dir, cfg.max_jobs).unwrap_or(0);
            out.push(f(
                Level::Ok,
                "slots",
                format!(
                    "{}: {} slots, {busy} busy",
                    slots::slots_dir(&cfg.state_dir).display(),
                    cfg.max_jobs
                ),
            ));
        }
        Err(e) => out.push(f(
            Level::Error,
            "slots",
            format!("{}: {e}", slots::slots_dir(&cfg.state_dir).display()),
        )),
    }

    let r = runner::from_config(&cfg);
    let problems = r.problems();
    if problems.is_empty() {
        out.push(f(Level::Ok, "runner", r.describe()));
    }
    for p in problems {
        out.push(f(Level::Error, "runner", p));
    }
    if cfg.runner == RunnerKind::Darling {
        out.push(match darling_host::procs::guard_program() {
            Some(p) => f(Level::Ok, "guard", format!("{}", p.display())),
            None => f(
                Level::Warn,
                "guard",
                format!(
                    "{} not found next to build-hook or on PATH: a build whose hook Nix kills keeps running inside Darling",
                    darling_host::procs::GUARD_PROGRAM
                ),
            ),
        });
    }
    if cfg.runner == RunnerKind::Darling && cfg.job_server {
        let server = darling_host::JobServer {
            darling: cfg.darling.clone().into(),
            prefix: cfg.prefix.clone(),
            dir: runner::job_server_dir(&cfg),
        };
        let state = if server.running() {
            "running"
        } else {
            "not running; the next build starts it"
        };
        out.push(f(
            Level::Ok,
            "jobserver",
            format!("{state} ({})", server.dir.display()),
        ));
    }

    let ns = store::find_nix_store(cfg.nix_store.as_deref());
    match store::nix_version(&ns) {
        Ok(v) => {
            let how = match cfg.register {
                Register::Import => "import with NIX_HELD_LOCKS",
                Register::RegisterValidity => "register-validity",
                Register::Db => "a direct write to the store database",
                Register::Auto if v.honours_held_locks() => {
                    "the store database, else import with NIX_HELD_LOCKS (auto)"
                }
                Register::Auto => "the store database, else register-validity (auto)",
            };
            let name = if v.lix { "Lix" } else { "Nix" };
            let mut level = Level::Ok;
            let mut msg = format!(
                "{} ({name} {}.{}); outputs registered by {how}",
                ns.display(),
                v.major,
                v.minor
            );
            if cfg.register == Register::Import && !v.honours_held_locks() {
                level = Level::Error;
                msg.push_str(": this Nix ignores NIX_HELD_LOCKS, so the import would deadlock; use `register = \"auto\"`");
            }
            if v.lix && (v.major, v.minor) >= (2, 94) {
                level = Level::Error;
                msg.push_str(": Lix 2.94 and later speak a different hook protocol");
            }
            out.push(f(level, "nix-store", msg));
        }
        Err(e) => out.push(f(Level::Error, "nix-store", e.to_string())),
    }

    if let Some(prog) = cfg.forward.first() {
        let ok = Path::new(prog).is_file();
        out.push(f(
            if ok { Level::Ok } else { Level::Error },
            "forward",
            if ok {
                format!("non-darwin requests go to `{}`", cfg.forward.join(" "))
            } else {
                format!("`{prog}` does not exist")
            },
        ));
    }

    match nix_conf_hook() {
        Some((path, v)) => {
            let me = std::env::current_exe().ok();
            let named = v.split_whitespace().next().map(std::path::PathBuf::from);
            let same = match (&me, &named) {
                (Some(a), Some(b)) => std::fs::canonicalize(b).ok().as_ref() == Some(a),
                _ => false,
            };
            out.push(if same {
                f(Level::Ok, "nix.conf", format!("{path}: build-hook = {v}"))
            } else {
                f(
                    Level::Warn,
                    "nix.conf",
                    format!("{path}: build-hook = {v}, which is not this program"),
                )
            });
        }
        None => out.push(f(
            Level::Warn,
            "nix.conf",
            "no `build-hook` line in nix.conf; Nix will use its own build-remote",
        )),
    }
    out
}

pub fn render(findings: &[Finding]) -> String {
    let mut s = String::new();
    for x in findings {
        let tag = match x.level {
            Level::Ok => "ok   ",
            Level::Warn => "warn ",
            Level::Error => "error",
        };
        s.push_str(&format!("{tag} {:<10} {}\n", x.check, x.message));
    }
    s
}

pub fn exit_code(findings: &[Finding]) -> i32 {
    if findings.iter().any(|x| x.level == Level::Error) {
        1
    } else {
        0
    }
}
