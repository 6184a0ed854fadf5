/*
 * top_test.c — `mapprof top --focus/--ignore`, `--help` of every verb,
 * and the command's own usage errors.
 */
#include "tests/cli/cli_test.h"

static const ct_sample samples[] = {
    {3, {CT_ALLOC, CT_LOAD_USERS, CT_MAIN}, {1, 1000, 1, 1000}, NULL},
    {4, {CT_ALLOC, CT_PARSE, CT_LOAD_USERS, CT_MAIN}, {1, 300, 1, 300}, NULL},
    {3, {CT_ALLOC, CT_IDLE, CT_MAIN}, {1, 50, 1, 50}, NULL},
};

TEST(cli, top_focus_ignore) {
    const char *f = ct_path("heap.pb.gz");
    ct_write(f, PPROF_KIND_HEAP, 1, NULL, samples, 3);
    CT_EXPECT(0, "of 1.32kB total", "top '%s'", f);
    char *out = ct_expect(0, "Showing nodes accounting for 1.27kB, 100% of 1.27kB total",
                          "top --focus 'load_u(s|x)ers$' '%s'", f);
    CHECK_MSG(!strstr(out, "ct_fn_idle"), "%s", out);
    free(out);
    out = ct_expect(0, "of 1.03kB total", "top --ignore ct_fn_parse -n 1 '%s'", f);
    CHECK_CONTAINS(out, "Showing top 1 nodes out of 4");
    free(out);
    CT_EXPECT(0, "of 1000B total", "top --focus ct_fn_load_users --ignore ct_fn_parse '%s'", f);
    CT_EXPECT(0, "of 0 total", "top --focus nothing_matches '%s'", f);
    char cases[2][2048];
    snprintf(cases[0], sizeof cases[0], "top --focus '[' '%s'", f);
    snprintf(cases[1], sizeof cases[1], "top --ignore '*(' '%s'", f);
    ct_check_errors((const char(*)[2048])cases, 2);
}

TEST(cli, help_of_every_verb) {
    const char *verbs[] = {"run", "top", "check", "diff", "merge"};
    for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++) {
        char *out, want[64];
        int rc = CT_RUN(&out, "%s --help 2>/dev/null", verbs[i]);
        CHECK_MSG(rc == 0, "%s --help: rc %d", verbs[i], rc);
        snprintf(want, sizeof want, "usage: mapprof %s ", verbs[i]);
        CHECK_MSG(!strncmp(out, want, strlen(want)), "%s --help:\n%s", verbs[i], out);
        free(out);
    }
    char *out;
    int rc = CT_RUN(&out, "--help");
    CHECK_EQ_I(rc, 0);
    for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++) {
        char want[64];
        snprintf(want, sizeof want, "mapprof %s ", verbs[i]);
        CHECK_CONTAINS(out, want);
    }
    free(out);
}

TEST(cli, usage_errors) {
    const char cases[][2048] = {"",      "frobnicate", "top", "top -n x /dev/null", "top /dev/null",
                                "--frob"};
    ct_check_errors(cases, sizeof cases / sizeof *cases);
}
