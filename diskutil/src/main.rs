use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let prefix = match prefixfs::Prefix::resolve() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("diskutil: {e}");
            std::process::exit(1);
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
            let _ = writeln!(err, "diskutil: {e}");
            1
        }
    };
    let _ = std::io::stdout().write_all(&out);
    let _ = std::io::stderr().write_all(&err);
    std::process::exit(code);
}
