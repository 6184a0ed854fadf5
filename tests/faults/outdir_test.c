/*
 * outdir_test.c — the output directory is missing, is not a directory, is
 * read-only, or is full, writes fail midway (EFBIG), and no file
 * descriptor is left for the dump.
 *
 * For every fault the host must not notice: same stdout, same stderr apart
 * from `mapprof:` lines, same exit status as a run without the shim. The
 * shim must say what went wrong on stderr (a `mapprof:` line naming the
 * cause) and leave nothing partial: every file that does appear is a
 * complete, valid profile, and no temporary file remains. How many lines a
 * failed dump may print is checked separately (diag_test.c).
 *
 * Making a directory unwritable must work as root too (permissions do not
 * stop root): a read-only bind mount in a private mount namespace
 * (`unshare -m`, or `unshare -rm` as a user), else running the command as
 * nobody with setpriv, else chmod when not root; the test skips, saying
 * why, only when none works. A full disk is a small tmpfs in a private
 * mount namespace; without one the test skips (write_fails_midway_efbig
 * covers failing writes everywhere, with RLIMIT_FSIZE).
 */
#include "tests/stress/stress_util.h"

static const char *faulty(void) {
    return st_bin("faults", "faulty");
}

/* A host command: the fixture, then a real program reading a pipe. */
static const char *host_cmd(void) {
    static char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s' plain; seq 1 3000 | sort -r | md5sum", faulty());
    return cmd;
}

/* Run host_cmd (wrapped by `wrap`, a printf format with one %s, or NULL)
 * without and with the shim writing to prefix `out`; returns the shim's
 * stderr. */
static char *faulted_run(const char *out, const char *wrap, const char *extra_env) {
    char cmd[3000], env[1600];
    if (wrap)
        snprintf(cmd, sizeof cmd, wrap, host_cmd());
    else
        snprintf(cmd, sizeof cmd, "%s", host_cmd());
    snprintf(env, sizeof env, "MAPPROF_OUT='%s' %s", out, extra_env ? extra_env : "");
    st_result r = st_same(env, cmd);
    CHECK_EQ_I(r.rc, 0);
    CHECK_MSG(st_diag_lines(r.err) >= 1, "the shim did not say why no profile was written");
    printf("shim said:\n%s", r.err);
    char *err = r.err;
    r.err = NULL;
    st_result_free(&r);
    return err;
}

TEST_TIMEOUT(faults, out_dir_missing, 30) {
    char out[800], missing[700];
    snprintf(missing, sizeof missing, "%s/missing", st_dir());
    snprintf(out, sizeof out, "%s/sub/mp", missing);
    char *err = faulted_run(out, NULL, "MAPPROF_HEAP_RATE=4096");
    CHECK_CONTAINS(err, "No such file or directory");
    CHECK_MSG(access(missing, F_OK) != 0, "the shim created %s", missing);
    CHECK_EQ_I(st_audit().n_files, 0);
    free(err);
}

TEST_TIMEOUT(faults, out_parent_is_regular_file, 30) {
    char file[700], out[800];
    snprintf(file, sizeof file, "%s/afile", st_dir());
    CHECK_EQ_I(th_sh(NULL, "printf keep >'%s'", file), 0);
    snprintf(out, sizeof out, "%s/mp", file);
    char *err = faulted_run(out, NULL, "MAPPROF_HEAP_RATE=4096");
    CHECK_CONTAINS(err, "Not a directory");
    char *content = th_read_file(file, NULL);
    CHECK_EQ_S(content, "keep");
    free(content);
    free(err);
}

/* Is `wrap` (a shell command with one %s) able to run a command that
 * cannot create a file in st_out()? */
static bool wrap_works(const char *wrap) {
    char probe[1400], cmd[3600];
    snprintf(probe, sizeof probe, "cd '%s' && ! touch '%s/probe' 2>/dev/null && echo blocked",
             st_work(), st_out());
    snprintf(cmd, sizeof cmd, wrap, probe);
    char *out = NULL;
    int rc = th_sh(&out, "%s", cmd);
    bool ok = rc == 0 && strstr(out, "blocked");
    free(out);
    th_sh(NULL, "rm -f '%s/probe'", st_out());
    return ok;
}

TEST_TIMEOUT(faults, out_dir_read_only, 30) {
    static char wrap[2000];
    const char *how = NULL;
    /* The %s is the command; it runs from a shell started in st_work(). */
    snprintf(wrap, sizeof wrap,
             "unshare -m%s sh -c \"mount --bind -o ro '%s' '%s' && cd '%s' && { %%s ; }\"",
             getuid() == 0 ? "" : "r", st_out(), st_out(), st_work());
    if (wrap_works(wrap))
        how = "read-only bind mount";
    if (!how && getuid() == 0) {
        /* Everything the command needs must be reachable by nobody. */
        CHECK_EQ_I(th_sh(NULL, "chmod 0777 '%s' && chmod o+rx '%s'", st_work(), st_dir()), 0);
        snprintf(wrap, sizeof wrap,
                 "setpriv --reuid=65534 --regid=65534 --clear-groups sh -c \"cd '%s' && { %%s ; "
                 "}\"",
                 st_work());
        if (wrap_works(wrap))
            how = "setpriv to nobody";
    }
    if (!how && getuid() != 0) {
        CHECK_EQ_I(th_sh(NULL, "chmod 0555 '%s'", st_out()), 0);
        snprintf(wrap, sizeof wrap, "%%s");
        if (wrap_works(wrap))
            how = "chmod 0555";
    }
    if (!how)
        SKIP("no way to make a directory unwritable here (no mount namespace, no setpriv)");
    printf("unwritable by: %s\n", how);
    char out[800];
    snprintf(out, sizeof out, "%s/mp", st_out());
    /* The quotes of the wrapper enclose the command: no single quotes
     * inside it, so build a quote-free variant of the host command. */
    char *err = faulted_run(out, wrap, "MAPPROF_HEAP_RATE=4096");
    CHECK_MSG(strstr(err, "Read-only file system") || strstr(err, "Permission denied"),
              "the diagnostic does not name the cause:\n%s", err);
    th_sh(NULL, "chmod 0755 '%s'", st_out());
    CHECK_EQ_I(st_audit().n_files, 0);
    free(err);
}

/*
 * A 64 KiB tmpfs with 56 KiB taken: the first profiles fit, the rest fail
 * with ENOSPC. The mount vanishes with the namespace, so the command
 * copies the directory (hidden files included) out before it ends. The
 * helpers (mount, head, rm, cp) run without the shim: their own profiles
 * would fill the disk before the test starts.
 */
TEST_TIMEOUT(faults, out_dir_full, 30) {
    char full[700], copy[700];
    snprintf(full, sizeof full, "%s/full", st_dir());
    snprintf(copy, sizeof copy, "%s/fullcopy", st_dir());
    CHECK_EQ_I(th_sh(NULL, "mkdir -p '%s' '%s'", full, copy), 0);
    char *out = NULL;
    int rc = th_sh(&out, "unshare -m%s sh -c \"mount -t tmpfs -o size=64k tmpfs '%s' && echo ok\"",
                   getuid() == 0 ? "" : "r", full);
    bool can = rc == 0 && strstr(out, "ok");
    free(out);
    if (!can)
        SKIP("cannot mount a tmpfs in a private mount namespace here; "
             "faults.write_fails_midway_efbig covers failing writes");
    static char wrap[6000];
    snprintf(wrap, sizeof wrap,
             "unshare -m%s sh -c \"LD_PRELOAD= mount -t tmpfs -o size=64k tmpfs '%s' && "
             "LD_PRELOAD= head -c 57344 /dev/zero >'%s/filler' && cd '%s' && { %%s ; }; "
             "rc=\\$?; LD_PRELOAD= rm -f '%s/filler'; LD_PRELOAD= rm -rf '%s'/* '%s'/.[!.]*; "
             "LD_PRELOAD= cp -a '%s/.' '%s/'; exit \\$rc\"",
             getuid() == 0 ? "" : "r", full, full, st_work(), full, copy, copy, full, copy);
    char prefix[800];
    snprintf(prefix, sizeof prefix, "%s/mp", full);
    char *err = faulted_run(prefix, wrap, "MAPPROF_HEAP_RATE=4096");
    CHECK_CONTAINS(err, "No space left on device");
    st_files f = st_audit_dir(copy, "mp");
    printf("%d profiles fitted\n", f.n_files);
    free(err);
}

/*
 * RLIMIT_FSIZE with SIGXFSZ ignored: write() fails with EFBIG at the limit
 * (0: the first write; 700 and 1500: midway through the heap profile).
 * Files that fit must be complete; the others must leave nothing. The shim's stderr
 * goes through a pipe (a file would hit the limit too).
 */
TEST_TIMEOUT(faults, write_fails_midway_efbig, 30) {
    static const int limits[] = {0, 700, 1500};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        CHECK_EQ_I(th_sh(NULL, "rm -f '%s'/*", st_out()), 0);
        char cmd[1600];
        snprintf(cmd, sizeof cmd,
                 "{ '%s' fsize %d 2>&1 >&3 3>&-; echo $? >rc.txt; } 3>&1 | LD_PRELOAD= cat >&2",
                 faulty(), limits[i]);
        st_result plain = st_run(false, "", cmd);
        long plain_rc = st_read_long(st_work(), "rc.txt");
        st_result shim = st_run(true, "MAPPROF_HEAP_RATE=4096", cmd);
        long shim_rc = st_read_long(st_work(), "rc.txt");
        CHECK_EQ_I(plain_rc, 5);
        CHECK_EQ_I(shim_rc, plain_rc);
        CHECK_EQ_S(shim.out, plain.out);
        printf("limit %d: shim said:\n%s", limits[i], shim.err);
        st_files f = st_audit(); /* files that fit are complete and valid */
        if (limits[i] < 1000) {
            /* The sampled heap profile is larger than the limit; profiles
             * without samples (no mappings: a few hundred bytes) may fit. */
            for (int p = 0; p < f.n_pids; p++)
                CHECK_MSG(!(f.kinds[p] & 1u), "a heap profile fit in %d bytes", limits[i]);
            if (limits[i] == 0)
                CHECK_EQ_I(f.n_files, 0);
            CHECK_CONTAINS(shim.err, "File too large");
        }
        st_result_free(&plain);
        st_result_free(&shim);
    }
}

/* Every descriptor taken (RLIMIT_NOFILE 64): the dump can open nothing. */
TEST_TIMEOUT(faults, no_file_descriptor_left, 30) {
    char cmd[800];
    snprintf(cmd, sizeof cmd, "'%s' nofile", faulty());
    st_result r = st_same("MAPPROF_HEAP_RATE=4096", cmd);
    CHECK_EQ_I(r.rc, 5);
    CHECK_CONTAINS(r.err, "Too many open files");
    CHECK_EQ_I(st_audit().n_files, 0);
    st_result_free(&r);
}
