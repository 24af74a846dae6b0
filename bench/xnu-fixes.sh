#!/usr/bin/env bash
# getattrlist for Libc realpath's attributes vs the floor, per call, side by
# side in one process (see bench/xnu_fixes_bench.c).
#   bench/xnu-fixes.sh [PATH] [CALLS]
#       on Linux, the linux-shim archive against a plain statx;
#   bench/xnu-fixes.sh --darling [PATH] [CALLS]
#       a Mach-O build inside a scratch Darling prefix (needs root, a
#       working `darling`, zig from PyPI (`pip install ziglang==0.12.0`, or
#       ZIG=/path/to/zig) and the x86_64-apple-darwin Rust target): the handler through Darling's
#       __linux_syscall and vchroot, against Darling's own lstat and against
#       what realpath does per component on an unpatched Darling. PATH is a
#       path inside the prefix (default /bin/bash).
set -euo pipefail
cd "$(dirname "$0")/.."
T=$(mktemp -d)
darling_mode=0
if [ "${1:-}" = --darling ]; then darling_mode=1; shift; fi
build() { # $1: extra cargo args
  CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
    cargo rustc -q -p xnu-fixes --release --locked --crate-type staticlib $1 --target-dir "$T/target"
}
if [ $darling_mode = 0 ]; then
  trap 'rm -rf --one-file-system "$T"' EXIT
  build "--features staticlib,linux-shim"
  cc -O2 -I xnu-fixes/include bench/xnu_fixes_bench.c "$T/target/release/libxnu_fixes.a" -o "$T/bench"
  "$T/bench" "${1:-/usr/bin/env}" "${2:-200000}"
  exit
fi

zig=${ZIG:-$(command -v zig || python3 -c 'import ziglang, os; print(os.path.dirname(ziglang.__file__) + "/zig")')}
export DPREFIX=$T/prefix
# Darling's daemons inherit the cwd and limits: no core files in the checkout.
ulimit -c 0
# Never leave the prefix's darlingserver running; its upper layer is in $T:
# kept while the container runs.
trap 'if sh nix/darling-prefix.sh stop; then rm -rf --one-file-system "$T"; else echo "kept $T: its Darling container still runs" >&2; fi' EXIT
build "--features staticlib --target x86_64-apple-darwin"
# zig's own libSystem stubs; the glue finds Darling's hooks at run time.
ZIG_GLOBAL_CACHE_DIR=$T/zig-cache "$zig" cc -target x86_64-macos.11.0 -O2 -I xnu-fixes/include \
  bench/xnu_fixes_bench.c xnu-fixes/dylib/darling_hooks.c \
  "$T/target/x86_64-apple-darwin/release/libxnu_fixes.a" -o "$T/bench"
# Started in a session of its own (never in this script's process group),
# as darling-nix's tools start a prefix.
SHARE_STORE=0 sh nix/darling-prefix.sh start
# Output through files: the prefix's darlingserver keeps inherited pipes open.
darling shell "/Volumes/SystemRoot$T/bench" "${1:-/bin/bash}" "${2:-100000}" \
  > "$T/out" 2> "$T/err" || { cat "$T/err" >&2; exit 1; }
cat "$T/out"
