//! Command line. Nix runs the hook as `build-hook [ARGS...] VERBOSITY`
//! (Nix 2.8 passes only the verbosity); people run `--check`, and Nix 2.32+
//! runs `--external-builder BUILD_JSON`.

use std::path::PathBuf;

use clap::Parser;

use crate::config::Config;
use crate::error::{Error, Result, EXIT_OK};
use crate::{check, external, hook, protocol, serve};

const AFTER: &str = "\
Set `build-hook = /path/to/build-hook` in nix.conf; Nix then runs it with its
verbosity as the last argument. Configuration comes from
/etc/darling-nix/build-hook.toml (or $DARLING_NIX_HOOK_CONFIG), then
DARLING_NIX_HOOK_<KEY> variables, then --set KEY=VALUE.

Exit status as a hook: 0 built and registered, 100 the builder failed,
101 it timed out, 1 anything else. With --check: 0 ready, 1 problems found,
2 usage error.";

/// The command line, for every mode: [`main`] runs `--check`,
/// `--nix-conf`, `--serve` or `--external-builder` when given, else the
/// hook protocol when Nix's verbosity is the last argument.
#[derive(Debug, Parser)]
#[command(name = "build-hook", version, about = "Nix build hook that builds x86_64-darwin derivations inside Darling", after_help = AFTER)]
pub struct Cli {
    /// Configuration file (default: $DARLING_NIX_HOOK_CONFIG, then /etc/darling-nix/build-hook.toml).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Override one configuration key, e.g. --set max-jobs=4 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,

    /// Check the configuration, Darling, the state directory and nix.conf; print what is wrong.
    #[arg(long, conflicts_with = "external_builder")]
    pub check: bool,

    /// With --check: print the findings as JSON.
    #[arg(long, requires = "check")]
    pub json: bool,

    /// Run one build described by Nix's build.json (external-builders, Nix 2.32+).
    #[arg(long, value_name = "BUILD_JSON")]
    pub external_builder: Option<PathBuf>,

    /// Speak Nix's `ssh://` store protocol on stdin/stdout, as Nix runs the
    /// `remote-program` of `builders = ssh://localhost?remote-program=...`.
    #[arg(long, conflicts_with_all = ["check", "external_builder"])]
    pub serve: bool,

    /// With --serve (what Nix passes): accepted for compatibility.
    #[arg(long, requires = "serve")]
    pub write: bool,

    /// Print the nix.conf lines that send darwin builds here (writes nothing).
    #[arg(long, conflicts_with_all = ["check", "external_builder", "serve"])]
    pub nix_conf: bool,

    /// With --nix-conf: the Nix to write them for (its nix-store; default: on PATH).
    #[arg(long, value_name = "PATH", requires = "nix_conf")]
    pub nix: Option<PathBuf>,

    /// With --nix-conf: `hook` (build-hook = ...), `serve` (builders =
    /// ssh://localhost?...), or `auto`: hook where that Nix honours it.
    #[arg(long, value_enum, default_value = "auto", requires = "nix_conf")]
    pub route: crate::nixconf::Route,

    /// With --serve, the store to build for (Nix passes `remote-store`); with
    /// --nix-conf, a store other than the default one (a chroot store).
    #[arg(long, value_name = "STORE")]
    pub store: Option<String>,

    /// Verbosity passed by Nix (0-7); its presence means "speak the hook protocol".
    #[arg(value_name = "VERBOSITY")]
    pub verbosity: Option<String>,
}

fn load(cli: &Cli) -> Result<Config> {
    let mut c = Config::load(cli.config.as_deref())?;
    for kv in &cli.set {
        let (k, v) = kv.split_once('=').ok_or_else(|| Error::BadValue {
            origin: "--set".into(),
            key: kv.clone(),
            value: String::new(),
            msg: "expected KEY=VALUE".into(),
        })?;
        c.set("--set", k.trim(), v.trim())?;
        c.source.push(format!("--set {k}"));
    }
    Ok(c)
}

/// The configuration, checked as a whole.
fn load_valid(cli: &Cli) -> Result<Config> {
    let c = load(cli)?;
    c.validate()?;
    Ok(c)
}

/// `--nix-conf`: prints the lines for the Nix found, or says why not.
fn print_nix_conf(cli: &Cli) -> Result<()> {
    let cfg = load_valid(cli)?;
    let program = std::env::current_exe().map_err(Error::io("finding this program"))?;
    // The configuration Nix's run of this program must read, when it is
    // not the default file.
    let config = cli
        .config
        .clone()
        .or_else(|| std::env::var_os(crate::config::CONFIG_ENV).map(PathBuf::from))
        .map(|p| std::path::absolute(&p).unwrap_or(p));
    let nix_store = cli.nix.clone().or_else(|| which::which("nix-store").ok());
    let version = nix_store
        .as_ref()
        .and_then(|p| crate::store::nix_version(p).ok().map(|v| (p.clone(), v)));
    if let Some((p, v)) = &version {
        if v.lix && (v.major, v.minor) >= (2, 94) {
            eprintln!(
                "build-hook: {} is Lix {}.{}; its remote builds are not tested with build-hook --serve",
                p.display(),
                v.major,
                v.minor
            );
        }
    } else if let Some(p) = &cli.nix {
        return Err(Error::NotNix(p.display().to_string()));
    }
    let text = crate::nixconf::lines(
        &cfg,
        &program,
        config.as_deref(),
        cli.store.as_deref(),
        version.as_ref().map(|(p, v)| (p.as_path(), v)),
        cli.route,
    )?;
    print!("{text}");
    Ok(())
}

/// Parses the command line and runs; the result is the exit status.
pub fn main() -> i32 {
    let cli = Cli::parse();
    match dispatch(&cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("build-hook: {e}");
            e.exit_code()
        }
    }
}

fn dispatch(cli: &Cli) -> Result<i32> {
    if cli.check {
        let findings = check::run(load(cli));
        if cli.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&findings).unwrap_or_default()
            );
        } else {
            print!("{}", check::render(&findings));
        }
        return Ok(check::exit_code(&findings));
    }
    if cli.store.is_some() && !cli.serve && !cli.nix_conf {
        return Err(Error::Usage(
            "--store goes with --serve or --nix-conf".into(),
        ));
    }
    if cli.nix_conf {
        print_nix_conf(cli)?;
        return Ok(EXIT_OK);
    }
    if cli.serve {
        return Ok(serve::run(&load_valid(cli)?, cli.store.as_deref()));
    }
    if let Some(bj) = &cli.external_builder {
        return external::run(&load_valid(cli)?, bj);
    }
    match cli
        .verbosity
        .as_deref()
        .map(|v| (v, protocol::parse_verbosity(v)))
    {
        Some((_, Some(v))) => Ok(hook::run(load(cli), v)),
        Some((v, None)) => Err(Error::Usage(format!(
            "expected Nix's verbosity (0-7) as the last argument, got `{v}`"
        ))),
        None => Err(Error::Usage(
            "this program is run by Nix (set `build-hook` in nix.conf).\n\
             Try `build-hook --check` to test the setup, or `build-hook --help`."
                .into(),
        )),
    }
}
