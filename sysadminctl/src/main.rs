fn main() {
    prefixfs::run_tool(sysadminctl::main)
}
