fn main() {
    let args: Vec<String> = std::env::args().collect();
    let stdin = std::io::stdin();
    let code = dseditgroup::run(
        &args,
        &mut stdin.lock(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    std::process::exit(code);
}
