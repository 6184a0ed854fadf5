/*
 * run_test.c — `mapprof run` on the fixture program runfix: exit status
 * and signal deaths passed through, stdin/stdout untouched, the shim's
 * variables and LD_PRELOAD set, signals forwarded, profiles of forked
 * children listed, static binaries and missing commands refused, the
 * library found in the build and installed layouts.
 */
#include "tests/cli/cli_test.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

/* The shim cannot be preloaded into a sanitized build (see shim_util.h). */
static void need_shim(void) {
#ifdef MAPPROF_SANITIZE
    SKIP("needs libmapprof.so, which a sanitized build does not have");
#endif
}

static const char *fix(const char *name) {
    static char p[4][1024];
    static int k;
    char *b = p[k++ % 4];
    snprintf(b, sizeof p[0], "%s/tests/cli/%s", th_build(), name);
    return b;
}

/* mapprof run with a private prefix; stderr to DIR/err, stdout captured. */
static int run_fix(char **out, const char *opts, const char *args) {
    return CT_RUN(out, "run -o '%s/p' %s -- '%s' %s 2>'%s/err'", th_tmpdir(), opts, fix("runfix"),
                  args, th_tmpdir());
}

static char *err_text(void) {
    char p[1024];
    snprintf(p, sizeof p, "%s/err", th_tmpdir());
    char *s = th_read_file(p, NULL);
    CHECK(s != NULL);
    return s;
}

TEST(cli, run_exit_status) {
    need_shim();
    int codes[] = {0, 1, 7, 2, 255};
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++) {
        char args[32];
        snprintf(args, sizeof args, "exit %d", codes[i]);
        int rc = run_fix(NULL, "", args);
        CHECK_EQ_I(rc, codes[i]);
    }
}

/* Spawn `mapprof run ... runfix ARGS` directly, stdout to a pipe. */
static pid_t spawn_run(const char *args, int *out_fd) {
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        char cmd[4096];
        snprintf(cmd, sizeof cmd, "exec '%s' run -o '%s/p' -- '%s' %s 2>>'%s/err'", ct_mapprof(),
                 th_tmpdir(), fix("runfix"), args, th_tmpdir());
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(126);
    }
    close(pfd[1]);
    *out_fd = pfd[0];
    return pid;
}

TEST(cli, run_signal_death_reraised) {
    need_shim();
    int sigs[] = {SIGTERM, SIGSEGV, SIGKILL, SIGABRT};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        char args[32];
        snprintf(args, sizeof args, "raise %d", sigs[i]);
        int fd;
        pid_t pid = spawn_run(args, &fd);
        close(fd);
        int st;
        CHECK(waitpid(pid, &st, 0) == pid);
        CHECK_MSG(WIFSIGNALED(st) && WTERMSIG(st) == sigs[i], "signal %d: wait status %#x", sigs[i],
                  st);
        CHECK_MSG(!WCOREDUMP(st), "mapprof itself dumped core for signal %d", sigs[i]);
    }
    /* Through a shell, the status reads the same as the program's own. */
    CHECK_EQ_I(run_fix(NULL, "", "raise 15"), 128 + 15);
}

TEST(cli, run_forwards_signals) {
    need_shim();
    /* USR1 reaches the program, whose handler exits 42. */
    int fd;
    pid_t pid = spawn_run("wait", &fd);
    char buf[16] = "";
    CHECK_MSG(read(fd, buf, 6) == 6 && !strncmp(buf, "ready\n", 6), "got \"%s\"", buf);
    CHECK(kill(pid, SIGUSR1) == 0);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 42, "status %#x", st);
    close(fd);
    /* TERM and INT kill it (default action), and mapprof dies the same way. */
    int sigs[] = {SIGTERM, SIGINT, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        pid = spawn_run("wait", &fd);
        CHECK(read(fd, buf, 6) == 6);
        CHECK(kill(pid, sigs[i]) == 0);
        CHECK(waitpid(pid, &st, 0) == pid);
        CHECK_MSG(WIFSIGNALED(st) && WTERMSIG(st) == sigs[i], "signal %d: status %#x", sigs[i], st);
        close(fd);
    }
}

TEST(cli, run_stdio_pass_through) {
    need_shim();
    char *out;
    const char *in = ct_path("stdin.txt");
    CHECK_EQ_I(th_sh(NULL, "head -c 100000 /dev/urandom > '%s'", in), 0);
    int rc = CT_RUN(&out, "run -o '%s/p' -- '%s' cat < '%s' 2>/dev/null | cmp - '%s' && echo same",
                    th_tmpdir(), fix("runfix"), in, in);
    CHECK_MSG(rc == 0, "rc %d: %s", rc, out);
    CHECK_EQ_S(out, "same\n");
    free(out);
    /* Profiles are listed on stderr, never on stdout. */
    rc = run_fix(&out, "", "env HOME");
    CHECK_EQ_I(rc, 0);
    CHECK_MSG(!strstr(out, "mapprof"), "stdout polluted:\n%s", out);
    free(out);
}

TEST(cli, run_sets_environment) {
    need_shim();
    char *out, so[1024], want[4096];
    CHECK(realpath(ct_mapprof(), so) != NULL);
    *strrchr(so, '/') = 0;
    strcat(so, "/libmapprof.so");
    /* Appended to an existing LD_PRELOAD. */
    int rc = CT_RUN(&out,
                    "run -o '%s/p' --heap-rate 1 --mutex-rate 3 --grow-rate 4 --seed 5 "
                    "--interval 6 --profiles heap,grow -- '%s' env LD_PRELOAD MAPPROF_OUT "
                    "MAPPROF_HEAP_RATE MAPPROF_MUTEX_RATE MAPPROF_GROW_RATE MAPPROF_SEED "
                    "MAPPROF_INTERVAL MAPPROF_PROFILES 2>/dev/null",
                    th_tmpdir(), fix("runfix"));
    CHECK_MSG(rc == 0, "rc %d: %s", rc, out);
    snprintf(want, sizeof want, "%s\n%s/p\n1\n3\n4\n5\n6\nheap,grow\n", so, th_tmpdir());
    CHECK_EQ_S(out, want);
    free(out);
    rc = th_sh(&out, "LD_PRELOAD='%s' '%s' run -o '%s/p' -- '%s' env LD_PRELOAD 2>/dev/null",
               fix("libnoop.so"), ct_mapprof(), th_tmpdir(), fix("runfix"));
    CHECK_MSG(rc == 0, "rc %d: %s", rc, out);
    snprintf(want, sizeof want, "%s:%s\n", fix("libnoop.so"), so);
    CHECK_EQ_S(out, want);
    free(out);
    /* A relative prefix is made absolute (the program may chdir). */
    rc = th_sh(&out, "cd '%s' && '%s' run -o rel -- '%s' env MAPPROF_OUT 2>/dev/null", th_tmpdir(),
               ct_mapprof(), fix("runfix"));
    char real[1024];
    CHECK(realpath(th_tmpdir(), real));
    snprintf(want, sizeof want, "%s/rel\n", real);
    CHECK_EQ_S(out, want);
    free(out);
}

TEST(cli, run_lists_profiles_of_forks) {
    need_shim();
    /* A stale file of an earlier run is not listed again. */
    CHECK_EQ_I(th_sh(NULL, "echo old > '%s/p.1.heap.pb.gz'", th_tmpdir()), 0);
    int rc = run_fix(NULL, "--profiles heap,grow", "fork");
    CHECK_EQ_I(rc, 0);
    char *err = err_text();
    CHECK_MSG(!strstr(err, "p.1.heap"), "stale file listed:\n%s", err);
    int pids[4], n = 0;
    for (const char *l = strstr(err, "mapprof: wrote "); l; l = strstr(l + 1, "mapprof: wrote ")) {
        char path[1024], kind[32];
        int pid;
        CHECK_MSG(sscanf(l, "mapprof: wrote %1023s", path) == 1, "%s", err);
        CHECK_MSG(sscanf(strrchr(path, '/'), "/p.%d.%31[a-z].pb.gz", &pid, kind) == 2, "%s", path);
        CHECK_MSG(!strcmp(kind, "heap") || !strcmp(kind, "grow"), "%s", path);
        CHECK_MSG(access(path, R_OK) == 0, "listed but missing: %s", path);
        bool known = false;
        for (int i = 0; i < n; i++)
            known |= pids[i] == pid;
        if (!known && n < 4)
            pids[n++] = pid;
    }
    CHECK_MSG(n == 2, "want profiles of 2 processes, got %d:\n%s", n, err);
    char *out;
    rc = th_sh(&out, "ls '%s' | grep -c '^p\\.[0-9]*\\.[a-z]*\\.pb\\.gz$'", th_tmpdir());
    CHECK_EQ_S(out, "5\n"); /* 2 processes x 2 kinds + the stale one */
    free(out);
    free(err);
}

TEST(cli, run_refuses_static_and_missing) {
    char *out;
    int rc = CT_RUN(&out, "run -- '%s' exit 0", fix("runfix_static"));
    CHECK_ONE_LINE_ERROR(rc, out);
    CHECK_CONTAINS(out, "statically linked");
    free(out);
    rc = CT_RUN(&out, "run -- no-such-command-mapprof-test");
    CHECK_ONE_LINE_ERROR(rc, out);
    CHECK_CONTAINS(out, "command not found");
    free(out);
    rc = CT_RUN(&out, "run -- /nonexistent/prog");
    CHECK_ONE_LINE_ERROR(rc, out);
    free(out);
    const char *cases[] = {
        "run",
        "run --",
        "run --heap-rate abc -- true",
        "run --heap-rate 0 -- true",
        "run --mutex-rate -1 -- true",
        "run --profiles heap,bogus -- true",
        "run --interval x -- true",
        "run --seed 1e3 -- true",
        "run --signal KILL -- true",
        "run -o /tmp/ -- true",
        "run --frob -- true",
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        rc = CT_RUN(&out, "%s", cases[i]);
        CHECK_MSG(rc == 2, "%s: rc %d", cases[i], rc);
        CHECK_ONE_LINE_ERROR(rc, out);
        free(out);
    }
}

TEST(cli, run_scripts_and_path_lookup) {
    need_shim();
    const char *script = ct_path("script.sh");
    char *out;
    CHECK_EQ_I(th_sh(NULL,
                     "printf '#!/bin/sh\\necho \"$MAPPROF_SEED\"\\nexit 3\\n' > '%s' && "
                     "chmod +x '%s'",
                     script, script),
               0);
    int rc = CT_RUN(&out, "run --seed 9 -o '%s/seed' -- '%s' 2>/dev/null", th_tmpdir(), script);
    CHECK_EQ_I(rc, 3);
    CHECK_EQ_S(out, "9\n");
    free(out);
    /* Found through PATH like a shell would. */
    rc = th_sh(&out, "cd '%s' && PATH='%s/tests/cli':\"$PATH\" '%s' run -- runfix exit 4",
               th_tmpdir(), th_build(), ct_mapprof());
    CHECK_MSG(rc == 4, "rc %d: %s", rc, out);
    free(out);
}

TEST(cli, run_library_lookup) {
    need_shim();
    char *out;
    /* MAPPROF_LIB wins; a bad one is refused. */
    int rc = CT_RUN(&out, "run -o '%s/lib' -- true", th_tmpdir());
    CHECK_MSG(rc == 0, "%s", out);
    free(out);
    rc = th_sh(&out, "MAPPROF_LIB=/nonexistent/libmapprof.so '%s' run -- true", ct_mapprof());
    CHECK_ONE_LINE_ERROR(rc, out);
    free(out);
    /* Installed layouts: bin/mapprof with lib/mapprof/ or lib/. */
    const char *layouts[] = {"lib/mapprof", "lib"};
    for (size_t i = 0; i < 2; i++) {
        CHECK_EQ_I(th_sh(NULL,
                         "rm -rf '%1$s/inst' && mkdir -p '%1$s/inst/bin' '%1$s/inst/%2$s' && "
                         "cp '%3$s/mapprof' '%1$s/inst/bin/' && "
                         "cp '%3$s/libmapprof.so' '%1$s/inst/%2$s/'",
                         th_tmpdir(), layouts[i], th_build()),
                   0);
        rc = th_sh(&out, "'%s/inst/bin/mapprof' run -o '%s/p' -- '%s' env LD_PRELOAD 2>/dev/null",
                   th_tmpdir(), th_tmpdir(), fix("runfix"));
        CHECK_EQ_I(rc, 0);
        char want[2048], real[1024];
        snprintf(want, sizeof want, "%s/inst/%s/libmapprof.so", th_tmpdir(), layouts[i]);
        CHECK(realpath(want, real));
        snprintf(want, sizeof want, "%s\n", real);
        CHECK_EQ_S(out, want);
        free(out);
    }
    /* No library anywhere. */
    CHECK_EQ_I(th_sh(NULL, "rm -rf '%1$s/inst/lib'", th_tmpdir()), 0);
    rc = th_sh(&out, "'%s/inst/bin/mapprof' run -- true", th_tmpdir());
    CHECK_ONE_LINE_ERROR(rc, out);
    CHECK_CONTAINS(out, "cannot find libmapprof.so");
    free(out);
}

TEST(cli, run_profiles_readable) {
    need_shim();
    int rc = run_fix(NULL, "--heap-rate 1 --profiles heap", "alloc");
    CHECK_EQ_I(rc, 0);
    char *err = err_text();
    char path[1024];
    const char *l = strstr(err, "mapprof: wrote ");
    CHECK_MSG(l && sscanf(l, "mapprof: wrote %1023s", path) == 1, "%s", err);
    char *out;
    /* The 64 blocks of 4096..4159 bytes are still live at exit. */
    rc = CT_RUN(&out, "check '%s' --sample-index inuse_space --focus alloc_pattern --max 266000",
                path);
    CHECK_MSG(rc == 0, "%s", out);
    free(out);
    rc = CT_RUN(&out, "check '%s' --sample-index inuse_space --focus alloc_pattern --max 264000",
                path);
    CHECK_MSG(rc == 1, "%s", out);
    free(out);
    free(err);
}
