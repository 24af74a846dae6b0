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
#   ours-noq: the same with queue = 0, so every build beyond the slots is
#          postponed, as the stock hook does.
# The chroot runner stands in for Darling: Darling's own start-up cost per
# build is not measurable here and is not included.
#
# Usage: bench/build-hook.sh [N] [ROUNDS]   (root, Debian nix-bin, busybox-static)
set -euo pipefail
N=${1:-20}
ROUNDS=${2:-3}
cd "$(dirname "$0")/.."
cargo build --release -q -p build-hook
HOOK=$PWD/target/release/build-hook
BB=$(command -v busybox)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

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

declare -A total
for r in $(seq "$ROUNDS"); do
  for way in floor peer ours ours-noq; do
    s="$WORK/$way-$r"; new_store "$s"
    [ "$way" = peer ] && new_store "$s.remote"
    # Instantiate outside the timed region, so only building is measured.
    nix-instantiate --store "$s" "$WORK/drvs.nix" >/dev/null 2>&1
    t0=$(now)
    case $way in
      floor) run_floor "$s" ;;
      peer) run_peer "$s" "$s.remote" ;;
      ours) run_ours "$s" ;;
      ours-noq) run_ours "$s" "queue = 0" ;;
    esac
    t1=$(now)
    ms=$(( (t1 - t0) / 1000000 ))
    total[$way]=$(( ${total[$way]:-0} + ms ))
    echo "round $r $way: $ms ms"
  done
done

per() { echo "scale=1; ${total[$1]} / $ROUNDS / $N" | bc; }
ratio() { echo "scale=2; ${total[$1]} / ${total[$2]}" | bc; }
echo
echo "N=$N derivations, $ROUNDS rounds, 2 parallel builds each way, build-poll-interval $POLL s"
printf '| way | ms per derivation | ours / way |\n|---|---|---|\n'
for way in floor peer ours ours-noq; do
  printf '| %s | %s | %s |\n' "$way" "$(per $way)" "$(ratio ours $way)"
done
