#!/usr/bin/env bash
# Per-derivation cost of N trivial x86_64-darwin derivations on the real
# Darling, side by side in one run (host store, Debian's Nix 2.8):
#   floor:  Nix builds them itself on Linux (`--option system x86_64-darwin`,
#           the host's /bin/bash as builder; Nix's own build-remote declines);
#   macho:  one Mach-O process start inside Darling: N `/bin/bash -c true`
#           run by one `darling shell`, total divided by N;
#   server: target/release/build-hook, darling runner, through the prefix's
#           job server (started by a warm-up build before timing);
#   shell:  the same with job-server = false: one `darling shell` per build.
# Each mode builds its own copy of the derivations (a nonce per mode and
# round), JOBS slots at once (Nix --max-jobs for the floor, the hook's
# max-jobs otherwise). The prefix is made and started by nix/darling-prefix.sh
# as the NixOS module does, and shut down at the end.
# Goal: server <= 1.2 x (floor + macho).
#
# Usage: bench/build-hook-live.sh [N] [ROUNDS]   (root, darling, nix-bin)
set -euo pipefail
N=${1:-20}
ROUNDS=${2:-3}
JOBS=${JOBS:-2}
cd "$(dirname "$0")/.."
REPO=$PWD
cargo build --release -q -p build-hook
HOOK=${CARGO_TARGET_DIR:-$REPO/target}/release/build-hook
DARLING=$(command -v darling)
WORK=$(mktemp -d "${BENCH_DIR:-/tmp}/build-hook-live.XXXXXX")
export DPREFIX=$WORK/prefix
cleanup() {
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

config() { # JOB_SERVER
  cat > "$WORK/hook-$1.toml" <<TOML
runner = "darling"
prefix = "$DPREFIX"
darling = "$DARLING"
state-dir = "$WORK/state"
build-dir = "$WORK/build"
max-jobs = $JOBS
job-server = $1
TOML
  echo "$WORK/hook-$1.toml"
}
CFG_SERVER=$(config true)
CFG_SHELL=$(config false)

drvs() { # NONCE -> derivation paths
  cat > "$WORK/drvs.nix" <<NIX
builtins.genList (i: derivation {
  name = "bench-live-\${toString i}"; nonce = "$1"; system = "x86_64-darwin";
  builder = "/bin/bash"; args = [ "-c" "echo \$name > \$out" ];
}) $N
NIX
  nix-instantiate "$WORK/drvs.nix" 2>/dev/null
}

common=(--option substituters '' --option builders '' --option build-users-group '' --option build-poll-interval 1)
now() { date +%s%N; }
nonce() { echo "$1-$$-$(now)"; }

run_floor() {
  local d; d=$(drvs "$(nonce floor)")
  local t0; t0=$(now)
  nix-store -r $d "${common[@]}" --option system x86_64-darwin --max-jobs "$JOBS" >/dev/null 2>"$WORK/err" \
    || { cat "$WORK/err" >&2; exit 1; }
  echo $(( ($(now) - t0) / N / 1000 ))
}

run_hook() { # CONFIG
  local d; d=$(drvs "$(nonce hook)")
  local t0; t0=$(now)
  DARLING_NIX_HOOK_CONFIG=$1 nix-store -r $d "${common[@]}" --option build-hook "$HOOK" --max-jobs 20 >/dev/null 2>"$WORK/err" \
    || { cat "$WORK/err" >&2; exit 1; }
  echo $(( ($(now) - t0) / N / 1000 ))
}

run_macho() {
  local t0; t0=$(now)
  "$DARLING" shell /bin/bash -c "i=0; while [ \$i -lt $N ]; do /bin/bash -c true; i=\$((i+1)); done" \
    </dev/null >/dev/null 2>&1
  echo $(( ($(now) - t0) / N / 1000 ))
}

# Warm-up: starts the job server and loads the caches.
N_SAVE=$N; N=2
run_hook "$CFG_SERVER" >/dev/null
N=$N_SAVE

ms() { awk -v u="$1" 'BEGIN { printf "%.1f", u / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo "N=$N derivations, $JOBS slots, $ROUNDS rounds; ms per derivation"
echo "| round | floor | macho | floor+macho | server | shell | server/(floor+macho) | shell/(floor+macho) | server-(floor+macho) |"
echo "|---|---|---|---|---|---|---|---|---|"
for r in $(seq "$ROUNDS"); do
  f=$(run_floor)
  m=$(run_macho)
  s=$(run_hook "$CFG_SERVER")
  sh_=$(run_hook "$CFG_SHELL")
  base=$((f + m))
  echo "| $r | $(ms "$f") | $(ms "$m") | $(ms "$base") | $(ms "$s") | $(ms "$sh_") | $(ratio "$s" "$base") | $(ratio "$sh_" "$base") | $(ms $((s - base))) |"
done
