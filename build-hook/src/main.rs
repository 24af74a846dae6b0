fn main() {
    std::process::exit(build_hook::cli::main());
}
