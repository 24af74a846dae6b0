//! Kills a job's process group inside a Darling prefix when the tool that
//! started it dies first. Started by darling-nix's tools
//! (`darling_host::procs::Guard`), never by hand.
fn main() {
    std::process::exit(darling_host::procs::guard_main(std::env::args_os().skip(1)));
}
