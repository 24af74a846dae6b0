use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

#[derive(Clone, Copy, ValueEnum)]
enum RunnerKind {
    /// `darling shell` (production).
    Darling,
    /// Run natively against the prefix as a fixture (tests, CI).
    Fixture,
}

const AFTER: &str = "Exit status: 0 healthy (warnings allowed), 1 at least one check failed, 2 usage error.\nJSON schema: docs/tools/nix-verify.md.";

#[derive(Parser)]
#[command(name = "nix-verify", version, about = "Check that Nix in a Darling prefix is healthy", after_help = AFTER)]
struct Cli {
    /// Darling prefix (default: $DPREFIX, else ~/.darling).
    #[arg(long)]
    prefix: Option<PathBuf>,
    /// The darling launcher (default: found on PATH).
    #[arg(long)]
    darling: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "darling")]
    runner: RunnerKind,
    /// Also build a trivial derivation inside.
    #[arg(long)]
    build: bool,
    /// Also check that cache.nixos.org is reachable from inside.
    #[arg(long)]
    online: bool,
    /// Seconds allowed for each command run inside.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

fn main() {
    let cli = Cli::parse();
    let prefix = cli
        .prefix
        .clone()
        .unwrap_or_else(darling_host::default_prefix);
    let opts = nix_verify::Options {
        build: cli.build,
        online: cli.online,
        timeout: Duration::from_secs(cli.timeout),
    };
    let report = match cli.runner {
        RunnerKind::Fixture => nix_verify::verify(
            &darling_host::FixtureRunner { prefix },
            nix_verify::Launcher::Fixture,
            &opts,
        ),
        RunnerKind::Darling => match darling_host::find_darling(cli.darling.as_deref()) {
            Some(d) => {
                let r = darling_host::DarlingRunner {
                    darling: d.clone(),
                    prefix,
                    scratch: std::env::temp_dir(),
                };
                nix_verify::verify(&r, nix_verify::Launcher::Found(&d), &opts)
            }
            // Still check what can be checked from the host.
            None => nix_verify::verify(
                &darling_host::FixtureRunner { prefix },
                nix_verify::Launcher::Missing,
                &opts,
            ),
        },
    };
    if cli.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("serialisable")
        );
    } else {
        print!("{}", nix_verify::render(&report));
    }
    std::process::exit(if report.ok { 0 } else { 1 });
}
