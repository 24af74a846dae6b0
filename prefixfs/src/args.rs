//! The command line of a macOS tool, as text.
//!
//! `std::env::args` panics on an argument that is not UTF-8, which would
//! end a tool with SIGABRT and a backtrace. The macOS tools read their
//! argv as text: a byte that is not UTF-8 becomes U+FFFD here, and every
//! name and field check refuses U+FFFD, so such an argument gets the
//! tool's own answer for a bad name (or "not found") and changes nothing.

use std::ffi::OsString;

/// The replacement character that stands for bytes that were not UTF-8.
pub const NOT_UTF8: char = char::REPLACEMENT_CHARACTER;

/// The one `main` of the macOS tools: each tool's library exposes
/// `main(args) -> exit code` taking its whole argv as bytes, and its binary
/// is `fn main() { prefixfs::run_tool(TOOL::main) }`.
pub fn run_tool(entry: impl FnOnce(std::env::ArgsOs) -> i32) -> ! {
    let code = entry(std::env::args_os());
    std::process::exit(code)
}

/// `args` (for example `std::env::args_os()`) as text.
pub fn text_args(args: impl IntoIterator<Item = OsString>) -> Vec<String> {
    args.into_iter()
        .map(|a| match a.into_string() {
            Ok(s) => s,
            Err(a) => a.to_string_lossy().into_owned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStringExt;

    #[test]
    fn bytes_that_are_not_utf8_become_the_replacement_character() {
        let a = text_args([
            OsString::from("dscl"),
            OsString::from_vec(b"/Users/\xffx".to_vec()),
        ]);
        assert_eq!(a, ["dscl", "/Users/\u{FFFD}x"]);
        assert!(a[1].contains(NOT_UTF8));
    }
}
