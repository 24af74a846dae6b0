#!/usr/bin/env bash
# Per-call cost of the in-prefix tools that sit on hot paths, side by side
# with /bin/true (the cost of starting any process) in one run:
#   sandbox-exec with Nix's minimal profile (every build of Nix <= 2.24),
#   sandbox-exec with a typical Nix 2.24 profile (about 200 store inputs,
#   Nix's /dev grants, an output that does not exist yet),
#   sandbox-exec with a full-shaped profile of 2000 input paths,
#   diskutil info -plist / (every Rust-installer run),
#   syscall-triage over a 10 000-line log.
# Usage: bench/tools.sh [RUNS]     (release build; Linux with Landlock)
#   SANDBOX_EXEC_BEFORE=/path/to/older/sandbox-exec adds its rows, measured
#   in the same run, for before/after comparisons.
set -euo pipefail
RUNS=${1:-200}
cd "$(dirname "$0")/.."
cargo build --release -q -p sandbox-exec -p diskutil -p syscall-triage
B=${CARGO_TARGET_DIR:-$PWD/target}/release
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
# Nix 2.24's shape: defaults, the output, the inputs (existing here, so
# each gets a Landlock rule), their ancestors as literals.
mkdir -p "$W/store"
{
  printf '(version 1)\n(deny default (with no-log))\n(define TMPDIR (param "_GLOBAL_TMP_DIR"))\n(deny file-write-setugid)\n'
  printf '(allow process-fork sysctl-read ipc-posix* ipc-sysv* system-socket)\n'
  printf '(allow mach-lookup (global-name "com.apple.system.opendirectoryd.libinfo"))\n'
  printf '(allow file* process-exec network-outbound network-inbound (literal "/tmp") (subpath TMPDIR))\n'
  printf '(allow file* (literal "/dev/null") (literal "/dev/random") (literal "/dev/stderr") (literal "/dev/stdin") (literal "/dev/stdout") (literal "/dev/tty") (literal "/dev/urandom") (literal "/dev/zero") (subpath "/dev/fd"))\n'
  printf '(allow file-read* process-exec (subpath "/usr") (subpath "/bin") (subpath "/lib") (subpath "/lib64") (subpath "/etc") (subpath "/proc"))\n'
  printf '(allow file-read* file-write* process-exec (subpath "%s/store/00000000000000000000000000000000-out"))\n' "$W"
  printf '(allow file-read* file-write* process-exec\n'
  for i in $(seq 200); do
    mkdir -p "$W/store/$(printf %032d "$i")-input"
    printf '  (subpath "%s/store/%032d-input")\n' "$W" "$i"
  done
  printf ')\n(allow file-read* (literal "%s") (literal "%s/store"))\n' "$W" "$W"
} > "$W/typical.sb"
for i in $(seq 10000); do
  if (( i % 97 == 0 )); then echo "Unimplemented syscall ($(( 400 + i % 7 )))"; else echo "compiling unit $i"; fi
done > "$W/build.log"

# The calls are interleaved (one of each per round) and each is reported
# as its median, so that load from other processes hits all of them alike.
c_floor() { /bin/true; }
c_sandbox-exec-minimal() { "$B/sandbox-exec" -f "$W/minimal.sb" /bin/true; }
c_sandbox-exec-typical-200() { "$B/sandbox-exec" -f "$W/typical.sb" -D _GLOBAL_TMP_DIR="$W" /bin/true; }
c_sandbox-exec-full-2000() { "$B/sandbox-exec" -f "$W/full.sb" /bin/true; }
c_before-sandbox-exec-minimal() { "$SANDBOX_EXEC_BEFORE" -f "$W/minimal.sb" /bin/true; }
c_before-sandbox-exec-typical-200() { "$SANDBOX_EXEC_BEFORE" -f "$W/typical.sb" -D _GLOBAL_TMP_DIR="$W" /bin/true; }
c_before-sandbox-exec-full-2000() { "$SANDBOX_EXEC_BEFORE" -f "$W/full.sb" /bin/true; }
c_diskutil-info() { DARLING_PREFIX="$W/prefix" "$B/diskutil" info -plist /; }
c_syscall-triage-10k() { "$B/syscall-triage" "$W/build.log"; }

NAMES=(floor sandbox-exec-minimal sandbox-exec-typical-200 sandbox-exec-full-2000)
if [[ -n ${SANDBOX_EXEC_BEFORE:-} ]]; then
  NAMES+=(before-sandbox-exec-minimal before-sandbox-exec-typical-200 before-sandbox-exec-full-2000)
fi
NAMES+=(diskutil-info syscall-triage-10k)

for _ in $(seq "$RUNS"); do
  for name in "${NAMES[@]}"; do
    t0=${EPOCHREALTIME/./}
    "c_$name" >/dev/null 2>&1 || true
    t1=${EPOCHREALTIME/./}
    echo $(( 10#$t1 - 10#$t0 )) >> "$W/samples.$name"
  done
done
for name in "${NAMES[@]}"; do
  echo "$name $(sort -n "$W/samples.$name" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
done > "$W/results"

floor=$(awk '$1 == "floor" {print $2}' "$W/results")
echo "$RUNS interleaved runs each; median µs per call; ratio to /bin/true"
printf '| call | µs | ratio |\n|---|---|---|\n'
while read -r name us; do
  printf '| %s | %s | %s |\n' "$name" "$us" "$(echo "scale=2; $us / $floor" | bc)"
done < "$W/results"
