fn main() {
    prefixfs::run_tool(dseditgroup::main)
}
