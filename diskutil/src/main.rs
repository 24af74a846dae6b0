use std::io::Write;

use prefixfs::sysexits::{EX_IOERR, EX_UNAVAILABLE};

fn main() {
    let args = prefixfs::text_args(std::env::args_os().skip(1));
    let prefix = match prefixfs::Prefix::resolve() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("diskutil: {e}");
            std::process::exit(EX_UNAVAILABLE);
        }
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = match diskutil::run(
        prefix,
        &args,
        &mut diskutil::Io {
            out: &mut out,
            err: &mut err,
        },
    ) {
        Ok(c) => c,
        Err(e) => {
            // Our own state files could not be read or written: not one of
            // diskutil's answers, so a sysexits code rather than its 1.
            let _ = writeln!(err, "diskutil: {e}");
            EX_IOERR
        }
    };
    let _ = std::io::stdout().write_all(&out);
    let _ = std::io::stderr().write_all(&err);
    std::process::exit(code);
}
