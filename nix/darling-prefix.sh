#!/bin/sh
# darling-prefix.sh start|stop: the NixOS module's darling-prefix service
# steps, in one place, so that the module and the live tests do the same.
#
#   start  install darling-nix's in-prefix tools into the prefix (when
#          TOOLS_TREE is set; files 0755, the prefix's directories keep their
#          modes), start the container, and bind-mount the host's /nix at
#          /nix inside (when SHARE_STORE=1, the default); a container that
#          did not come up is stopped again
#   stop   `darling shutdown`, then wait up to 10 s for darlingserver; fails
#          when it still runs
#
# Environment: DPREFIX (the prefix, required), DARLING (default `darling`),
# TOOLS_TREE (a directory holding usr/bin/dscl ..., e.g. the flake's
# prefix-tree), SHARE_STORE (1 or 0). Needs root, setsid, nsenter, mount,
# findmnt (util-linux), install, readlink (coreutils), find.
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

# Whether a process is a running container's: running, and in a mount
# namespace other than ours (darlingserver makes its own; a stale pid file
# naming a reused host pid is not a container).
in_container() {
    [ -n "$1" ] && running "$1" || return 1
    ns=$(readlink "/proc/$1/ns/mnt" 2>/dev/null) || return 1
    [ "$ns" != "$(readlink /proc/self/ns/mnt)" ]
}

# `darling shutdown` returns before the container is gone: wait for its
# darlingserver (bounded), and fail when it still runs after that.
stop() {
    [ -e "$prefix/.init.pid" ] || return 0
    pid=$(cat "$prefix/.init.pid")
    "$darling" shutdown </dev/null >/dev/null 2>&1 || true
    n=0
    while in_container "$pid" && [ "$n" -lt 100 ]; do
        sleep 0.1
        n=$((n + 1))
    done
    if in_container "$pid"; then
        echo "darling-prefix.sh: the container of $prefix still runs (darlingserver pid $pid) 10 s after \`$darling shutdown\`" >&2
        return 1
    fi
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
                # A darlingserver may run although no shell came up: stop it,
                # so that the caller may remove the prefix.
                stop || true
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
        # Into the upper layer while the container is down (never while
        # it runs: stop fails then, and so does start).
        stop || exit 1
        # File by file, as 0755: the tree's directories are the Nix store's
        # (read-only, 1970), and the prefix's own keep their modes; new ones
        # are made 0755.
        (
            cd "$TOOLS_TREE"
            umask 022
            find . -type f -exec sh -c 'for f; do install -D -m 0755 "$f" "$0/$f"; done' "$prefix" {} +
            find . -type l -exec sh -c 'for l; do mkdir -p "$0/${l%/*}" && ln -sfn "$(readlink "$l")" "$0/$l"; done' "$prefix" {} +
        )
    fi
    boot
    if [ "${SHARE_STORE:-1}" = 1 ]; then
        mkdir -p "$prefix/nix"
        pid=$(cat "$prefix/.init.pid")
        # A bind mount made on the host would be hidden under Darling's
        # overlay: make it inside darlingserver's mount namespace. Never in
        # ours (a stale or reused pid): /nix bound into a work directory on
        # the host would let its removal delete the real store.
        ns=$(readlink "/proc/$pid/ns/mnt" 2>/dev/null || true)
        if [ -z "$ns" ] || [ "$ns" = "$(readlink /proc/self/ns/mnt)" ]; then
            echo "darling-prefix.sh: pid ${pid:-?} in $prefix/.init.pid is not in a container's mount namespace: /nix not shared" >&2
            exit 1
        fi
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
