#!/usr/bin/env bash
# Per-derivation cost of building N trivial x86_64-darwin derivations, three
# ways side by side in one run, each in a fresh chroot store:
#   floor: Nix builds them itself (`--option system x86_64-darwin`, local
#          sandboxed builds), no hook at all;
#   peer:  the stock build-remote with
#          builders = ssh-ng://localhost?remote-program=<wrapper>, where the
#          wrapper is a local `nix-daemon --stdio` on a second chroot store
#          (Nix runs it directly for host `localhost`, no SSH);
#   ours:  target/release/build-hook, chroot runner, direct mode, default
#          queue (32 places);
#   ours-nix: the same, registering through `nix-store` (--import before
#          Nix 2.29, --register-validity after), the route the default one
#          (a direct write to the store database) falls back to;
#   ours-noq: the default with queue = 0, so every build beyond the slots
#          is postponed, as the stock hook does;
#   ours-serve: the route nix.conf alone gives on every Nix (what
#          `build-hook --nix-conf` prints): the stock build-remote with
#          builders = ssh://localhost?remote-program=<build-hook>, the
#          output handed back as a NAR and registered by Nix.
# The chroot runner stands in for Darling: Darling's own start-up cost per
# build is not included (bench/build-hook-live.sh measures it).
#
# Usage: bench/build-hook.sh [N] [ROUNDS]   (root, Debian nix-bin, busybox-static)
#   NIX=2.26|2.34 runs the same inside the Debian root the e2e tests use
#   (target/nix-roots/{trixie,sid}, made by `cargo test -p e2e --test
#   nix_roots`; NIX_ROOT=DIR for another one); default: the host's Nix.
set -euo pipefail
N=${1:-20}
ROUNDS=${2:-3}
if [ -z "${BENCH_INSIDE:-}" ]; then
  cd "$(dirname "$0")/.."
  cargo build --release -q -p build-hook
  TARGET=${CARGO_TARGET_DIR:-$PWD/target}
  HOOK=$TARGET/release/build-hook
  case ${NIX:-host} in
    host) ;;
    2.26) NIX_ROOT=${NIX_ROOT:-$TARGET/nix-roots/trixie} ;;
    2.34) NIX_ROOT=${NIX_ROOT:-$TARGET/nix-roots/sid} ;;
    *) echo "NIX must be host, 2.26 or 2.34" >&2; exit 2 ;;
  esac
  if [ -n "${NIX_ROOT:-}" ]; then
    [ -x "$NIX_ROOT/usr/bin/nix-store" ] || { echo "no Nix root at $NIX_ROOT" >&2; exit 1; }
    # Run this script inside the root: its own mount namespace, the root
    # pivoted to / (Nix's sandbox needs a real root), fresh /proc and
    # /dev/pts. Nothing stays mounted when it ends.
    IN=$(mktemp -d "$NIX_ROOT/tmp/bench.XXXXXX")
    trap 'rm -rf --one-file-system "$IN"' EXIT
    cp "$HOOK" "$IN/build-hook"
    cp "$0" "$IN/bench.sh"
    rel=/tmp/$(basename "$IN")
    unshare -m --propagation private -- /bin/sh -c '
      mount --rbind "$1" "$1" && cd "$1" && pivot_root . mnt &&
      exec /bin/busybox chroot . /bin/busybox sh -c "
        /bin/busybox umount -l /mnt
        /bin/busybox mount -t proc proc /proc
        /bin/busybox mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
        export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root NIX_CONF_DIR=$2
        exec env BENCH_INSIDE=1 HOOK=$3/build-hook bash $3/bench.sh $4 $5"' \
      sh "$NIX_ROOT" /etc/darling-nix-tests "$rel" "$N" "$ROUNDS"
    exit
  fi
fi
BB=$(command -v busybox || true)
# Statically linked (busybox-static): Debian's dynamic busybox cannot run as
# /bin/sh in a chroot store.
if [ -z "$BB" ] || readelf -lW "$BB" 2>/dev/null | grep -c INTERP >/dev/null; then
  echo "needs a statically linked busybox on PATH (busybox-static)" >&2
  exit 1
fi
WORK=$(mktemp -d)
trap 'rm -rf --one-file-system "$WORK"' EXIT

new_store() { # DIR: a chroot store with busybox as /bin/sh
  mkdir -p "$1/bin" "$1/tmp"
  cp "$BB" "$1/bin/busybox"
  ln -s busybox "$1/bin/sh"
}

cat > "$WORK/drvs.nix" <<NIX
builtins.genList (i: derivation {
  name = "bench-\${toString i}"; system = "x86_64-darwin"; builder = "/bin/sh";
  args = [ "-c" "echo \$name > \$out" ];
}) $N
NIX

POLL=${POLL:-5}  # Nix's default build-poll-interval
common=(--option build-poll-interval "$POLL" --option builders-use-substitutes false --option substituters '' --option sandbox-paths "/bin/sh=$BB")

now() { date +%s%N; }

run_floor() { # STORE
  nix-store --store "$1" -r $(nix-instantiate --store "$1" "$WORK/drvs.nix" 2>/dev/null) \
    "${common[@]}" --option builders '' --option system x86_64-darwin --max-jobs 2 >/dev/null 2>&1
}

run_peer() { # STORE REMOTE
  cat > "$WORK/remote.sh" <<SH
#!/bin/sh
exec nix-daemon "\$@" --store $2 --option system x86_64-darwin --option substituters "" --option sandbox-paths /bin/sh=$BB
SH
  chmod +x "$WORK/remote.sh"
  nix-store --store "$1" -r $(nix-instantiate --store "$1" "$WORK/drvs.nix" 2>/dev/null) \
    "${common[@]}" --max-jobs 0 \
    --option builders "ssh-ng://localhost?remote-program=$WORK/remote.sh x86_64-darwin - 2 1" >/dev/null 2>&1
}

run_ours() { # STORE [EXTRA-CONFIG]
  printf 'runner = "chroot"\nprefix = "%s"\nstate-dir = "%s"\nmax-jobs = 2\n%s\n' "$1" "$1.state" "${2:-}" > "$1.toml"
  DARLING_NIX_HOOK_CONFIG="$1.toml" nix-store --store "$1" -r $(nix-instantiate --store "$1" "$WORK/drvs.nix" 2>/dev/null) \
    "${common[@]}" --option builders '' --option build-hook "$HOOK" >/dev/null 2>&1
}

run_serve() { # STORE
  printf 'runner = "chroot"\nprefix = "%s"\nstate-dir = "%s"\n' "$1" "$1.state" > "$1.toml"
  nix-store --store "$1" -r $(nix-instantiate --store "$1" "$WORK/drvs.nix" 2>/dev/null) \
    "${common[@]}" --max-jobs 0 \
    --option builders "ssh://localhost?remote-program=$HOOK%20--config%20$1.toml&remote-store=$1 x86_64-darwin - 2 1" >/dev/null 2>&1
}

WAYS=${WAYS:-floor peer ours ours-nix ours-noq ours-serve}
minor=$(nix-store --version | awk '{ split($NF, v, "."); print v[2] }')
if [ "$minor" -ge 29 ]; then NIXREG=register-validity; else NIXREG=import; fi
declare -A total times
for r in $(seq "$ROUNDS"); do
  for way in $WAYS; do
    s="$WORK/$way-$r"; new_store "$s"
    [ "$way" = peer ] && new_store "$s.remote"
    # Instantiate outside the timed region, so only building is measured.
    nix-instantiate --store "$s" "$WORK/drvs.nix" >/dev/null 2>&1
    t0=$(now)
    case $way in
      floor) run_floor "$s" ;;
      peer) run_peer "$s" "$s.remote" ;;
      ours) run_ours "$s" ;;
      ours-nix) run_ours "$s" "register = \"$NIXREG\"" ;;
      ours-noq) run_ours "$s" "queue = 0" ;;
      ours-serve) run_serve "$s" ;;
    esac
    t1=$(now)
    ms=$(( (t1 - t0) / 1000000 ))
    total[$way]=$(( ${total[$way]:-0} + ms ))
    times[$way]="${times[$way]:-} $ms"
    echo "round $r $way: $ms ms"
  done
done

per() { awk -v t="${total[$1]}" -v r="$ROUNDS" -v n="$N" 'BEGIN { printf "%.1f", t / r / n }'; }
ratio() { awk -v a="${total[$1]}" -v b="${total[$2]}" 'BEGIN { printf "%.2f", a / b }'; }
# Medians too: one round that waits out a `postpone` (a whole
# build-poll-interval) moves the mean a lot.
median() { printf '%s\n' ${times[$1]} | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
mper() { awk -v t="$(median "$1")" -v n="$N" 'BEGIN { printf "%.1f", t / n }'; }
mratio() { awk -v a="$(median "$1")" -v b="$(median "$2")" 'BEGIN { printf "%.2f", a / b }'; }
echo
echo "$(nix-store --version): N=$N derivations, $ROUNDS rounds, 2 parallel builds each way, build-poll-interval $POLL s"
printf '| way | ms per derivation (mean) | way / floor | way / ours | median ms | median way / floor | median way / ours |\n|---|---|---|---|---|---|---|\n'
for way in $WAYS; do
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$way" "$(per $way)" "$(ratio $way floor)" "$(ratio $way ours)" \
    "$(mper $way)" "$(mratio $way floor)" "$(mratio $way ours)"
done
