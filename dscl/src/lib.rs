//! `dscl` for a Darling prefix.
//!
//! The grammar, output and exit codes follow Apple's DSTools `dscl` (see
//! `docs/tools/dscl.md`): options before the datasource, commands with or
//! without the leading dash, `<cmd>: Invalid Path` on stdout for paths that do
//! not resolve, DS errors on stderr and `(-status) & 0xFF` as the exit code.

#![warn(missing_docs)]

mod cli;
mod commands;
mod output;

use std::io::Write;

pub use cli::{Invocation, Options};

/// Run dscl with `args` (including `argv[0]`); returns the exit status.
/// The tool's entry point: its whole argv (bytes), standard streams.
pub fn main(args: impl IntoIterator<Item = std::ffi::OsString>) -> i32 {
    run(
        &prefixfs::text_args(args),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    )
}

/// Run dscl on an argv already decoded to text (`argv[0]` included), writing
/// its stdout and stderr to `out` and `err`, and return the exit status:
/// `(-status) & 0xFF` for a Directory Services error (56 for
/// eDSRecordNotFound, 185 for an invalid path, ...), 64 (`EX_USAGE`) for no
/// datasource or command (the interactive mode is not implemented), too few
/// arguments or an unsupported command, 69 (`EX_UNAVAILABLE`) for an
/// invalid datasource or no prefix, and 0 otherwise, including for an unknown
/// command, where the real dscl also prints its usage and succeeds. Both
/// streams are flushed before it returns.
pub fn run(args: &[String], out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let code = match cli::parse(args) {
        cli::Parsed::Run(inv) => commands::dispatch(&inv, out, err),
        cli::Parsed::Exit {
            code,
            stdout,
            stderr,
        } => {
            let _ = out.write_all(stdout.as_bytes());
            let _ = err.write_all(stderr.as_bytes());
            code
        }
    };
    let _ = out.flush();
    let _ = err.flush();
    code
}
