#!/bin/sh
# Install the Debian packages mapprof needs to build, test and demo.
# Idempotent and instant when everything is present; refreshes the package
# lists only when something is missing; prints the exact apt-get command
# instead of running it when not root.
set -eu

PKGS="gcc clang make pkg-config libc6-dev
libunwind-dev libprotobuf-c-dev protobuf-c-compiler zlib1g-dev
libdw-dev libelf-dev
golang-go golang-github-google-pprof-dev
libclang-rt-14-dev clang-format
python3 perl sqlite3 xz-utils gzip git strace"

missing=""
for p in $PKGS; do
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
