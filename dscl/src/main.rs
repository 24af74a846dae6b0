fn main() {
    prefixfs::run_tool(dscl::main)
}
