use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use nix_install::{ActionId, Cx, Mode, Settings, Status};

#[derive(Clone, Copy, ValueEnum)]
enum ModeArg {
    Single,
    Daemon,
}

const AFTER: &str = "Exit status: 0 done (or nothing to do), 1 an action failed (the receipt keeps what was done, so `uninstall` can undo it), 2 usage error.";

#[derive(Parser)]
#[command(name = "nix-install", version, about = "Install Nix into a Darling prefix as a plan of revertible actions", after_help = AFTER)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    /// Darling prefix (default: $DPREFIX, else ~/.darling).
    #[arg(long, global = true)]
    prefix: Option<PathBuf>,
    /// The darling launcher (default: found on PATH).
    #[arg(long, global = true)]
    darling: Option<PathBuf>,
    /// How to reach the prefix: darling (production) or fixture (tests).
    #[arg(long, default_value = "darling", global = true)]
    runner: darling_host::RunnerKind,
    /// The Nix binary tarball: a file or an https URL (nix-<version>-x86_64-darwin.tar.xz).
    #[arg(long, global = true)]
    tarball: Option<String>,
    /// Its expected sha256 (hex); required for URLs.
    #[arg(long, global = true)]
    sha256: Option<String>,
    /// Where the in-prefix tools are (default: next to this program).
    #[arg(long, global = true)]
    tools_dir: Option<PathBuf>,
    /// Build users to create in daemon mode.
    #[arg(long, default_value_t = 32, global = true)]
    users: u32,
    #[arg(long, value_enum, default_value = "single", global = true)]
    mode: ModeArg,
    /// Darling's libsandbox is fixed (xnu-fixes): do not set _NIX_TEST_NO_SANDBOX.
    #[arg(long, global = true)]
    libsandbox_fixed: bool,
    /// Show the plan and what is already done; change nothing.
    #[arg(long, global = true)]
    plan: bool,
    /// Print steps as JSON.
    #[arg(long, global = true)]
    json: bool,
    /// Seconds allowed for each command run inside.
    #[arg(long, default_value_t = 600, global = true)]
    timeout: u64,
    /// Do not run this action (repeatable), e.g. the store actions
    /// (fetch-tarball, unpack-store, load-db, profile) for a prefix whose
    /// store comes from elsewhere.
    #[arg(long, value_enum, value_name = "ACTION", global = true)]
    skip: Vec<ActionId>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Install (the default).
    Install,
    /// Undo everything the receipt records.
    Uninstall,
}

fn main() {
    let cli = Cli::parse();
    let prefix = cli
        .prefix
        .clone()
        .unwrap_or_else(darling_host::default_prefix);
    // Darling's DPREFIX, the receipt and the daemon plist carry the prefix
    // as text: refuse a path that is not, before anything is done.
    if prefix.to_str().is_none() {
        eprintln!(
            "nix-install: the prefix path is not valid UTF-8: {}",
            prefix.to_string_lossy()
        );
        std::process::exit(2);
    }
    let tools_dir = cli.tools_dir.clone().unwrap_or_else(|| {
        std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(PathBuf::from))
            .unwrap_or_default()
    });
    let cache_dir = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_default()
                .join(".cache")
        })
        .join("darling-nix");
    let s = Settings {
        prefix: prefix.clone(),
        tarball: cli.tarball.clone(),
        sha256: cli.sha256.clone(),
        tools_dir,
        users: cli.users.clamp(1, 128),
        mode: match cli.mode {
            ModeArg::Single => Mode::Single,
            ModeArg::Daemon => Mode::Daemon,
        },
        libsandbox_fixed: cli.libsandbox_fixed,
        cache_dir,
        timeout: Duration::from_secs(cli.timeout),
        skip: cli.skip.clone(),
    };
    let selected = darling_host::select_runner(cli.runner, prefix.clone(), cli.darling.as_deref())
        .unwrap_or_else(|e| {
            eprintln!("nix-install: {e}");
            std::process::exit(1);
        });
    let runner = selected.runner;
    let mut cx = Cx::new(&s, runner.as_ref());
    let uninstall = matches!(cli.cmd, Some(Cmd::Uninstall));
    let (steps, result) = if cli.plan {
        if uninstall {
            match nix_install::uninstall_plan(&cx) {
                Ok(steps) => (steps, Ok(())),
                Err(e) => (Vec::new(), Err(e)),
            }
        } else {
            (nix_install::plan(&cx), Ok(()))
        }
    } else if uninstall {
        nix_install::uninstall(&mut cx)
    } else {
        nix_install::install(&mut cx)
    };
    if cli.json {
        let v = serde_json::json!({"prefix": prefix, "steps": steps, "ok": result.is_ok(), "error": result.as_ref().err().map(|e| e.to_string())});
        println!(
            "{}",
            serde_json::to_string_pretty(&v).expect("serialisable")
        );
    } else {
        print!("{}", nix_install::render(&steps));
        match &result {
            Ok(()) if cli.plan => {}
            Ok(()) if uninstall && steps.is_empty() => {
                println!("Nothing to undo: no install is recorded in this prefix.")
            }
            Ok(())
                if steps
                    .iter()
                    .all(|s| matches!(s.status, Status::Done | Status::Skipped)) =>
            {
                println!("Nothing to do: everything is in place.")
            }
            Ok(()) => println!("Done."),
            Err(e) => eprintln!("nix-install: {e}"),
        }
    }
    std::process::exit(if result.is_ok() { 0 } else { 1 });
}
