#!/bin/sh
# Install the Debian packages mapprof needs to build, test and demo.
#
# Usage: deps.sh [MODULE...]   (no module: everything)
# A module's list holds what building and testing that module needs beyond
# the base toolchain, so `make test TEST_MODULES=map` asks for a compiler
# and nothing else. Idempotent and instant when everything is present;
# refreshes the package lists only when something is missing; prints the
# exact apt-get command instead of running it when not root.
set -eu

base="gcc make pkg-config libc6-dev"
# What pprof/ (and everything linking it: the shim, the command) builds with.
pprof_build="libprotobuf-c-dev protobuf-c-compiler zlib1g-dev libdw-dev libelf-dev"
go_tools="golang-go golang-github-google-pprof-dev"

pkgs_of() {
    case "$1" in
    map) echo "" ;;
    pprof) echo "$pprof_build $go_tools binutils clang" ;;
    shim) echo "$pprof_build libunwind-dev libevent-dev $go_tools python3 perl sqlite3 xz-utils gzip strace curl" ;;
    cli) echo "$pprof_build libunwind-dev libjson-c-dev libevent-dev $go_tools python3 chromium" ;;
    live) echo "$pprof_build libunwind-dev libjson-c-dev libevent-dev $go_tools python3 curl" ;;
    examples | stress | realprogs | faults) echo "$pprof_build libunwind-dev libjson-c-dev libevent-dev $go_tools" ;;
    fuzzmap) echo "clang libclang-rt-14-dev" ;;
    install) echo "$pprof_build libunwind-dev libjson-c-dev libevent-dev binutils" ;;
    tsan) echo "clang libclang-rt-14-dev" ;;
    meta) echo "$pprof_build libunwind-dev libjson-c-dev libevent-dev clang clang-format git" ;;
    demo) echo "$pprof_build libunwind-dev libjson-c-dev libevent-dev $go_tools" ;;
    *) echo "$pprof_build libunwind-dev libjson-c-dev libevent-dev $go_tools libclang-rt-14-dev clang clang-format python3 perl sqlite3 xz-utils gzip git strace curl binutils chromium" ;;
    esac
}

want="$base"
if [ $# -eq 0 ]; then
    want="$want $(pkgs_of all)"
else
    for m in "$@"; do
        want="$want $(pkgs_of "$m")"
    done
fi

missing=""
for p in $(printf '%s\n' $want | sort -u); do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in
    *" installed") ;;
    *) missing="$missing $p" ;;
    esac
done

[ -z "$missing" ] && exit 0

cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" != 0 ]; then
    echo "mapprof: missing Debian packages:$missing" >&2
    echo "mapprof: run as root:  apt-get update && $cmd" >&2
    exit 1
fi
echo "mapprof: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
