#!/bin/sh
# darling-prefix.sh start|stop: the NixOS module's darling-prefix service
# steps, in one place, so that the module and the live tests do the same.
#
#   start  copy darling-nix's in-prefix tools into the prefix (when
#          TOOLS_TREE is set), start the container, and bind-mount the host's
#          /nix at /nix inside (when SHARE_STORE=1, the default)
#   stop   `darling shutdown`
#
# Environment: DPREFIX (the prefix, required), DARLING (default `darling`),
# TOOLS_TREE (a directory holding usr/bin/dscl ..., e.g. the flake's
# prefix-tree), SHARE_STORE (1 or 0). Needs root, setsid, nsenter, mount,
# findmnt (util-linux).
# Exit status: 0 done, 64 usage, 69 Darling did not start, 1 other failure.
set -eu

usage() {
    echo "usage: DPREFIX=<prefix> darling-prefix.sh start|stop" >&2
    exit 64
}

[ $# -eq 1 ] || usage
prefix=${DPREFIX:-}
[ -n "$prefix" ] || usage
case $prefix in /*) ;; *) echo "darling-prefix.sh: DPREFIX must be absolute: $prefix" >&2; exit 64 ;; esac
darling=${DARLING:-darling}
export DPREFIX="$prefix"

# Whether a process runs: exists and is not a zombie (`darling shutdown`
# SIGKILLs the server, which stays a zombie until it is reaped).
running() {
    state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
    [ -n "$state" ] && [ "$state" != Z ]
}

# `darling shutdown` returns before the container is gone: wait for its
# darlingserver (bounded).
stop() {
    [ -e "$prefix/.init.pid" ] || return 0
    pid=$(cat "$prefix/.init.pid")
    "$darling" shutdown </dev/null >/dev/null 2>&1 || true
    n=0
    while [ -n "$pid" ] && running "$pid" && [ "$n" -lt 100 ]; do
        sleep 0.1
        n=$((n + 1))
    done
}

case $1 in
start)
    # The prefix's resident darlingserver keeps whatever stdout and stderr
    # it starts with: give it a file, never the caller's pipe.
    log=$(mktemp)
    trap 'rm -f "$log"' EXIT
    boot() {
        # On a busy machine the client can give up on the container's
        # shellspawn before it listens: retry.
        # In a session of its own: the darlingserver this starts stays in
        # the starting client's process group, and Darling re-raises fatal
        # signals to a whole group (see darling-host's boot module).
        tries=0
        until setsid -w "$darling" shell true </dev/null >"$log" 2>&1; do
            tries=$((tries + 1))
            if [ "$tries" -ge 5 ]; then
                echo "darling-prefix.sh: \`$darling shell true\` failed in $prefix:" >&2
                cat "$log" >&2
                exit 69
            fi
            sleep 1
        done
    }
    # Darling sets a prefix up only when its directory does not exist yet,
    # so a new prefix is made by Darling first (and stopped again, below).
    if [ ! -d "$prefix/System" ]; then
        if [ -d "$prefix" ] && [ -n "$(ls -A "$prefix")" ]; then
            echo "darling-prefix.sh: $prefix is not empty but not a Darling prefix" >&2
            exit 1
        fi
        rmdir "$prefix" 2>/dev/null || true
        mkdir -p "$(dirname "$prefix")"
        boot
    fi
    if [ -n "${TOOLS_TREE:-}" ]; then
        # Into the upper layer while the container is down.
        stop
        cp -a --remove-destination "$TOOLS_TREE"/. "$prefix"/
    fi
    boot
    if [ "${SHARE_STORE:-1}" = 1 ]; then
        mkdir -p "$prefix/nix"
        pid=$(cat "$prefix/.init.pid")
        # A bind mount made on the host would be hidden under Darling's
        # overlay: make it inside darlingserver's mount namespace.
        if ! nsenter -t "$pid" -m findmnt "$prefix/nix" >/dev/null 2>&1; then
            nsenter -t "$pid" -m mount --bind /nix "$prefix/nix"
        fi
    fi
    ;;
stop)
    stop
    ;;
*)
    usage
    ;;
esac
