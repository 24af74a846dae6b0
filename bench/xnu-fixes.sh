#!/usr/bin/env bash
# getattrlist for Libc realpath's attributes vs a plain statx, per call,
# side by side in one process (see bench/xnu_fixes_bench.c). Uses the
# staticlib with the Linux shim (Darling's trampoline adds its own cost,
# not measured here).
# Usage: bench/xnu-fixes.sh [PATH] [CALLS]
set -euo pipefail
cd "$(dirname "$0")/.."
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
  cargo rustc -q -p xnu-fixes --release --locked --crate-type staticlib \
  --features staticlib,linux-shim --target-dir "$T/target"
cc -O2 -I xnu-fixes/include bench/xnu_fixes_bench.c "$T/target/release/libxnu_fixes.a" -o "$T/bench"
"$T/bench" "${1:-/usr/bin/env}" "${2:-200000}"
