#!/usr/bin/env bash
# Soak test (not CI): TOTAL live x86_64-darwin builds through the build
# hook's job server on the real Darling, 2 slots, in batches of BATCH
# derivations, while LOAD busy loops keep the machine loaded. Counts the
# spurious failures: builds whose builder succeeded (it always does here)
# but which Nix reports as failed. Prints one line per failed batch with
# the first error, and a summary; the exit status is 0 only when there
# were none. Goal: zero in 1,000.
#
# Usage: bench/soak-live.sh [TOTAL] [BATCH]   (root, darling, nix-bin)
#   LOAD=N busy loops (default 2), JOBS=N slots (default 2)
set -euo pipefail
TOTAL=${1:-1000}
BATCH=${2:-20}
LOAD=${LOAD:-2}
JOBS=${JOBS:-2}
cd "$(dirname "$0")/.."
REPO=$PWD
cargo build --release -q -p build-hook -p darling-host
HOOK=${CARGO_TARGET_DIR:-$REPO/target}/release/build-hook
DARLING=$(command -v darling)
WORK=$(mktemp -d "${BENCH_DIR:-/tmp}/soak-live.XXXXXX")
export DPREFIX=$WORK/prefix
loads=()
cleanup() {
  for p in "${loads[@]}"; do kill "$p" 2>/dev/null || true; done
  # The prefix's upper layer is in $WORK: kept while its container runs.
  if sh "$REPO/nix/darling-prefix.sh" stop; then
    rm -rf --one-file-system "$WORK"
  else
    echo "kept $WORK: its Darling container still runs" >&2
  fi
}
trap cleanup EXIT
DARLING=$DARLING sh "$REPO/nix/darling-prefix.sh" start
mkdir -p "$WORK/state" "$WORK/build"
cat > "$WORK/hook.toml" <<TOML
runner = "darling"
prefix = "$DPREFIX"
darling = "$DARLING"
state-dir = "$WORK/state"
build-dir = "$WORK/build"
max-jobs = $JOBS
TOML
# The load: busy loops that end with this script (bounded by its trap).
for _ in $(seq "$LOAD"); do (while :; do :; done) & loads+=($!); done

failed=0 batches=0 built=0 start=$(date +%s)
while [ "$built" -lt "$TOTAL" ]; do
  n=$(( TOTAL - built < BATCH ? TOTAL - built : BATCH ))
  nonce="$$-$(date +%s%N)"
  cat > "$WORK/drvs.nix" <<NIX
builtins.genList (i: derivation {
  name = "soak-\${toString i}"; nonce = "$nonce"; system = "x86_64-darwin";
  builder = "/bin/bash"; args = [ "-c" "echo \$name > \$out" ];
}) $n
NIX
  drvs=$(nix-instantiate "$WORK/drvs.nix" 2>/dev/null)
  if ! DARLING_NIX_HOOK_CONFIG=$WORK/hook.toml nix-store -r $drvs --keep-going \
      --option substituters '' --option builders '' --option build-users-group '' \
      --option build-hook "$HOOK" --max-jobs 20 >/dev/null 2>"$WORK/err"; then
    bad=$(grep -c "^error: build of\|failed with exit code\|^error: builder for" "$WORK/err" || true)
    [ "$bad" -gt 0 ] || bad=1
    failed=$(( failed + bad ))
    echo "batch $batches: $bad failed: $(grep -m1 -i error "$WORK/err")"
  fi
  built=$(( built + n )); batches=$(( batches + 1 ))
done
echo "soak: $TOTAL builds in $batches batches, $JOBS slots, $LOAD busy loops, $(( $(date +%s) - start )) s: $failed spurious failures"
[ "$failed" -eq 0 ]
