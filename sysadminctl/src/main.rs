fn main() {
    let args = prefixfs::text_args(std::env::args_os());
    let code = sysadminctl::run(&args, &mut std::io::stderr().lock());
    std::process::exit(code);
}
