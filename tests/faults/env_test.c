/*
 * env_test.c — garbage in every MAPPROF_* variable, end to end.
 *
 * For each variable and each bad value: the host's stdout, stderr (apart
 * from `mapprof:` lines) and exit status are those of a run without the
 * shim; the shim prints exactly one `mapprof:` line, naming the variable;
 * and the default is really in force, read back from what was written:
 * the rates, seed and depth recorded in the profile comments, all five
 * profiles for a bad MAPPROF_PROFILES, ./mapprof.<pid>.* in the working
 * directory for a bad MAPPROF_OUT. Then all ten at once: ten lines.
 *
 * A value holding a newline must still give one line (a diagnostic must
 * not be forgeable by the environment): bad_env_newline_is_one_line.
 */
#include "tests/stress/stress_util.h"

struct bad {
    const char *var;
    const char *values[6];
    const char *comment; /* a comment the profile must hold, or NULL */
};

/* Shell-quoted values (they go into an `export VAR=value` line). */
static const struct bad bads[] = {
    {"MAPPROF_HEAP_RATE",
     {"abc", "-5", "0", "12k", "99999999999999999999999", "' 7'"},
     "heap_rate=524288 "},
    {"MAPPROF_MUTEX_RATE", {"x", "0", "1.5", "''", "4294967297", "0x10"}, "mutex_rate=1 "},
    {"MAPPROF_GROW_RATE", {"-1", "0", "ten", "''", "1e3", "18446744073709551616"}, "grow_rate=1 "},
    {"MAPPROF_SEED", {"0x10", "-3", "seed", "''", "18446744073709551616", "'1 2'"}, "seed=random:"},
    {"MAPPROF_DEPTH", {"0", "257", "deep", "''", "-64", "$(printf '\\377\\376')"}, "depth=64"},
    {"MAPPROF_PROFILES", {"heapp", "heap,,mutex", "','", "HEAP", "''", "all,none"}, NULL},
    {"MAPPROF_INTERVAL", {"-1", "1s", "''", "99999999999", "0.5", "x"}, NULL},
    {"MAPPROF_SIGNAL", {"USR9", "KILL", "9", "SIGSEGV", "RTMIN+99", "0"}, NULL},
    {"MAPPROF_SYMBOLS", {"slow", "FULL", "''", "fast,full", "' fast'", "1"}, NULL},
    {"MAPPROF_OUT", {"''", "dir/", "\"$(printf '%05000d' 0)\"", NULL, NULL, NULL}, NULL},
};

/* The fixture runs in work/sub so that a fallback ./mapprof is found
 * there. The directory is made here, not by the command: every program the
 * command starts runs under the shim and would add profiles of its own. */
static const char *cmd(void) {
    static char c[1200];
    CHECK_EQ_I(th_sh(NULL, "mkdir -p '%s/sub'", st_work()), 0);
    snprintf(c, sizeof c, "cd sub && '%s' plain", st_bin("faults", "faulty"));
    return c;
}

static int diag_lines_naming(const char *err, const char *var) {
    int n = 0;
    for (const char *p = err; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (!strncmp(p, "mapprof:", 8)) {
            char line[700];
            snprintf(line, sizeof line, "%.*s", (int)(len < 690 ? len : 690), p);
            CHECK_MSG(strstr(line, var), "a diagnostic that does not name %s: %s", var, line);
            n++;
        }
        p = nl ? nl + 1 : NULL;
    }
    return n;
}

static void check_defaults(const struct bad *b, const char *err) {
    char sub[700];
    snprintf(sub, sizeof sub, "%s/sub", st_work());
    bool out_var = !strcmp(b->var, "MAPPROF_OUT");
    st_files f = out_var ? st_audit_dir(sub, "mapprof") : st_audit();
    CHECK_MSG(f.n_pids == 1, "%s: %d pids wrote profiles (stderr: %s)", b->var, f.n_pids, err);
    st_check_complete(&f);
    if (b->comment) {
        pprof_profile *p = st_load(st_prof(f.pid[0], "heap"));
        CHECK_MSG(st_has_comment(p, b->comment), "%s: the default (%s) is not in force", b->var,
                  b->comment);
        pprof_profile_free(p);
    }
    CHECK_EQ_I(th_sh(NULL, "rm -rf '%s' && rm -f '%s'/*", sub, st_out()), 0);
}

TEST_TIMEOUT(faults, bad_env_each_variable, 60) {
    st_result plain = st_run(false, "", cmd());
    CHECK_EQ_I(plain.rc, 5);
    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
        const struct bad *b = &bads[i];
        for (int j = 0; j < 6 && b->values[j]; j++) {
            char env[6000];
            snprintf(env, sizeof env, "%s=%s", b->var, b->values[j]);
            /* An empty MAPPROF_SIGNAL means "off", documented as valid. */
            st_result r = st_run(true, env, cmd());
            CHECK_EQ_I(r.rc, plain.rc);
            CHECK_EQ_S(r.out, plain.out);
            char *se = st_strip_diag(r.err);
            CHECK_EQ_S(se, plain.err);
            free(se);
            int n = diag_lines_naming(r.err, b->var);
            CHECK_MSG(n == 1, "%s=%s: %d diagnostic lines, expected one:\n%s", b->var, b->values[j],
                      n, r.err);
            check_defaults(b, r.err);
            st_result_free(&r);
        }
    }
    st_result_free(&plain);
}

TEST_TIMEOUT(faults, bad_env_all_at_once, 30) {
    char env[2000] = "";
    size_t n = 0;
    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++)
        n += (size_t)snprintf(env + n, sizeof env - n, "%s=%s ", bads[i].var, bads[i].values[0]);
    st_result plain = st_run(false, "", cmd());
    st_result r = st_run(true, env, cmd());
    CHECK_EQ_I(r.rc, plain.rc);
    CHECK_EQ_S(r.out, plain.out);
    CHECK_EQ_I(st_diag_lines(r.err), (int)(sizeof bads / sizeof bads[0]));
    for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
        char needle[64];
        snprintf(needle, sizeof needle, "%s=", bads[i].var);
        CHECK_CONTAINS(r.err, needle);
    }
    char sub[700];
    snprintf(sub, sizeof sub, "%s/sub", st_work());
    st_files f = st_audit_dir(sub, "mapprof");
    CHECK_EQ_I(f.n_pids, 1);
    st_check_complete(&f);
    /* A real program too: sort prints the same, the shim the same lines. */
    st_result ps = st_run(false, "", "seq 1 5000 | sort -rn | head -3");
    st_result ss = st_run(true, env, "seq 1 5000 | LD_PRELOAD= sort -rn | head -3");
    CHECK_EQ_S(ss.out, ps.out);
    CHECK_EQ_I(ss.rc, ps.rc);
    CHECK_EQ_I(st_diag_lines(ss.err), 2 * (int)(sizeof bads / sizeof bads[0])); /* seq, head */
    st_result_free(&plain);
    st_result_free(&r);
    st_result_free(&ps);
    st_result_free(&ss);
}

/* A newline in a value must not split the diagnostic line. */
TEST_TIMEOUT(faults, bad_env_newline_is_one_line, 30) {
    st_result plain = st_run(false, "", cmd());
    st_result r =
        st_run(true, "MAPPROF_HEAP_RATE=\"$(printf '12\\nmapprof: forged line')\"", cmd());
    CHECK_EQ_I(r.rc, plain.rc);
    CHECK_EQ_S(r.out, plain.out);
    CHECK_MSG(st_diag_lines(r.err) == 1,
              "SHIM BUG: a value with a newline gave %d `mapprof:` lines (the value is printed "
              "unescaped):\n%s",
              st_diag_lines(r.err), r.err);
    st_result_free(&plain);
    st_result_free(&r);
}
