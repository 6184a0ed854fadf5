#!/bin/bash
# trace_bench.sh BUILD RUNS — the cost of MAPPROF_TRACE=1 (the timeline) on
# the examples that grow maps and wait on locks, both sides under the shim
# with the same seed: RUNS interleaved pairs (off, on; the order alternates
# each pair), medians of wall and CPU (user+system) time, the ratio on/off.
# Then, when valgrind is installed, callgrind's instruction counts of one run
# each (repeatable under load). Figures, not a test.
set -eu
B=$1
RUNS=${2:-11}
SO=$B/libmapprof.so
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
TIMEFORMAT='%3R %3U %3S'

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

one() { # one run: trace (0/1), command...; appends "wall cpu" to $OUT/<name>.<trace>
    local tr=$1 name=$2
    shift 2
    local t
    t=$({ time env LD_PRELOAD="$SO" MAPPROF_OUT="$OUT/p" MAPPROF_SEED=1 MAPPROF_TRACE="$tr" \
        "$@" >/dev/null 2>&1; } 2>&1)
    echo "$t" | awk '{print $1, $2 + $3}' >>"$OUT/$name.$tr"
    rm -f "$OUT"/p.*
}

printf '%-34s %5s %10s %10s %7s %10s %10s %7s\n' workload runs "wall off" "wall on" ratio \
    "cpu off" "cpu on" ratio
for w in "overflow_churn:$B/examples/overflow_churn" \
         "grow_nohint 4M keys:$B/examples/grow_nohint 4000000" \
         "rwlock_map:$B/examples/rwlock_map"; do
    name=${w%%:*}
    cmd=${w#*:}
    key=$(echo "$name" | tr -c 'a-z0-9\n' _)
    for i in $(seq "$RUNS"); do
        if [ $((i % 2)) = 1 ]; then one 0 "$key" $cmd; one 1 "$key" $cmd
        else one 1 "$key" $cmd; one 0 "$key" $cmd; fi
    done
    w0=$(cut -d' ' -f1 "$OUT/$key.0" | median); w1=$(cut -d' ' -f1 "$OUT/$key.1" | median)
    c0=$(cut -d' ' -f2 "$OUT/$key.0" | median); c1=$(cut -d' ' -f2 "$OUT/$key.1" | median)
    awk -v n="$name" -v r="$RUNS" -v w0="$w0" -v w1="$w1" -v c0="$c0" -v c1="$c1" 'BEGIN {
        printf "%-34s %5d %9.3fs %9.3fs %7.3f %9.3fs %9.3fs %7.3f\n", n, r, w0, w1, w1 / w0,
            c0, c1, c1 / c0 }'
done

command -v valgrind >/dev/null || { echo "(valgrind not installed: no instruction counts)"; exit 0; }
# Instructions inside the timeline's own entry points (inclusive; none calls
# another), from one callgrind run with MAPPROF_TRACE=1: exact for the trace
# code, while whole-run totals move by ~1-2% from run to run (each map
# seeds its hash at random, which changes probe lengths).
echo
printf '%-26s %14s %12s %9s %12s %9s\n' "callgrind, MAPPROF_TRACE=1" "run total" "recording" share \
    "writing" share
for w in "overflow_churn:$B/examples/overflow_churn" \
         "grow_nohint 1M keys:$B/examples/grow_nohint 1000000" \
         "rwlock_map:$B/examples/rwlock_map"; do
    name=${w%%:*}
    cmd=${w#*:}
    env LD_PRELOAD="$SO" MAPPROF_OUT="$OUT/p" MAPPROF_SEED=1 MAPPROF_TRACE=1 \
        valgrind --tool=callgrind --callgrind-out-file="$OUT/cg" $cmd >/dev/null 2>"$OUT/vg"
    rm -f "$OUT"/p.*
    callgrind_annotate --inclusive=yes --threshold=100 "$OUT/cg" 2>/dev/null >"$OUT/cga"
    total=$(grep -o 'Collected : [0-9]*' "$OUT/vg" | awk '{print $3}')
    # The function list only ("N (P%)  FILE:FUNCTION [OBJECT]"), not the
    # annotated callers' "=>" lines.
    fn='^ *[0-9,]+ \([ 0-9.]+%\)  [^ ]*'
    rec=$(grep -E "${fn}shim/trace\.c:shim_trace_(grow|map_release|map_free|lock_wait|heap) \[" \
        "$OUT/cga" | awk '{gsub(",", "", $1); s += $1} END {print s + 0}')
    wr=$(grep -E "${fn}shim/trace_json\.c:shim_trace_write \[" "$OUT/cga" |
        awk '{gsub(",", "", $1); s += $1} END {print s + 0}')
    awk -v n="$name" -v t="$total" -v r="$rec" -v w="$wr" 'BEGIN {
        printf "%-26s %14d %12d %8.3f%% %12d %8.3f%%\n", n, t, r, 100 * r / t, w, 100 * w / t }'
done
