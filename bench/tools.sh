#!/usr/bin/env bash
# Per-call cost of the in-prefix tools that sit on hot paths, side by side
# with /bin/true (the cost of starting any process) in one run:
#   sandbox-exec with Nix's minimal profile (every build of Nix <= 2.24),
#   sandbox-exec with a full-shaped profile of 2000 input paths,
#   diskutil info -plist / (every Rust-installer run),
#   syscall-triage over a 10 000-line log.
# Usage: bench/tools.sh [RUNS]     (release build; Linux with Landlock)
set -euo pipefail
RUNS=${1:-200}
cd "$(dirname "$0")/.."
cargo build --release -q -p sandbox-exec -p diskutil -p syscall-triage
B=$PWD/target/release
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
mkdir -p "$W/prefix/private/etc" "$W/prefix/private/var"

printf '(version 1)\n(allow default)\n(deny file-write-setugid)\n' > "$W/minimal.sb"
{
  printf '(version 1)\n(deny default (with no-log))\n'
  printf '(allow file-read* process-exec (subpath "/usr") (subpath "/bin") (subpath "/lib") (subpath "/lib64") (subpath "/etc") (subpath "/proc"))\n'
  printf '(allow file-read* file-write* process-exec\n'
  for i in $(seq 2000); do printf '  (subpath "/nix/store/%032d-input")\n' "$i"; done
  printf ')\n'
} > "$W/full.sb"
for i in $(seq 10000); do
  if (( i % 97 == 0 )); then echo "Unimplemented syscall ($(( 400 + i % 7 )))"; else echo "compiling unit $i"; fi
done > "$W/build.log"

now() { date +%s%N; }
time_it() { # NAME CMD...
  local name=$1; shift
  local t0 t1
  t0=$(now)
  for _ in $(seq "$RUNS"); do "$@" >/dev/null 2>&1 || true; done
  t1=$(now)
  echo "$name $(( (t1 - t0) / RUNS / 1000 ))"
}

{
  time_it floor /bin/true
  time_it sandbox-exec-minimal "$B/sandbox-exec" -f "$W/minimal.sb" /bin/true
  time_it sandbox-exec-full-2000 "$B/sandbox-exec" -f "$W/full.sb" /bin/true
  time_it diskutil-info env DARLING_PREFIX="$W/prefix" "$B/diskutil" info -plist /
  time_it syscall-triage-10k "$B/syscall-triage" "$W/build.log"
} > "$W/results"

floor=$(awk '$1 == "floor" {print $2}' "$W/results")
echo "$RUNS runs each; µs per call; ratio to /bin/true"
printf '| call | µs | ratio |\n|---|---|---|\n'
while read -r name us; do
  printf '| %s | %s | %s |\n' "$name" "$us" "$(echo "scale=2; $us / $floor" | bc)"
done < "$W/results"
