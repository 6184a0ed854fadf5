/*
 * check_test.c — `mapprof check`: budgets over focused totals, units,
 * the stacks printed on failure, and input errors.
 */
#include "tests/cli/cli_test.h"

/* Grows: 5 under load_users (3 direct, 2 via parse), 4 elsewhere. */
static const ct_sample grow_samples[] = {
    {3, {CT_GROW, CT_LOAD_USERS, CT_MAIN}, {3, 3000, 100}, NULL},
    {4, {CT_GROW, CT_PARSE, CT_LOAD_USERS, CT_MAIN}, {2, 1000, 50}, NULL},
    {3, {CT_GROW, CT_PARSE, CT_MAIN}, {4, 500, 10}, NULL},
};

static const char *grow_file(void) {
    const char *p = ct_path("grow.pb.gz");
    ct_write(p, PPROF_KIND_GROW, 1, NULL, grow_samples, 3);
    return p;
}

TEST(cli, check_focus_budget) {
    const char *f = grow_file();
    char *out = ct_expect(1, "FAIL: grows 5 > max 4",
                          "check '%s' --sample-index grows --focus ct_fn_load_users --max 4", f);
    /* Heaviest first, leaf first: the direct stack (3) before the parse one (2). */
    const char *a = strstr(out, "3 (60.00%)"), *b = strstr(out, "2 (40.00%)");
    CHECK_MSG(a && b && a < b, "stack order:\n%s", out);
    CHECK_CONTAINS(a, "ct_fn_grow\n      ct_fn_load_users\n      ct_fn_main");
    CHECK_CONTAINS(b, "ct_fn_grow\n      ct_fn_parse\n      ct_fn_load_users");
    CHECK_MSG(!strstr(out, "(44.44%)"), "an unfocused stack was listed:\n%s", out);
    free(out);

    out = ct_expect(0, "mapprof check: ok: grows 5 <= max 5",
                    "check '%s' --sample-index grows --focus ct_fn_load_users --max 5", f);
    CHECK_MSG(strchr(out, '\n')[1] == 0, "ok is one line:\n%s", out);
    free(out);

    /* Nothing matches: total 0 is within a 0 budget ("no grows under X"). */
    CT_EXPECT(0, NULL, "check '%s' --focus ct_fn_idle --max 0", f);
    CT_EXPECT(1, "grows 3 > max 2", "check '%s' --sample-index grows --ignore ct_fn_parse --max 2",
              f);
}

TEST(cli, check_units_and_files) {
    const char *f = grow_file();
    /* bytes under load_users: 4000 B. */
    CT_EXPECT(0, NULL, "check '%s' --sample-index bytes --focus load_users --max 4kB", f);
    CT_EXPECT(1, "3.91kB > max 3kB",
              "check '%s' --sample-index bytes --focus load_users --max 3KiB", f);
    CT_EXPECT(0, NULL, "check '%s' --sample-index bytes --max 4500", f);
    /* Two files are summed. */
    CT_EXPECT(0, "(2 files)", "check '%s' '%s' --sample-index bytes --max 9000", f, f);
    CT_EXPECT(1, NULL, "check '%s' '%s' --sample-index bytes --max 8999", f, f);
    /* A time unit for a byte count, a unit for a count. */
    char cases[2][2048];
    snprintf(cases[0], sizeof cases[0], "check '%s' --sample-index bytes --max 5ms", f);
    snprintf(cases[1], sizeof cases[1], "check '%s' --sample-index grows --max 5MB", f);
    ct_check_errors((const char(*)[2048])cases, 2);
}

TEST(cli, check_mutex_time_units) {
    const ct_sample s[] = {
        {2, {CT_PARSE, CT_MAIN}, {10, 3000000}, NULL}, /* 3 ms of delay */
    };
    const char *f = ct_path("mutex.pb.gz");
    ct_write(f, PPROF_KIND_MUTEX, 1, NULL, s, 1);
    CT_EXPECT(0, NULL, "check '%s' --sample-index delay --max 5ms", f);
    /* The default index is delay (the last). */
    CT_EXPECT(1, "delay 3ms > max 2.50ms", "check '%s' --max 2.5ms", f);
}

TEST(cli, check_input_errors) {
    const char *f = grow_file();
    const char *bad = ct_path("corrupt.pb.gz");
    const char *trunc = ct_path("trunc.pb.gz");
    CHECK_EQ_I(th_sh(NULL, "head -c 7000 /dev/urandom > '%s'", bad), 0);
    CHECK_EQ_I(th_sh(NULL, "head -c 40 '%s' > '%s'", f, trunc), 0);
    char cases[10][2048];
    snprintf(cases[0], sizeof cases[0], "check /nonexistent/x.pb.gz --max 1");
    snprintf(cases[1], sizeof cases[1], "check '%s' --max 1 --sample-index nosuch", f);
    snprintf(cases[2], sizeof cases[2], "check '%s' --max 1", bad);
    snprintf(cases[3], sizeof cases[3], "check '%s' --max 1", trunc);
    snprintf(cases[4], sizeof cases[4], "check '%s'", f);
    snprintf(cases[5], sizeof cases[5], "check '%s' --max abc", f);
    snprintf(cases[6], sizeof cases[6], "check '%s' --max 1 --focus '('", f);
    snprintf(cases[7], sizeof cases[7], "check --max 1");
    snprintf(cases[8], sizeof cases[8], "check '%s' --max 1 --bogus", f);
    snprintf(cases[9], sizeof cases[9], "check '%s' --max 1", th_tmpdir());
    ct_check_errors((const char(*)[2048])cases, sizeof cases / sizeof *cases);
}
