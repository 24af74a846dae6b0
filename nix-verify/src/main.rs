use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use darling_host::{select_runner, RunnerKind};

const AFTER: &str = "Exit status: 0 healthy (warnings allowed), 1 at least one check failed, 2 usage error.\nJSON schema: docs/tools/host-tools.md, section nix-verify.";

#[derive(Parser)]
#[command(name = "nix-verify", version, about = "Check that Nix in a Darling prefix is healthy", after_help = AFTER)]
struct Cli {
    /// Darling prefix (default: $DPREFIX, else ~/.darling).
    #[arg(long)]
    prefix: Option<PathBuf>,
    /// The darling launcher (default: found on PATH).
    #[arg(long)]
    darling: Option<PathBuf>,
    /// How to reach the prefix: darling (production) or fixture (tests).
    #[arg(long, default_value = "darling")]
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
    let report = match select_runner(cli.runner, prefix.clone(), cli.darling.as_deref()) {
        Ok(sel) => {
            let launcher = match &sel.darling {
                Some(d) => nix_verify::Launcher::Found(d),
                None => nix_verify::Launcher::Fixture,
            };
            nix_verify::verify(sel.runner.as_ref(), launcher, &opts)
        }
        // Still check what can be checked from the host.
        Err(e) => nix_verify::verify(
            &darling_host::FixtureRunner { prefix },
            nix_verify::Launcher::Missing(e.to_string()),
            &opts,
        ),
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
