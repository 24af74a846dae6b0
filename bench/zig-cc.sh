#!/usr/bin/env bash
# Speed of real work inside Darling: `zig cc -O2 -c` of the SQLite
# amalgamation (the sqlite3.c that the libsqlite3-sys crate carries), with
# the macOS zig 0.12.0 (PyPI wheel) inside a scratch Darling prefix, against
# the Linux zig 0.12.0 on the same file, in one run, ROUNDS times each,
# alternating. Both target x86_64-macos, so both do the same compilation.
# Goal: darling / linux <= 1.5.
#
# Usage: bench/zig-cc.sh [ROUNDS]   (root, darling, zig 0.12.0 from PyPI)
set -euo pipefail
ROUNDS=${1:-3}
cd "$(dirname "$0")/.."
REPO=$PWD
command -v darling >/dev/null || { echo "zig-cc.sh: needs darling on PATH" >&2; exit 1; }
src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/libsqlite3-sys-*/sqlite3/sqlite3.c 2>/dev/null | head -n 1)
[ -n "$src" ] || { echo "zig-cc.sh: no sqlite3.c (cargo fetch brings libsqlite3-sys)" >&2; exit 1; }
linux_zig=${ZIG:-$(python3 -c 'import ziglang, os; print(os.path.dirname(ziglang.__file__) + "/zig")')}
# The macOS zig, from the corpus cache the tests fill (e2e::corpus).
cargo test -q --locked -p e2e --test corpus -- every_corpus_program_fetches >/dev/null
mac_zig=$(ls -d "${DARLING_NIX_CORPUS_DIR:-${CARGO_TARGET_DIR:-$REPO/target}/corpus}"/unpacked/ziglang-0.12.0-*macosx*/ziglang/zig | head -n 1)
WORK=$(mktemp -d "${BENCH_DIR:-/tmp}/zig-cc.XXXXXX")
export DPREFIX=$WORK/prefix
# The prefix's upper layer is in $WORK: kept while its container runs.
trap 'if sh "$REPO/nix/darling-prefix.sh" stop; then rm -rf --one-file-system "$WORK"; else echo "kept $WORK: its Darling container still runs" >&2; fi' EXIT
DARLING=$(command -v darling) SHARE_STORE=0 sh "$REPO/nix/darling-prefix.sh" start
# xnu-fixes for the macOS zig (its __ulock_wait2).
bash xnu-fixes/dylib/build.sh "$DPREFIX/usr/local/lib/libxnu_fixes.dylib" >/dev/null
cp "$src" "$WORK/sqlite3.c"
now() { date +%s%N; }
lin=0 dar=0
for r in $(seq "$ROUNDS"); do
  t0=$(now)
  ZIG_GLOBAL_CACHE_DIR=$WORK/lin-$r "$linux_zig" cc -target x86_64-macos.11.0 -O2 -c "$WORK/sqlite3.c" -o "$WORK/lin.o"
  t1=$(now)
  darling shell /bin/bash -c "export DYLD_INSERT_LIBRARIES=/usr/local/lib/libxnu_fixes.dylib ZIG_GLOBAL_CACHE_DIR=/Volumes/SystemRoot$WORK/dar-$r; /Volumes/SystemRoot$mac_zig cc -target x86_64-macos.11.0 -O2 -c /Volumes/SystemRoot$WORK/sqlite3.c -o /Volumes/SystemRoot$WORK/dar.o; echo \$? > /Volumes/SystemRoot$WORK/rc" \
    > "$WORK/out" 2> "$WORK/err" < /dev/null || true
  t2=$(now)
  [ "$(cat "$WORK/rc" 2>/dev/null)" = 0 ] || { echo "round $r: zig inside Darling failed:"; tail -n 5 "$WORK/err"; exit 1; }
  lin=$(( lin + (t1 - t0) / 1000000 )); dar=$(( dar + (t2 - t1) / 1000000 ))
  echo "round $r: linux $(( (t1 - t0) / 1000000 )) ms, darling $(( (t2 - t1) / 1000000 )) ms"
done
awk -v l="$lin" -v d="$dar" -v r="$ROUNDS" 'BEGIN { printf "zig cc -O2 sqlite3.c: linux %.0f ms, darling %.0f ms, darling / linux %.2f\n", l / r, d / r, d / l }'
