/*
 * realprog_test.c — real Debian programs (sort, python3, perl, gzip,
 * xz -T2, sqlite3) and a threaded fixture, each run twice: without and
 * with the shim preloaded into every process of the command line. The
 * shim must not change what the host does (same stdout, same stderr with
 * no `mapprof:` line, same exit status) and everything it leaves in the
 * output directory must be a complete profile: named
 * <prefix>.<pid>.<kind>.pb.gz (no temporary file), accepted by pprof/'s
 * validating reader and by `go tool pprof -raw`.
 *
 * Inputs are generated per test (not under the shim) in a private work
 * directory; profiles go to a separate directory so a stray file is
 * noticed. Non-goals: profile contents beyond "valid and non-empty"
 * (accuracy_test.c, heap_test.c, mutex_test.c check values), and speed.
 */
#include "tests/shim/shim_util.h"

#define KINDS 5
static const char *const kinds[KINDS] = {"heap", "mutex", "block", "grow", "maps"};

/* Work directory (inputs, the commands' cwd) and profile directory. */
static const char *work(void) {
    static char d[600];
    snprintf(d, sizeof d, "%s/work", su_dir());
    return d;
}
static const char *profdir(void) {
    static char d[600];
    snprintf(d, sizeof d, "%s/prof", su_dir());
    return d;
}

static void setup(const char *gen) {
    CHECK_EQ_I(th_sh(NULL, "mkdir -p '%s' '%s'", work(), profdir()), 0);
    if (gen) {
        char *out = NULL;
        int rc = th_sh(&out, "cd '%s' && %s", work(), gen);
        CHECK_MSG(rc == 0, "generating input failed:\n%s", out);
        free(out);
    }
}

static char *slurp(const char *name) {
    char path[700];
    snprintf(path, sizeof path, "%s/%s", work(), name);
    char *s = th_read_file(path, NULL);
    CHECK_MSG(s != NULL, "cannot read %s", path);
    return s;
}

/* Every file in profdir() is a profile; returns how many have samples,
 * and the number of files through *files. Each kind's files go through
 * one `go tool pprof -raw` run (it merges them, so every file must parse). */
static int check_profiles(int *files) {
    DIR *d = opendir(profdir());
    CHECK(d != NULL);
    struct dirent *e;
    int n = 0, with_samples = 0;
    bool seen[KINDS] = {0};
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        int pid, k = -1;
        char kind[32], again[300];
        CHECK_MSG(sscanf(e->d_name, "mp.%d.%31[a-z].pb.gz", &pid, kind) == 2,
                  "stray file in the output directory: %s", e->d_name);
        snprintf(again, sizeof again, "mp.%d.%s.pb.gz", pid, kind);
        CHECK_MSG(!strcmp(again, e->d_name), "stray file in the output directory: %s", e->d_name);
        for (int i = 0; i < KINDS; i++)
            if (!strcmp(kind, kinds[i]))
                k = i;
        CHECK_MSG(k >= 0, "unknown profile kind: %s", e->d_name);
        seen[k] = true;
        char path[1000];
        snprintf(path, sizeof path, "%s/%s", profdir(), e->d_name);
        pprof_profile *p = su_load(path);
        with_samples += pprof_profile_msg(p)->n_sample > 0;
        pprof_profile_free(p);
        n++;
    }
    closedir(d);
    NEED_TOOL("go");
    for (int k = 0; k < KINDS; k++) {
        if (!seen[k])
            continue;
        char *out = NULL;
        int rc = th_sh(&out, "go tool pprof -raw '%s'/mp.*.%s.pb.gz", profdir(), kinds[k]);
        CHECK_MSG(rc == 0, "go tool pprof -raw on the %s profiles failed:\n%s", kinds[k], out);
        CHECK_CONTAINS(out, "Samples:");
        free(out);
    }
    *files = n;
    return with_samples;
}

/*
 * Run `cmd` (a shell command line, in work()) plainly and then with the
 * shim exported to every process it starts, plus `env` (VAR=value ...).
 * Returns the number of profiles with samples.
 */
static int same_with_shim(const char *env, const char *cmd) {
    int rc1 = th_sh(NULL, "cd '%s' && { %s ; } >plain.out 2>plain.err", work(), cmd);
    CHECK_EQ_I(th_sh(NULL, "rm -f '%s'/*", profdir()), 0);
    int rc2 = th_sh(NULL,
                    "cd '%s' && export LD_PRELOAD='%s' MAPPROF_OUT='%s/mp' %s && { %s ; } "
                    ">shim.out 2>shim.err",
                    work(), su_so(), profdir(), env, cmd);
    char *po = slurp("plain.out"), *so = slurp("shim.out");
    char *pe = slurp("plain.err"), *se = slurp("shim.err");
    CHECK_MSG(!strstr(se, "mapprof:"), "the shim complained:\n%s", se);
    CHECK_EQ_I(rc2, rc1);
    CHECK_MSG(po[0] != '\0', "the command printed nothing: a useless comparison");
    CHECK_EQ_S(so, po);
    CHECK_EQ_S(se, pe);
    free(po);
    free(so);
    free(pe);
    free(se);
    int files = 0, with_samples = check_profiles(&files);
    printf("%d profiles (%d with samples) for %s %s\n", files, with_samples, env, cmd);
    CHECK_MSG(files > 0, "no profile written for: %s", cmd);
    return with_samples;
}

TEST_TIMEOUT(shim, realprog_sort, 120) {
    NEED_TOOL("sort");
    setup("seq 1 300000 | awk '{ print ($1 * 7919) % 100003, \"line\" $1 }' >in.txt");
    /* -S forces temporary runs and a merge; --parallel=2 sorts in threads. */
    const char *cmd = "sort -k1,1n -k2,2 --parallel=2 -S 2M -T . in.txt | md5sum && "
                      "sort -r in.txt | head -3 && sort -u -k1,1n in.txt | wc -l";
    CHECK(same_with_shim("", cmd) > 0);
    /* Every allocation sampled: the slow path in every process. */
    CHECK(same_with_shim("MAPPROF_HEAP_RATE=1", cmd) > 0);
}

TEST_TIMEOUT(shim, realprog_python_threads, 120) {
    /* The system interpreter: a pyenv shim would run a dozen processes. */
    if (access("/usr/bin/python3", X_OK) != 0) {
        NEED_TOOL("python3");
        SKIP("no /usr/bin/python3");
    }
    setup("cat >prog.py <<'PY'\n"
          "import threading\n"
          "res = {}\n"
          "lock = threading.Lock()\n"
          "def work(t):\n"
          "    d = {}\n"
          "    for i in range(150000):\n"
          "        d['k%d' % (i * (t + 1))] = (i, str(i))\n"
          "    e = {k: v[0] * 2 for k, v in d.items() if v[0] % 3}\n"
          "    with lock:\n"
          "        res[t] = (len(d), len(e), sum(e.values()))\n"
          "ts = [threading.Thread(target=work, args=(t,)) for t in range(4)]\n"
          "for t in ts: t.start()\n"
          "for t in ts: t.join()\n"
          "for t in sorted(res): print(t, *res[t])\n"
          "PY\n");
    CHECK(same_with_shim("", "/usr/bin/python3 prog.py") > 0);
}

TEST_TIMEOUT(shim, realprog_perl, 120) {
    NEED_TOOL("perl");
    setup("cat >prog.pl <<'PL'\n"
          "my %h; my %inv;\n"
          "for my $i (1 .. 200000) { $h{\"key$i\"} = [$i, $i * 2]; }\n"
          "while (my ($k, $v) = each %h) { push @{ $inv{ $v->[0] % 97 } }, $k; }\n"
          "delete $h{\"key$_\"} for grep { $_ % 2 } 1 .. 200000;\n"
          "my $s = 0; $s += scalar(@{ $inv{$_} }) for keys %inv;\n"
          "print scalar(keys %h), \" \", scalar(keys %inv), \" $s\\n\";\n"
          "PL\n");
    CHECK(same_with_shim("", "perl prog.pl") > 0);
}

TEST_TIMEOUT(shim, realprog_gzip_xz, 180) {
    NEED_TOOL("gzip");
    NEED_TOOL("xz");
    setup("seq 1 1200000 | awk '{ print $1, $1 * $1 % 7777, \"some text to compress\" }' "
          ">data.txt");
    /* gzip works in static buffers: the few hundred KiB it mallocs often
     * hold no sample point at the default rate, so record every block. */
    CHECK(same_with_shim("MAPPROF_HEAP_RATE=1",
                         "gzip -6 -c data.txt | md5sum && gzip -c data.txt | gzip -dc | "
                         "cmp - data.txt && echo gzip-roundtrip-ok") > 0);
    /* -1: 1 MiB dictionary, 3 MiB blocks, so -T2 really compresses in two
     * threads (the multi-threaded .xz output is deterministic). */
    CHECK(same_with_shim("", "xz -1 -T2 -c data.txt | md5sum && xz -1 -T2 -c data.txt | "
                             "xz -T2 -dc | cmp - data.txt && echo xz-roundtrip-ok") > 0);
}

TEST_TIMEOUT(shim, realprog_sqlite3, 120) {
    NEED_TOOL("sqlite3");
    setup("cat >load.sql <<'SQL'\n"
          "CREATE TABLE t(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT);\n"
          "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 60000)\n"
          "  INSERT INTO t SELECT x, x % 113, 'name' || (x * 7919 % 60000) FROM c;\n"
          "CREATE INDEX t_name ON t(name);\n"
          "SELECT grp, count(*), sum(id) FROM t GROUP BY grp ORDER BY grp LIMIT 5;\n"
          "SELECT count(DISTINCT name) FROM t;\n"
          "UPDATE t SET name = upper(name) WHERE grp = 7;\n"
          "SELECT name FROM t WHERE name LIKE 'NAME1%' ORDER BY name LIMIT 3;\n"
          "SQL\n");
    CHECK(same_with_shim("", "rm -f db.sqlite && sqlite3 db.sqlite <load.sql") > 0);
}

TEST_TIMEOUT(shim, realprog_threads_fixture, 120) {
    setup(NULL);
    CHECK(same_with_shim("", su_fixture("threads")) > 0);
}
