#!/usr/bin/env bash
# Benchmark: the Nix installer's 32-build-user creation sequence and a single
# `dscl . -read`, side by side in one run with plain process start-up
# (`true`, the floor). Prints absolute times and ratios to the floor.
#
#   bash bench/accounts.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-200}
cargo build --release -q -p dscl -p dseditgroup
bin=$PWD/target/release
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

fresh_prefix() {
  rm -rf "$work/p"; mkdir -p "$work/p/private/etc"
  printf 'root:*:0:0::0:0:System Administrator:/var/root:/bin/sh\n' > "$work/p/private/etc/master.passwd"
  printf 'root:*:0:0:System Administrator:/var/root:/bin/sh\n' > "$work/p/private/etc/passwd"
  printf 'wheel:*:0:root\nstaff:*:20:root\n' > "$work/p/private/etc/group"
}
export DARLING_PREFIX=$work/p

now() { date +%s%N; }

# Floor: one process start per call, same call count as the sequence below.
calls_per_user=8
install_sequence() {
  "$bin/dseditgroup" -o create -r "Nix build group for nix-daemon" -i 350 nixbld
  for i in $(seq 1 32); do
    p=/Users/_nixbld$i
    "$bin/dscl" . -create $p UniqueID $((350 + i))
    "$bin/dscl" . -create $p IsHidden 1
    "$bin/dscl" . -create $p NFSHomeDirectory /var/empty
    "$bin/dscl" . -create $p RealName "Nix build user $i"
    "$bin/dscl" . -create $p UserShell /sbin/nologin
    "$bin/dscl" . -create $p PrimaryGroupID 350
    "$bin/dseditgroup" -o checkmember -m _nixbld$i nixbld >/dev/null || true
    "$bin/dseditgroup" -o edit -t user -a _nixbld$i nixbld
  done
}
floor_sequence() { for _ in $(seq 1 $((1 + 32 * calls_per_user))); do /bin/true; done; }

seq_rounds=$(( rounds / 20 > 3 ? rounds / 20 : 3 ))
t_install=0; t_floor_seq=0
for _ in $(seq 1 "$seq_rounds"); do
  fresh_prefix
  a=$(now); install_sequence; b=$(now); floor_sequence; c=$(now)
  t_install=$((t_install + b - a)); t_floor_seq=$((t_floor_seq + c - b))
done

# A single read on the populated prefix vs a single `true`.
t_read=0; t_true=0
for _ in $(seq 1 "$rounds"); do
  a=$(now); "$bin/dscl" . -read /Users/_nixbld17 >/dev/null; b=$(now); /bin/true; c=$(now)
  t_read=$((t_read + b - a)); t_true=$((t_true + c - b))
done

awk -v ti="$t_install" -v tf="$t_floor_seq" -v sr="$seq_rounds" -v tr="$t_read" -v tt="$t_true" -v r="$rounds" 'BEGIN {
  printf "32-user install sequence (257 calls): %8.1f ms   floor (257 x true): %8.1f ms   ratio %.2f\n", ti/sr/1e6, tf/sr/1e6, ti/tf
  printf "dscl . -read /Users/_nixbld17:        %8.3f ms   floor (true):       %8.3f ms   ratio %.2f\n", tr/r/1e6, tt/r/1e6, tr/tt
}'
