//! syscall-triage: turns Darling's "Unimplemented syscall" messages into a
//! report. It reads log files (none or `-`: standard input), or with
//! `run -- CMD ...` runs a command inside a prefix through `darling shell`
//! and reads its stdout and stderr (its own exit status is not used). Every
//! `Unimplemented syscall (N)`, `Unimplemented mach trap (N)`,
//! `Unimplemented machdep trap (N)` and `Called unimplemented Mach trap:
//! NAME` found anywhere in the text is named, categorised and counted by
//! `darling_syscalls::Collector`, and printed as Markdown or, with `--json`,
//! as JSON (schema `version` 1). `--compare OLD_JSON` adds the calls that
//! are new, gone or counted differently since that earlier report; it
//! must be a version 1 report. A named Mach trap is counted without a
//! trailing `_impl` (`task_name_for_pid_impl` is `task_name_for_pid`), so
//! reports from Darling versions that spell it either way compare equal.
//! A closed standard output (e.g. `| head`) ends the run quietly with the
//! status it would have had.
//!
//! Exit status: 0 report written (and nothing new with `--compare`), 1
//! `--compare` found a call that is new since the earlier report, 2 usage
//! error, or a file, standard input, the earlier report (or one of another
//! schema version) or the command inside could not be read or run, or
//! standard output could not be written (other than a broken pipe).

#![warn(missing_docs)]

use std::io::{ErrorKind, Read, Write};
use std::path::PathBuf;
use std::process::exit;
use std::time::Duration;

use clap::{Parser, Subcommand};
use darling_syscalls::{compare, Collector, Report};

const AFTER: &str = "Exit status: 0 report written (and no regression with --compare), 1 --compare found calls that were not unimplemented before, 2 usage or I/O error.";

#[derive(Parser)]
#[command(name = "syscall-triage", version, about = "Turn Darling's 'Unimplemented syscall' noise into a report", after_help = AFTER)]
struct Cli {
    /// Log files to read ("-" or none: standard input).
    files: Vec<PathBuf>,
    /// Print JSON (stable schema, `version` 1) instead of Markdown.
    #[arg(long, global = true)]
    json: bool,
    /// Compare with an earlier JSON report; exit 1 on new unimplemented calls.
    #[arg(long, value_name = "OLD_JSON", global = true)]
    compare: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a command inside Darling and triage what it printed.
    Run {
        /// Darling prefix (default: $DPREFIX, else ~/.darling).
        #[arg(long)]
        prefix: Option<PathBuf>,
        /// The darling launcher (default: found on PATH).
        #[arg(long)]
        darling: Option<PathBuf>,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        /// The command, as a Mac path or a name on the prefix's PATH.
        #[arg(required = true, last = true)]
        command: Vec<String>,
    },
}

fn fail(msg: String) -> ! {
    eprintln!("syscall-triage: {msg}");
    exit(2)
}

fn main() {
    let cli = Cli::parse();
    let mut c = Collector::new();
    match &cli.cmd {
        Some(Cmd::Run {
            prefix,
            darling,
            timeout,
            command,
        }) => {
            let prefix = prefix.clone().unwrap_or_else(darling_host::default_prefix);
            let runner = darling_host::select_runner(
                darling_host::RunnerKind::Darling,
                prefix,
                darling.as_deref(),
            )
            .unwrap_or_else(|e| fail(e.to_string()))
            .runner;
            let argv: Vec<&str> = command.iter().map(String::as_str).collect();
            let out = runner
                .run(&argv, None, Duration::from_secs(*timeout))
                .unwrap_or_else(|e| fail(e.to_string()));
            c.source(&format!("run: {}", command.join(" ")));
            c.feed(&out.stdout);
            c.feed(&out.stderr);
        }
        None => {
            let files = if cli.files.is_empty() {
                vec![PathBuf::from("-")]
            } else {
                cli.files.clone()
            };
            for f in files {
                let mut text = Vec::new();
                if f.as_os_str() == "-" {
                    std::io::stdin()
                        .read_to_end(&mut text)
                        .unwrap_or_else(|e| fail(format!("stdin: {e}")));
                    c.source("stdin");
                } else {
                    text =
                        std::fs::read(&f).unwrap_or_else(|e| fail(format!("{}: {e}", f.display())));
                    c.source(&f.display().to_string());
                }
                c.feed(&String::from_utf8_lossy(&text));
            }
        }
    }
    let report = c.report();
    let comparison = cli.compare.as_ref().map(|p| {
        let text =
            std::fs::read_to_string(p).unwrap_or_else(|e| fail(format!("{}: {e}", p.display())));
        let old: Report = serde_json::from_str(&text).unwrap_or_else(|e| {
            fail(format!(
                "{}: not a syscall-triage JSON report: {e}",
                p.display()
            ))
        });
        if old.version != 1 {
            fail(format!(
                "{}: not a version 1 syscall-triage JSON report (version {})",
                p.display(),
                old.version
            ));
        }
        compare(&old, &report)
    });
    let mut out = String::new();
    if cli.json {
        let mut v = serde_json::to_value(&report).expect("serialisable");
        if let Some(cmp) = &comparison {
            v["comparison"] = serde_json::to_value(cmp).expect("serialisable");
        }
        out.push_str(&serde_json::to_string_pretty(&v).expect("serialisable"));
        out.push('\n');
    } else {
        out.push_str(&report.markdown());
        if let Some(cmp) = &comparison {
            out.push_str(&format!(
                "\n## Compared with {}\n\n",
                cli.compare.as_ref().unwrap().display()
            ));
            if cmp.new.is_empty() && cmp.gone.is_empty() && cmp.changed.is_empty() {
                out.push_str("No change.\n");
            }
            for n in &cmp.new {
                out.push_str(&format!("- **new:** {n}\n"));
            }
            for g in &cmp.gone {
                out.push_str(&format!("- gone: {g}\n"));
            }
            for (l, a, b) in &cmp.changed {
                out.push_str(&format!("- {l}: {a} → {b}\n"));
            }
        }
    }
    let status = if comparison.is_some_and(|c| !c.new.is_empty()) {
        1
    } else {
        0
    };
    emit(out.as_bytes(), status);
    exit(status);
}

/// Writes the report to standard output. A reader that has gone away
/// (broken pipe) is not an error: exit quietly with the run's `status`.
/// Any other write error is exit 2.
fn emit(bytes: &[u8], status: i32) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        if e.kind() == ErrorKind::BrokenPipe {
            exit(status);
        }
        fail(format!("standard output: {e}"));
    }
}
