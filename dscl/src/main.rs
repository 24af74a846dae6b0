fn main() {
    let args = prefixfs::text_args(std::env::args_os());
    let code = dscl::run(
        &args,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    std::process::exit(code);
}
