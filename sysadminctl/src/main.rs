fn main() {
    let args: Vec<String> = std::env::args().collect();
    let code = sysadminctl::run(&args, &mut std::io::stderr().lock());
    std::process::exit(code);
}
