fn main() {
    prefixfs::run_tool(diskutil::main)
}
