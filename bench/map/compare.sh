#!/bin/sh
# compare.sh C_BENCH GO_BENCH — run bench/map's two programs workload by
# workload (C then Go, alternating the order on every other round), keep
# the best ns/op of each side, and print
#   <name> c_ns=<x> go_ns=<y> ratio=<x/y>
# per workload and a summary line. Fails when a program fails, the two
# programs list different workloads, or a workload's checksums differ.
#
# compare.sh --raw FILE re-summarises the program lines saved in FILE by
# an earlier run (e.g. with BENCH_CLOCK=cpu) without running anything.
#
# compare.sh --hooks C_BENCH compares C_BENCH with C_BENCH -H (no-op
# counting hooks installed) instead, printing
#   <name> c_ns=<x> c_hooks_ns=<y> delta=<(y-x)/x %> hook_calls_per_op=<z>
#
# Environment (all optional): BENCH_REPS (5), BENCH_ROUNDS (1),
# BENCH_LOG2N (20), BENCH_CPU (CPU to pin to with taskset; empty: the last
# CPU; "none": no pinning), BENCH_CLOCK ("wall", the default, or "cpu":
# process CPU time, which time-sharing with other jobs disturbs less and
# which charges Go's GC worker threads), BENCH_ONLY (workload names), BENCH_RAW (file
# that receives every program line, per-repetition figures included).
set -eu

hooks=0
fromraw=
if [ $# -eq 2 ] && [ "$1" = --raw ]; then
    fromraw=$2
    [ -r "$fromraw" ] || {
        echo "bench-map: cannot read $fromraw" >&2
        exit 2
    }
    grep -q ' hook_calls=' "$fromraw" && hooks=1
elif [ $# -eq 2 ] && [ "$1" = --hooks ]; then
    hooks=1
    cbin=$2
    gobin=$2
    bflag=-H
elif [ $# -eq 2 ]; then
    cbin=$1
    gobin=$2
    bflag=
else
    echo "usage: $0 C_BENCH GO_BENCH | $0 --hooks C_BENCH | $0 --raw FILE" >&2
    exit 2
fi
reps=${BENCH_REPS:-5}
rounds=${BENCH_ROUNDS:-1}
log2n=${BENCH_LOG2N:-20}
cpu=${BENCH_CPU:-}
only=${BENCH_ONLY:-}
raw=${BENCH_RAW:-}
clock=${BENCH_CLOCK:-wall}
case $clock in
wall) nsfield=ns ;;
cpu) nsfield=cpu ;;
*)
    echo "bench-map: BENCH_CLOCK must be wall or cpu" >&2
    exit 2
    ;;
esac
if [ -n "$fromraw" ]; then
    raw=$fromraw
    # Workloads in the order the run saw them.
    names=$(awk '!/^#/ && !seen[$2]++ { print $2 }' "$raw")
else
    [ -n "$raw" ] || raw=$(mktemp)
    pin=""
    if [ "$cpu" != none ] && command -v taskset >/dev/null 2>&1; then
        [ -n "$cpu" ] || cpu=$(($(nproc) - 1))
        pin="taskset -c $cpu"
    else
        cpu=none
    fi

    names=$("$cbin" -l)
    gonames=$("$gobin" -l)
    if [ "$names" != "$gonames" ]; then
        echo "bench-map: the C and Go programs list different workloads" >&2
        exit 1
    fi
    [ -z "$only" ] || names=$only

    {
        echo "# bench-map $(date -u +%Y-%m-%dT%H:%M:%SZ) pin=$cpu clock=$clock reps=$reps rounds=$rounds log2n=$log2n"
        echo "# $(go version 2>/dev/null || echo 'go: ?') | $(uname -srm) | $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //')"
    } >"$raw"

    run() { # side binary workload [flag]
        # shellcheck disable=SC2086
        if ! out=$($pin "$2" ${4:-} -r "$reps" -n "$log2n" "$3"); then
            echo "bench-map: $1 program failed on $3" >&2
            exit 1
        fi
        echo "$1 $out" >>"$raw"
    }

    r=0
    while [ "$r" -lt "$rounds" ]; do
        for w in $names; do
            if [ $((r % 2)) -eq 0 ]; then
                run c "$cbin" "$w"
                run go "$gobin" "$w" "$bflag"
            else
                run go "$gobin" "$w" "$bflag"
                run c "$cbin" "$w"
            fi
        done
        r=$((r + 1))
    done
fi

awk -v names="$names" -v raw="$raw" -v hooks="$hooks" -v nsfield="$nsfield" '
function field(key,   i) {
    for (i = 3; i <= NF; i++)
        if (index($i, key "=") == 1)
            return substr($i, length(key) + 2)
    return ""
}
/^#/ { next }
{
    side = $1; name = $2; ns = field(nsfield) + 0; sum = field("sum")
    k = side SUBSEP name
    if (!(k in best) || ns < best[k]) best[k] = ns
    if ((k in sums) && sums[k] != sum) { bad[name] = bad[name] " " side "-rounds-differ" }
    sums[k] = sum
    calls[k] = field("hook_calls"); ops[k] = field("ops")
}
END {
    nw = split(names, list, " ")
    logsum = 0; nr = 0; good = 0; agree = 0; fail = 0
    for (i = 1; i <= nw; i++) {
        w = list[i]; kc = "c" SUBSEP w; kg = "go" SUBSEP w
        if (!(kc in best) || !(kg in best) || best[kg] <= 0) {
            printf "%s missing results\n", w; fail = 1; continue
        }
        ratio = best[kc] / best[kg]
        if (hooks) {
            printf "%s c_ns=%.2f c_hooks_ns=%.2f delta=%+.1f%% hook_calls_per_op=%.6f\n", w, best[kc], best[kg], 100 * (best[kg] / best[kc] - 1), calls[kg] / ops[kg]
            if (sums[kc] != sums[kg]) fail = 1
            continue
        }
        printf "%s c_ns=%.2f go_ns=%.2f ratio=%.3f\n", w, best[kc], best[kg], ratio
        logsum += log(ratio); nr++
        if (ratio <= 0.8) good++
        if (sums[kc] == sums[kg] && !(w in bad)) agree++
        else {
            printf "bench-map: %s: checksum mismatch: c=%s go=%s%s\n", w, sums[kc], sums[kg], bad[w] > "/dev/stderr"
            fail = 1
        }
    }
    if (nr > 0 && !hooks)
        printf "geomean ratio=%.3f at_or_below_0.8=%d/%d checksums_agree=%d/%d\n", exp(logsum / nr), good, nr, agree, nw
    printf "# per-repetition figures: %s\n", raw
    exit fail
}' "$raw"
