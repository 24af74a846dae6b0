#!/usr/bin/env bash
# demo.sh: build one x86_64-darwin derivation through darling-nix's build
# hook, from a fresh checkout, and say what built it.
#
#   sudo bash demo.sh            (root: chroot stores, Darling prefixes)
#
# With a working `darling` on PATH the builder is Darling's own Mach-O
# /bin/bash, run in a scratch prefix that shares the host's /nix store (as
# the NixOS module sets it up). Without one, the hook's `chroot` runner
# stands in for Darling: the builder is a static busybox in a scratch store,
# and the demo says so. Either way the host's Nix (Debian's nix-bin, or any
# nix-store on PATH) hands the darwin build to the hook, which is the only
# thing here that can build for x86_64-darwin.
#
# On Debian, missing nix-bin and busybox-static are installed with apt-get
# (busybox-static replaces Debian's dynamically linked busybox, which cannot
# run inside a chroot store). Needs cargo on PATH (root's: sudo's
# secure_path hides a user's ~/.cargo/bin); the hook is built into
# $CARGO_TARGET_DIR (default target/).
# Everything else goes into one scratch directory, removed at the end (the
# store path printed lives on only in the Darling case, in /nix/store).
# Exit status: 0 built, 1 the build failed, 69 a dependency is missing
# (root, cargo, Nix, a static busybox).
set -euo pipefail
cd "$(dirname "$0")"

say() { printf 'demo: %s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
  say "run as root (the hook's runners need chroot or a Darling prefix): sudo bash demo.sh"
  exit 69
fi

if ! command -v cargo >/dev/null 2>&1; then
  say "needs cargo (a Rust toolchain) on PATH; sudo's secure_path drops a user's ~/.cargo/bin: run it in a root shell with a toolchain (e.g. sudo -i with rustup)"
  exit 69
fi

# An ELF without a program interpreter (statically linked): what runs as
# /bin/sh in a chroot store, with no libraries around it.
static_elf() {
  [ -f "$1" ] && [ "$(head -c 4 "$1" | tail -c 3)" = ELF ] || return 1
  if command -v readelf >/dev/null 2>&1; then
    hdrs=$(readelf -l "$1" 2>/dev/null) || return 1
    ! printf '%s\n' "$hdrs" | grep -q INTERP
  else
    ! ldd "$1" 2>/dev/null | grep -q '=>'
  fi
}
find_busybox() {
  for bb in "$(command -v busybox || true)" /bin/busybox /usr/bin/busybox; do
    if [ -n "$bb" ] && static_elf "$bb"; then echo "$bb"; return; fi
  done
}
busybox=$(find_busybox)
if ! command -v nix-store >/dev/null 2>&1 || [ -z "$busybox" ]; then
  if command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's nix-bin and busybox-static"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nix-bin busybox-static >/dev/null ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nix-bin busybox-static >/dev/null; }
    busybox=$(find_busybox)
    if [ -z "$busybox" ]; then
      say "no statically linked busybox after installing busybox-static"
      exit 69
    fi
  else
    say "needs nix-store and nix-instantiate (Nix) and a statically linked busybox on PATH"
    exit 69
  fi
fi

say "building the tools (cargo build --release -p build-hook)"
cargo build --release --locked -q -p build-hook
target=${CARGO_TARGET_DIR:-$PWD/target}
case $target in /*) ;; *) target=$PWD/$target ;; esac
hook=$target/release/build-hook

# Not under $HOME (which may be 0700): the runner's processes must reach it.
work=$(mktemp -d /tmp/darling-nix-demo.XXXXXX)
chmod 755 "$work"
prefix= live=
cleanup() {
  # Whenever a prefix was made: a failed start may leave its darlingserver
  # running (stop does nothing without .init.pid). Its upper layer is in
  # $work: kept while the container runs.
  if [ -n "$prefix" ] && ! DPREFIX=$prefix sh nix/darling-prefix.sh stop >/dev/null 2>"$work/stop.log"; then
    say "kept $work: the Darling container of its prefix still runs ($(tail -n 1 "$work/stop.log"))"
    return
  fi
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

# Darling, when one is installed and answers.
why_not=
if ! command -v darling >/dev/null 2>&1; then
  why_not="no darling on PATH"
else
  prefix=$work/prefix
  # `darling shell` output through files: the prefix's darlingserver keeps
  # inherited pipes open.
  if DPREFIX=$prefix DARLING=$(command -v darling) sh nix/darling-prefix.sh start >"$work/start.log" 2>&1; then
    live=1
    if ! DPREFIX=$prefix darling shell true >"$work/probe.log" 2>&1 </dev/null; then
      why_not="\`darling shell true\` failed: $(tail -n 1 "$work/probe.log")"
    fi
  else
    why_not="the Darling prefix did not start: $(tail -n 1 "$work/start.log")"
  fi
  if [ -n "$why_not" ] && [ -n "$live" ]; then
    DPREFIX=$prefix sh nix/darling-prefix.sh stop >/dev/null 2>&1 || true
    live=
  fi
fi

nonce="$(date +%s%N)-$$"
expr=$work/hello.nix
cfg=$work/hook.toml
if [ -n "$live" ]; then
  mkdir -p "$work/state" "$work/build"
  cat > "$cfg" <<EOF
runner = "darling"
prefix = "$prefix"
darling = "$(command -v darling)"
state-dir = "$work/state"
build-dir = "$work/build"
EOF
  store_args=()
  builder=/bin/bash
else
  store=$work/store
  mkdir -p "$store/bin" "$store/tmp"
  cp "$busybox" "$store/bin/sh"
  printf 'runner = "chroot"\nprefix = "%s"\nstate-dir = "%s"\n' "$store" "$work/state" > "$cfg"
  store_args=(--store "$store")
  builder=/bin/sh
fi
cat > "$expr" <<EOF
derivation {
  name = "hello-darwin";
  system = "x86_64-darwin";
  builder = "$builder";
  nonce = "$nonce";
  args = [ "-c" "echo \"hello from \$system\" > \$out" ];
}
EOF

drv=$(nix-instantiate "${store_args[@]}" "$expr" 2>"$work/instantiate.log") ||
  { cat "$work/instantiate.log" >&2; exit 1; }
set +e
out=$(DARLING_NIX_HOOK_CONFIG=$cfg nix-store "${store_args[@]}" -r "$drv" \
  --option build-hook "$hook" --option builders '' --option substituters '' \
  --option build-users-group '' 2>"$work/build.log")
rc=$?
set -e
if [ $rc != 0 ]; then
  cat "$work/build.log" >&2
  say "the build failed (nix-store exited $rc)"
  exit 1
fi
machine=$(sed -n "s/^building '.*' on '\(.*\)'.*/\1/p" "$work/build.log" | head -n 1)
if [ -z "$machine" ]; then
  cat "$work/build.log" >&2
  say "Nix did not report handing the build to the hook"
  exit 1
fi
content_path=$out
[ -n "$live" ] || content_path=$store$out

echo "output: $out"
echo "content: $(cat "$content_path")"
if [ -n "$live" ]; then
  echo "built by: build-hook (Nix's machine '$machine'), darling runner: Darling's Mach-O /bin/bash in a scratch prefix"
else
  echo "built by: build-hook (Nix's machine '$machine'), chroot runner standing in for Darling ($why_not): a static busybox as the builder"
fi
