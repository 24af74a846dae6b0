//! `build-hook --check`: validates the whole setup and says what is wrong,
//! in words or as JSON.

use std::path::Path;

use serde::Serialize;

use crate::config::{Config, LauncherKind, Register};
use crate::error::Result;
use crate::runner;
use crate::slots;
use crate::store;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
/// How serious a [`Finding`] is. `--json` writes it in lower case (`ok`,
/// `warn`, `error`).
pub enum Level {
    /// This part of the setup is ready.
    Ok,
    /// Worth fixing, though builds can run: no guard program, the
    /// xnu-fixes dylib not installed, or Nix not (or not provably) sending
    /// darwin builds here.
    Warn,
    /// Builds (or forwarded ones) would fail or never reach the hook;
    /// makes `--check` exit with 1.
    Error,
}

#[derive(Debug, Clone, Serialize)]
/// One line of `--check`'s report (one object of its `--json` array).
pub struct Finding {
    /// How serious it is.
    pub level: Level,
    /// The part of the setup checked: `config`, `systems`, `slots`,
    /// `runner`, `jobserver`, `interpose`, `guard`, `nix-store`, `forward`
    /// or `nix.conf`.
    pub check: &'static str,
    /// What was found, and for a problem what to do about it.
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

/// Runs every check, in report order. A configuration that did not load
/// or fails [`Config::validate`] gives a single `config` error and stops
/// there. Along the way it tries a slot lock and releases it (creating
/// `<state-dir>/slots/` if needed), runs `nix-store --version` and `nix
/// config show` of the Nix found, and reads `$NIX_CONF_DIR/nix.conf`
/// (default `/etc/nix`).
pub fn run(cfg: Result<Config>) -> Vec<Finding> {
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
    if cfg.runner == LauncherKind::Darling {
        out.push(match (&cfg.interpose, runner::interpose_dylib(&cfg)) {
            (None, _) => f(Level::Ok, "interpose", "off (`interpose = \"off\"`)"),
            (Some(_), Some(d)) => f(
                Level::Ok,
                "interpose",
                format!("{d} in the prefix: loaded into every builder (DYLD_INSERT_LIBRARIES)"),
            ),
            (Some(d), None) => f(
                Level::Warn,
                "interpose",
                format!(
                    "{d} is not installed in the prefix: builders run without xnu-fixes (build it with xnu-fixes/dylib/build.sh and copy it there, or set `interpose = \"off\"`)"
                ),
            ),
        });
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
    if cfg.runner == LauncherKind::Darling && cfg.job_server {
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
        // Found as the hook will start it: a path, or a name on PATH.
        out.push(match which::which(prog) {
            Ok(p) => f(
                Level::Ok,
                "forward",
                format!(
                    "non-darwin requests go to `{}` ({})",
                    cfg.forward.join(" "),
                    p.display()
                ),
            ),
            Err(_) => f(
                Level::Error,
                "forward",
                format!("`{prog}` is neither an executable file nor a command on PATH"),
            ),
        });
    }

    out.push(nix_route(&ns));
    out
}

/// Whether `named` (a path from a Nix setting) is this program.
fn is_me(named: &str) -> bool {
    let me = std::env::current_exe().ok();
    let named = std::path::Path::new(named);
    me.is_some() && std::fs::canonicalize(named).ok() == me
}

/// The program named by a `builders` value's `remote-program=` parameters
/// (percent-decoded, first word).
fn remote_programs(builders: &str) -> Vec<String> {
    builders
        .split(['\n', ';'])
        .filter_map(|entry| entry.split_whitespace().next())
        .filter_map(|uri| uri.split_once('?').map(|(_, q)| q))
        .flat_map(|q| q.split('&'))
        .filter_map(|kv| kv.strip_prefix("remote-program="))
        .map(|v| {
            crate::store::percent_decode(v)
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// The settings the Nix next to `nix_store` ends up with (nix.conf,
/// NIX_CONFIG and its own defaults), as `nix config show` prints them.
fn effective_settings(nix_store: &Path) -> Option<std::collections::BTreeMap<String, String>> {
    let nix = nix_store.with_file_name("nix");
    let nix = if nix.exists() { nix } else { "nix".into() };
    for args in [&["config", "show"][..], &["show-config"][..]] {
        let out = std::process::Command::new(&nix)
            .args(["--extra-experimental-features", "nix-command"])
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .ok()?;
        if out.status.success() {
            let text = String::from_utf8_lossy(&out.stdout);
            return Some(
                text.lines()
                    .filter_map(|l| l.split_once(" = "))
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .collect(),
            );
        }
    }
    None
}

/// How darwin builds reach this program, asked of the Nix at hand: its
/// effective `builders` and `build-hook`, against what nix.conf says.
fn nix_route(nix_store: &Path) -> Finding {
    let conf = nix_conf_hook();
    let Some(eff) = effective_settings(nix_store) else {
        return match conf {
            Some((path, v)) if v.split_whitespace().next().is_some_and(is_me) => f(
                Level::Warn,
                "nix.conf",
                format!("{path}: build-hook = {v}; could not ask Nix whether it honours it (Nix 2.25 to 2.33 do not: use `build-hook --nix-conf`)"),
            ),
            _ => f(
                Level::Warn,
                "nix.conf",
                "could not ask Nix for its settings; `build-hook --nix-conf` prints the lines for nix.conf",
            ),
        };
    };
    let builders = eff.get("builders").cloned().unwrap_or_default();
    let hook = eff.get("build-hook").cloned().unwrap_or_default();
    if remote_programs(&builders).iter().any(|p| is_me(p)) {
        return f(
            Level::Ok,
            "nix.conf",
            "Nix's `builders` runs this program (ssh://localhost, --serve): darwin builds come here",
        );
    }
    if hook.split_whitespace().next().is_some_and(is_me) {
        return f(Level::Ok, "nix.conf", format!("Nix's build-hook = {hook}"));
    }
    match conf {
        Some((path, v)) if v.split_whitespace().next().is_some_and(is_me) => f(
            Level::Error,
            "nix.conf",
            format!(
                "{path} says build-hook = {v}, but Nix uses build-hook = {hook}: Nix 2.25 to 2.33 replace a build-hook from nix.conf with their own at start-up. Put the lines `build-hook --nix-conf` prints into {path} instead, and restart nix-daemon"
            ),
        ),
        _ => f(
            Level::Warn,
            "nix.conf",
            "neither Nix's `builders` nor its `build-hook` runs this program: add the lines `build-hook --nix-conf` prints to nix.conf (and restart nix-daemon)",
        ),
    }
}

/// The text report: one line per finding, `ok`/`warn`/`error`, the check
/// name padded to 10 columns, then the message.
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

/// `--check`'s exit status: 1 if any finding is an error, else 0
/// (warnings do not count).
pub fn exit_code(findings: &[Finding]) -> i32 {
    if findings.iter().any(|x| x.level == Level::Error) {
        1
    } else {
        0
    }
}
