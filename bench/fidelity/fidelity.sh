#!/bin/sh
# bench/fidelity: does the shim leave the host's allocator as it was?
# For each workload: the madvise, munmap and brk calls the program makes
# itself (strace -k; scripts/hostcalls.awk leaves out the shim's own), and
# its peak RSS (median of RUNS runs), plainly and under libmapprof.so at
# the default rate. Figures, not a test (tests/shim/heap_test.c asserts
# the churn case).
#
# Usage: fidelity.sh BUILD RUNS
set -eu
B=$1
RUNS=${2:-5}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
SO=$B/libmapprof.so

calls() { # PRELOAD CMD...
    pre=$1
    shift
    env ${pre:+LD_PRELOAD=$pre} MAPPROF_OUT="$OUT/mp" \
        strace -f -qq -k -e trace=madvise,munmap,brk -o "$OUT/trace" "$@" >/dev/null
    awk -f "$ROOT/scripts/hostcalls.awk" "$OUT/trace"
}

peak() { # PRELOAD CMD...: median of RUNS peak RSS figures, KiB
    pre=$1
    shift
    i=0
    while [ $i -lt "$RUNS" ]; do
        env ${pre:+LD_PRELOAD=$pre} MAPPROF_OUT="$OUT/mp" /usr/bin/time -f '%M' -o "$OUT/rss" "$@" \
            >/dev/null
        cat "$OUT/rss"
        i=$((i + 1))
    done | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'
}

printf '%-22s %-6s %8s %7s %5s %10s\n' workload run madvise munmap brk peak_KiB
row() { # NAME CMD...
    name=$1
    shift
    for pre in "" "$SO"; do
        set -- "$@"
        c=$(calls "$pre" "$@")
        r=$(peak "$pre" "$@")
        echo "$c" | awk -v n="$name" -v k="${pre:+shim}" -v r="$r" \
            '{printf "%-22s %-6s %8d %7d %5d %10d\n", n, (k == "" ? "plain" : k), $2, $4, $6, r}'
    done
}
row "churn 2x4M" "$B/tests/shim/churn" 4000000
row "bench-shim heap 2x5M" "$B/bench/shim_work" heap 5000000
row "bench-shim deep" "$B/bench/shim_work" deep 200000
