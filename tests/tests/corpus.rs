//! The corpus of real macOS programs (`e2e::corpus`): everywhere, that each
//! fetches from its registry and unpacks to an x86_64 Mach-O program; where
//! Darling is installed (the live tier), each runs its task inside a prefix
//! of its own, with the calls Darling still lacks triaged by
//! `syscall-triage`. `bash bench/compatibility.sh` regenerates
//! docs/compatibility.md from the live run.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use e2e::corpus::{cache_dir, fetch, macho_kind, unpack, CORPUS};

#[test]
fn every_corpus_program_fetches_and_unpacks_as_x86_64_mach_o() {
    for tool in ["python3", "npm"] {
        if which::which(tool).is_err() {
            return e2e::skip_tool("corpus fetch", &format!("no {tool}"));
        }
    }
    let cache = cache_dir();
    let mut seen = BTreeSet::new();
    for p in CORPUS {
        if !seen.insert((p.package, p.version)) {
            continue;
        }
        let archive = fetch(p, &cache).unwrap_or_else(|e| panic!("{}: {e}", p.name));
        let bin = unpack(p, &archive, &cache).unwrap_or_else(|e| panic!("{}: {e}", p.name));
        let kind = macho_kind(&bin).unwrap_or_else(|e| panic!("{}: {e}", p.name));
        assert!(kind.contains("x86_64"), "{}: {kind}", p.name);
    }
}

/// One row of docs/compatibility.md.
struct Row {
    name: &'static str,
    version: &'static str,
    task: &'static str,
    result: String,
    missing: String,
}

fn triage(err_log: &Path) -> String {
    let out = Command::new(e2e::tool("syscall-triage"))
        .arg("--json")
        .arg(err_log)
        .output();
    let Ok(out) = out else {
        return "(syscall-triage did not run)".into();
    };
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let calls: Vec<String> = v["entries"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| {
                    let n = c["number"].as_i64()?;
                    let name = c["name"].as_str().unwrap_or("?");
                    let kind = c["kind"].as_str().unwrap_or("");
                    Some(format!("{kind} {n} {name} (x{})", c["count"]))
                })
                .collect()
        })
        .unwrap_or_default();
    if calls.is_empty() {
        "none".into()
    } else {
        calls.join(", ")
    }
}

#[test]
fn corpus_tasks_inside_darling() {
    // Probe once (one skip line when there is no Darling).
    let Some(probe) = e2e::live::LivePrefix::new("corpus") else {
        return;
    };
    drop(probe);
    let cache = cache_dir();
    // Every task runs with xnu-fixes loaded, as the hook's runner starts
    // builders (zig needs its __ulock_wait2 and its setrlimit floor).
    let dylib = Path::new(env!("CARGO_TARGET_TMPDIR")).join("corpus/libxnu_fixes.dylib");
    let b = Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../xnu-fixes/dylib/build.sh"))
        .arg(&dylib)
        .env(
            "CARGO_TARGET_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("corpus/cargo"),
        )
        .output()
        .unwrap();
    assert!(
        b.status.success(),
        "xnu-fixes/dylib/build.sh: {}",
        String::from_utf8_lossy(&b.stderr)
    );
    let mut rows = Vec::new();
    for p in CORPUS {
        let archive = fetch(p, &cache).unwrap_or_else(|e| panic!("{}: {e}", p.name));
        let bin = unpack(p, &archive, &cache).unwrap_or_else(|e| panic!("{}: {e}", p.name));
        // A prefix per program: a task that hangs is ended by shutting its
        // prefix down.
        let lp = e2e::live::LivePrefix::new("corpus").expect("probed");
        let dir = lp.scratch().join("task");
        p.setup(&dir).unwrap();
        let (out, err, rc) = (dir.join("out"), dir.join("err"), dir.join("rc"));
        // Log files capped (ulimit -f, 512-byte blocks): a program retrying
        // a missing call prints without end.
        let script = format!(
            "cd '{d}' || exit 99\nexport BIN='{b}' DYLD_INSERT_LIBRARIES='{x}'\nulimit -f 40000\n( {s} ) > '{o}' 2> '{e}'; echo $? > '{r}'",
            d = lp.inside(&dir),
            x = lp.inside(&dylib),
            b = lp.inside(&bin),
            s = p.script,
            o = lp.inside(&out),
            e = lp.inside(&err),
            r = lp.inside(&rc),
        );
        let shell = lp.shell_timeout(&script, Duration::from_secs(300));
        let stdout = fs::read_to_string(&out).unwrap_or_default();
        let code = fs::read_to_string(&rc).unwrap_or_default();
        let result = if shell.code == -1 {
            "no answer in 300 s (prefix shut down)".to_string()
        } else if stdout.contains(p.expect) {
            "works".to_string()
        } else {
            let last = fs::read_to_string(&err)
                .unwrap_or_default()
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .chars()
                .take(120)
                .collect::<String>();
            format!("fails (exit {}): {last}", code.trim())
        };
        eprintln!("corpus {}: {result}", p.name);
        rows.push(Row {
            name: p.name,
            version: p.version,
            task: p.task,
            result,
            missing: triage(&err),
        });
    }
    if let Some(path) = std::env::var_os("DARLING_NIX_COMPAT_OUT") {
        let mut t = String::from("| program | version | task | result | calls Darling still lacks (syscall-triage) |\n|---|---|---|---|---|\n");
        for r in &rows {
            t.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                r.name,
                r.version,
                r.task,
                r.result.replace('|', "\\|"),
                r.missing
            ));
        }
        fs::write(&path, t).unwrap();
    }
    // Every task worked on the last live run (docs/compatibility.md): a
    // row that stops working is a regression in Darling or in xnu-fixes.
    let broken: Vec<String> = rows
        .iter()
        .filter(|r| r.result != "works")
        .map(|r| format!("{}: {}", r.name, r.result))
        .collect();
    assert!(
        broken.is_empty(),
        "no longer working inside Darling: {broken:#?}"
    );
}
