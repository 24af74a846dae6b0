//! Our own C `main` instead of std's runtime start: that start ignores
//! SIGPIPE, and an ignored signal stays ignored across exec, so the command
//! would inherit it (`yes | head` would fail with EPIPE instead of ending
//! quietly); macOS's sandbox-exec leaves the disposition alone. It also
//! saves the start's work (stack guard lookup in /proc/self/maps, signal
//! stacks) on a path Nix takes once per build. std still reads argv itself.
// (Not under `cargo test`, whose harness brings its own `main`.)
#![cfg_attr(not(test), no_main)]

#[cfg(not(test))]
#[no_mangle]
pub extern "C" fn main(
    _argc: std::ffi::c_int,
    _argv: *const *const std::ffi::c_char,
) -> std::ffi::c_int {
    sandbox_exec::main(std::env::args_os())
}
