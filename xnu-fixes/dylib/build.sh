#!/usr/bin/env bash
# Builds libxnu_fixes.dylib (x86_64 macOS 11, for Darling processes via
# DYLD_INSERT_LIBRARIES) from this crate's x86_64-apple-darwin staticlib and
# the two C files beside this script, with zig from PyPI and its own macOS
# libSystem stubs (no SDK).
#   xnu-fixes/dylib/build.sh [OUT]     default: target/xnu-fixes/libxnu_fixes.dylib
# Also builds xnu-fixes-probe next to OUT: a Mach-O program that says
# whether the dylib answers in its process (nix-verify runs it).
# Needs: rustup target add x86_64-apple-darwin; pip install ziglang==0.12.0
# (or ZIG=/path/to/zig). Exit status: 0 built, 1 a step failed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
ws=$(cd "$here/../.." && pwd)
target=${CARGO_TARGET_DIR:-$ws/target}
out=${1:-$target/xnu-fixes/libxnu_fixes.dylib}
zig=${ZIG:-$(command -v zig || python3 -c 'import ziglang, os; print(os.path.dirname(ziglang.__file__) + "/zig")')}
[ -x "$zig" ] || { echo "build.sh: no zig (pip install ziglang==0.12.0, or ZIG=...)" >&2; exit 1; }
# Without libsandbox-names: the dylib imports libsandbox's functions to
# replace them, so it must not define them itself.
CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
  cargo rustc -q -p xnu-fixes --release --locked --target x86_64-apple-darwin \
  --no-default-features --features staticlib --crate-type staticlib \
  --manifest-path "$ws/Cargo.toml" --target-dir "$target/xnu-fixes/cargo"
mkdir -p "$(dirname "$out")"
cache=$target/xnu-fixes/zig-cache
ZIG_GLOBAL_CACHE_DIR=$cache ZIG_LOCAL_CACHE_DIR=$cache "$zig" cc -target x86_64-macos.11.0 \
  -shared -O2 -Wall -Wextra -Werror -fvisibility=hidden -I "$ws/xnu-fixes/include" \
  -Wl,-install_name,/usr/local/lib/libxnu_fixes.dylib \
  "$here/interpose.c" "$here/darling_hooks.c" \
  "$target/xnu-fixes/cargo/x86_64-apple-darwin/release/libxnu_fixes.a" -o "$out"
ZIG_GLOBAL_CACHE_DIR=$cache ZIG_LOCAL_CACHE_DIR=$cache "$zig" cc -target x86_64-macos.11.0 \
  -O2 -Wall -Wextra -Werror "$here/probe.c" -o "$(dirname "$out")/xnu-fixes-probe"
echo "$out"
