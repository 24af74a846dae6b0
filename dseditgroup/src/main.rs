fn main() {
    let args = prefixfs::text_args(std::env::args_os());
    let stdin = std::io::stdin();
    let code = dseditgroup::run(
        &args,
        &mut stdin.lock(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    std::process::exit(code);
}
