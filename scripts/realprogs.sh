#!/usr/bin/env bash
# realprogs.sh — run real, dynamically linked Debian programs under
# libmapprof.so and check that the shim keeps them safe and its data whole.
#
#   scripts/realprogs.sh BUILD_DIR [NAME...]     (e.g. scripts/realprogs.sh build)
#
# Each case generates its input (without the shim), then runs one shell
# command line twice from the same fresh copy of that input: plainly, and
# with LD_PRELOAD, MAPPROF_OUT and MAPPROF_HEAP_RATE exported so that every
# process of the command line is profiled. A case passes when
#   - stdout, stderr and the exit status of both runs are identical (so the
#     shim printed no `mapprof:` line either),
#   - the profile directory holds only <prefix>.<pid>.<kind>.pb.gz files (no
#     temporary or partial file) and each process wrote all five kinds,
#   - BUILD_DIR/pprofcheck (google/pprof's Parse + CheckValid) accepts every
#     file, and at least one heap profile of the case has samples.
# It prints one table row per case and exits 1 if any case failed.
#
# REALPROGS_CPU_HZ=N adds the cpu profile at N Hz (MAPPROF_PROFILES=all,cpu):
# its timer signals must change nothing either, and every process then
# writes six kinds. The one stderr line allowed then is the shim's
# "mapprof: cpu: the program installs its own handler ..." of a program
# that uses the signal itself (sort's cleanup handler covers SIGPROF):
# sampling stops there, as documented, and the outputs must still match.
#
# A program that is not installed is skipped with the Debian package to
# install, except under CI=true, where it is a failure. Output of a failed
# case stays in the work directory (printed); REALPROGS_KEEP=1 keeps all.
# REALPROGS_HTTP=ADDR also sets MAPPROF_HTTP=ADDR in the shim's run (the live
# endpoint on in every process): the endpoint's own "mapprof: live profiles
# at" announcements are then taken out of the stderr comparison and its
# <prefix>.<pid>.http files accepted; everything else must stay identical.
# Non-goals: profile values (tests/shim/ checks them), speed.
#
# Command lines and the generated Makefile are single-quoted on purpose:
# they expand when they run, not when they are defined.
# shellcheck disable=SC2016
set -euo pipefail

usage() {
    echo "usage: $0 BUILD_DIR [NAME...]" >&2
    exit 2
}
[ $# -ge 1 ] || usage
[ -d "$1" ] || usage
BUILD=$(cd "$1" && pwd)
shift
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SO=$BUILD/libmapprof.so
CHECKER=$BUILD/pprofcheck
RATE=${REALPROGS_HEAP_RATE:-4096}
CPU_HZ=${REALPROGS_CPU_HZ:-}
KINDS="heap|mutex|block|grow|maps"
NKINDS=5
PROFILES=all
if [ -n "$CPU_HZ" ]; then
    KINDS="$KINDS|cpu"
    NKINDS=6
    PROFILES=all,cpu
fi
# REALPROGS_TRACE=1 adds the timeline (MAPPROF_TRACE=1): every process then
# also writes <prefix>.<pid>.trace.json, which tests/shim/scripts/
# check_trace.py must accept (the Chrome Trace Event format).
TRACE=${REALPROGS_TRACE:-}
CI_MODE=false
case "${CI:-}" in true | 1) CI_MODE=true ;; esac

die() {
    echo "realprogs: $*" >&2
    exit 2
}
[ -r "$SO" ] || die "$SO is missing: run make BUILD=$BUILD"
[ -x "$CHECKER" ] || die "$CHECKER is missing: make $CHECKER (needs golang-go)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/realprogs.XXXXXX")
keep=${REALPROGS_KEEP:-0}
cleanup() {
    if [ "$keep" = 0 ]; then rm -rf "$WORK"; else echo "realprogs: work directory kept: $WORK"; fi
}
trap cleanup EXIT

# Fixed identity and dates: git's commit ids must not depend on the clock.
export GIT_AUTHOR_NAME=mapprof GIT_AUTHOR_EMAIL=mapprof@example.invalid
export GIT_COMMITTER_NAME=mapprof GIT_COMMITTER_EMAIL=mapprof@example.invalid
export GIT_AUTHOR_DATE='2024-01-01T00:00:00Z' GIT_COMMITTER_DATE='2024-01-01T00:00:00Z'
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export LC_ALL=C TZ=UTC

# The multi-threaded C fixture (tests/stress/fixtures/stress_load.c),
# built by `make test`; compiled here when the script runs on its own.
MT=$BUILD/tests/stress/stress_load
if [ ! -x "$MT" ]; then
    MT=$WORK/stress_load
    cc -std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer -o "$MT" \
        "$ROOT/tests/stress/fixtures/stress_load.c" -lpthread ||
        die "cannot build the threaded fixture"
fi

# ---------------------------------------------------------------- cases
# Each case: a setup function (writes the input into $PWD) and a command
# line (run with bash in a fresh copy of that input).
declare -A CMD

setup_python() {
    cat >prog.py <<'PY'
import threading
res = {}
lock = threading.Lock()
def work(t):
    d = {}
    for i in range(60000):
        d['k%d' % (i * (t + 1))] = (i, str(i))
    e = {k: v[0] * 2 for k, v in d.items() if v[0] % 3}
    for k in list(d)[::2]:
        del d[k]
    with lock:
        res[t] = (len(d), len(e), sum(e.values()))
ts = [threading.Thread(target=work, args=(t,)) for t in range(4)]
for t in ts: t.start()
for t in ts: t.join()
for t in sorted(res): print(t, *res[t])
PY
}
CMD[python]='/usr/bin/python3 prog.py'

setup_perl() {
    cat >prog.pl <<'PL'
my %h; my %inv;
for my $i (1 .. 80000) { $h{"key$i"} = [$i, $i * 2]; }
while (my ($k, $v) = each %h) { push @{ $inv{ $v->[0] % 97 } }, $k; }
delete $h{"key$_"} for grep { $_ % 2 } 1 .. 80000;
my $s = 0; $s += scalar(@{ $inv{$_} }) for keys %inv;
print scalar(keys %h), " ", scalar(keys %inv), " $s\n";
PL
}
CMD[perl]='perl prog.pl'

setup_git() {
    mkdir src
    for i in $(seq 1 60); do
        seq "$i" 7 4000 | awk -v f="$i" '{ print "file " f " line " $1 }' >"src/f$i.txt"
    done
}
CMD[git]='git init -q -b main repo && cp -r src repo/ && cd repo &&
git add -A && git commit -q -m first && sed -i "s/line 1\$/line one/" src/f1.txt &&
git commit -q -am second && git log --format="%H %s" && git gc -q &&
git count-objects -v | grep -E "^(count|in-pack)" && git fsck --no-progress && git rev-parse HEAD^{tree}'

setup_sort() {
    seq 1 200000 | awk '{ print ($1 * 7919) % 100003, "line" $1 }' >in.txt
}
CMD[sort]='sort -k1,1n -k2,2 --parallel=2 -S 1M -T . in.txt | md5sum && sort -u -k1,1n in.txt | wc -l'

setup_gzip() {
    seq 1 300000 | awk '{ print $1, $1 * $1 % 7777, "some text to compress" }' >data.txt
}
CMD[gzip]='gzip -6 -c data.txt | md5sum && gzip -c data.txt | gzip -dc | cmp - data.txt && echo ok'

setup_xz() { setup_gzip; }
CMD[xz]='xz -1 -T2 -c data.txt | md5sum && xz -1 -T2 -c data.txt | xz -T2 -dc | cmp - data.txt && echo ok'

setup_sqlite3() {
    cat >load.sql <<'SQL'
CREATE TABLE t(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 30000)
  INSERT INTO t SELECT x, x % 113, 'name' || (x * 7919 % 30000) FROM c;
CREATE INDEX t_name ON t(name);
SELECT grp, count(*), sum(id) FROM t GROUP BY grp ORDER BY grp LIMIT 5;
UPDATE t SET name = upper(name) WHERE grp = 7;
SELECT name FROM t WHERE name LIKE 'NAME1%' ORDER BY name LIMIT 3;
SQL
}
CMD[sqlite3]='sqlite3 db.sqlite <load.sql'

setup_make() {
    mkdir proj
    for i in 1 2 3 4; do
        printf 'int f%d(int x) { int s = 0; for (int i = 0; i < x; i++) s += i * %d; return s; }\n' \
            "$i" "$i" >"proj/f$i.c"
    done
    {
        echo '#include <stdio.h>'
        for i in 1 2 3 4; do echo "int f$i(int);"; done
        printf '%s\n' 'int main(void) { printf("%d %d %d %d\n", f1(10), f2(20), f3(30), f4(40)); return 0; }'
    } >proj/main.c
    printf 'OBJS = main.o f1.o f2.o f3.o f4.o\nprog: $(OBJS)\n\t$(CC) -o $@ $(OBJS)\n%%.o: %%.c\n\t$(CC) -O1 -c $< -o $@\n' \
        >proj/Makefile
}
CMD[make]='make -s -j2 -C proj CC=cc && ./proj/prog'

setup_threads() { :; }
CMD[threads]='"$MT" 6 20000 churn 4'

setup_awk() { setup_sort; }
CMD[awk]='awk "{ n[\$1 % 1000]++; w[\$2] = length(\$2) } END { for (k in n) s += n[k] * k; print length(n), length(w), s }" in.txt'

setup_tar() { setup_git; }
CMD[tar]='tar -czf t.tgz src && tar -tzf t.tgz | sort | md5sum && mkdir x && tar -xzf t.tgz -C x && diff -r src x/src && echo same'

setup_findxargs() { setup_git; }
CMD[findxargs]='find src -type f -name "*.txt" -print0 | xargs -0 -n 8 -P 2 md5sum | sort | md5sum'

# name:program to look for:Debian package
CASES="python:/usr/bin/python3:python3
perl:perl:perl
git:git:git
sort:sort:coreutils
gzip:gzip:gzip
xz:xz:xz-utils
sqlite3:sqlite3:sqlite3
make:make:make
threads:cc:gcc
awk:awk:mawk
tar:tar:tar
findxargs:xargs:findutils"

# ---------------------------------------------------------------- runner

now_ms() { date +%s%3N; }

# audit DIR: prints "files procs complete heap_with_samples" or fails
# with a reason on stderr.
audit() {
    local dir=$1 f base files=0 bad=0
    local -A kinds=() traces=()
    for f in "$dir"/* "$dir"/.[!.]*; do
        [ -e "$f" ] || continue
        base=${f##*/}
        if [[ $base =~ ^mp\.([0-9]+)\.($KINDS)\.pb\.gz$ ]]; then
            kinds[${BASH_REMATCH[1]}]+="${BASH_REMATCH[2]} "
            files=$((files + 1))
        elif [ -n "$TRACE" ] && [[ $base =~ ^mp\.([0-9]+)\.trace\.json$ ]]; then
            traces[${BASH_REMATCH[1]}]=1
        elif [ -n "${REALPROGS_HTTP:-}" ] && [[ $base =~ ^mp\.[0-9]+\.http$ ]]; then
            :
        else
            echo "stray file in the output directory: $base" >&2
            bad=1
        fi
    done
    [ "$bad" = 0 ] || return 1
    [ "$files" -gt 0 ] || {
        echo "no profile written" >&2
        return 1
    }
    local pid incomplete=0
    for pid in "${!kinds[@]}"; do
        [ "$(wc -w <<<"${kinds[$pid]}")" = "$NKINDS" ] || {
            echo "pid $pid wrote only: ${kinds[$pid]}" >&2
            incomplete=1
        }
    done
    [ "$incomplete" = 0 ] || return 1
    local out
    if [ -n "$TRACE" ]; then
        for pid in "${!kinds[@]}"; do
            [ -n "${traces[$pid]:-}" ] || {
                echo "pid $pid wrote no trace.json" >&2
                return 1
            }
        done
        if ! out=$(cd "$dir" && python3 "$ROOT/tests/shim/scripts/check_trace.py" \
            ./*.trace.json 2>&1); then
            echo "$out" | tail -1 >&2
            return 1
        fi
    fi
    if ! out=$(cd "$dir" && "$CHECKER" ./*.pb.gz 2>&1); then
        echo "pprofcheck: $out" >&2
        return 1
    fi
    local oks heap
    oks=$(grep -c '^ok ' <<<"$out")
    [ "$oks" = "$files" ] || {
        echo "pprofcheck checked $oks of $files files" >&2
        return 1
    }
    heap=$(grep -cE '^ok \./mp\.[0-9]+\.heap\.pb\.gz samples=[1-9]' <<<"$out" || true)
    echo "$files ${#kinds[@]} $heap"
}

# run_case NAME: one table row; returns 1 on failure, 77 on skip.
run_case() {
    local name=$1 prog=$2 pkg=$3
    local dir=$WORK/$name
    mkdir -p "$dir/seed" "$dir/prof"
    if ! command -v "$prog" >/dev/null 2>&1; then
        if [ "$CI_MODE" = true ]; then
            printf '%-10s %-5s %s\n' "$name" FAIL "missing $prog (Debian package $pkg; CI=true)"
            return 1
        fi
        printf '%-10s %-5s %s\n' "$name" SKIP "missing $prog (Debian package $pkg)"
        missing_pkgs+=" $pkg"
        return 77
    fi
    (cd "$dir/seed" && "setup_$name") || {
        printf '%-10s %-5s %s\n' "$name" FAIL "input generation failed"
        return 1
    }
    local t0 t1 t2 rc1 rc2
    local cmd=${CMD[$name]}
    t0=$(now_ms)
    rm -rf "$dir/run" && cp -a "$dir/seed" "$dir/run"
    rc1=0
    (cd "$dir/run" && MT=$MT bash -c "$cmd") >"$dir/plain.out" 2>"$dir/plain.err" || rc1=$?
    t1=$(now_ms)
    rm -rf "$dir/run" && cp -a "$dir/seed" "$dir/run"
    rc2=0
    if [ -n "${REALPROGS_HTTP:-}" ]; then
        (cd "$dir/run" && MT=$MT LD_PRELOAD=$SO MAPPROF_OUT=$dir/prof/mp MAPPROF_HEAP_RATE=$RATE \
            MAPPROF_PROFILES=$PROFILES MAPPROF_CPU_HZ=${CPU_HZ:-100} MAPPROF_TRACE=${TRACE:-0} \
            MAPPROF_HTTP=$REALPROGS_HTTP bash -c "$cmd") >"$dir/shim.out" 2>"$dir/shim.all" ||
            rc2=$?
        grep -v '^mapprof: live profiles at ' "$dir/shim.all" >"$dir/shim.err" || true
    else
        (cd "$dir/run" && MT=$MT LD_PRELOAD=$SO MAPPROF_OUT=$dir/prof/mp MAPPROF_HEAP_RATE=$RATE \
            MAPPROF_PROFILES=$PROFILES MAPPROF_CPU_HZ=${CPU_HZ:-100} MAPPROF_TRACE=${TRACE:-0} \
            bash -c "$cmd") >"$dir/shim.out" 2>"$dir/shim.err" || rc2=$?
    fi
    t2=$(now_ms)
    local why=""
    if [ "$rc1" != "$rc2" ]; then
        why="exit status $rc2 with the shim, $rc1 without"
    elif ! cmp -s "$dir/plain.out" "$dir/shim.out"; then
        why="stdout differs (diff $dir/plain.out $dir/shim.out)"
    elif [ -n "$CPU_HZ" ] && ! diff -q "$dir/plain.err" <(grep -v \
        '^mapprof: cpu: the program installs its own handler for signal' "$dir/shim.err") \
        >/dev/null; then
        why="stderr differs: $(diff "$dir/plain.err" "$dir/shim.err" | head -3 | tr '\n' ' ')"
    elif [ -z "$CPU_HZ" ] && ! cmp -s "$dir/plain.err" "$dir/shim.err"; then
        why="stderr differs: $(diff "$dir/plain.err" "$dir/shim.err" | head -3 | tr '\n' ' ')"
    elif [ ! -s "$dir/plain.out" ]; then
        why="the command printed nothing: a useless comparison"
    fi
    local res files=0 procs=0 heap=0
    if [ -z "$why" ]; then
        if res=$(audit "$dir/prof" 2>"$dir/audit.err"); then
            read -r files procs heap <<<"$res"
            [ "$heap" -gt 0 ] || why="no heap profile with samples (MAPPROF_HEAP_RATE=$RATE)"
        else
            why=$(head -2 "$dir/audit.err" | tr '\n' ' ')
        fi
    fi
    local status=PASS
    if [ -n "$why" ]; then
        status=FAIL
        keep=1
    fi
    printf '%-10s %-5s %3s %5s %5s %5s %7s %7s  %s\n' "$name" "$status" "$rc1" "$procs" \
        "$files" "$heap" "$((t1 - t0))" "$((t2 - t1))" "$why"
    [ "$status" = PASS ]
}

missing_pkgs=""
pass=0 fail=0 skip=0
printf '%-10s %-5s %3s %5s %5s %5s %7s %7s\n' case result rc procs files heap+ plainms shimms
while IFS=: read -r name prog pkg; do
    if [ $# -gt 0 ]; then
        want=0
        for n in "$@"; do [ "$n" = "$name" ] && want=1; done
        [ "$want" = 1 ] || continue
    fi
    rc=0
    run_case "$name" "$prog" "$pkg" || rc=$?
    case $rc in
    0) pass=$((pass + 1)) ;;
    77) skip=$((skip + 1)) ;;
    *) fail=$((fail + 1)) ;;
    esac
done <<<"$CASES"
[ -z "$missing_pkgs" ] || echo "realprogs: install with: apt-get install$missing_pkgs"
echo "realprogs: $pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
