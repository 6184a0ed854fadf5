/*
 * merge.c — `mapprof merge -o OUT FILE...`: one profile from many, e.g.
 * the files a program and its forked children wrote during one
 * `mapprof run`.
 *
 * The work is pprof_profile_merge (pprof/merge.c): sample types and
 * period types must match, mappings/locations/functions are re-interned,
 * identical stacks with identical labels are summed, comments merged. The
 * result is written atomically through pprof/'s writer (temporary file +
 * rename), so OUT is either the old file or the complete new one — OUT
 * may even be one of the inputs. Exit 2 with one line on any unreadable
 * or incompatible input; nothing is written then. Non-goals: merging
 * different kinds (heap with mutex), pprof's -normalize.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>

#define MERGE_USAGE "usage: mapprof merge -o OUT FILE..."

static int merge_option(void *ctx, int c, const char *arg) {
    (void)c; /* only -o */
    *(const char **)ctx = arg;
    return 0;
}

int cli_merge(int argc, char **argv) {
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL;
    cli_verb_options vo = {"merge", MERGE_USAGE, "o:h", opts, NULL, merge_option, &out};
    int status = cli_options(argc, argv, &vo);
    if (status)
        return status < 0 ? 0 : status;
    if (!out || !*out)
        return cli_fail("merge", "-o OUT is required (%s)", MERGE_USAGE);
    cli_profset ps;
    status = cli_profset_load(&ps, "merge", argv + optind, (size_t)(argc - optind), NULL);
    pprof_profile *merged = NULL;
    pprof_error err = {0};
    if (status == 0 &&
        pprof_profile_merge((const pprof_profile *const *)ps.p, ps.n, NULL, &merged, &err) < 0)
        status = cli_fail("merge", "%s", err.msg);
    if (status == 0 && pprof_profile_write_file(merged, out, &err) < 0)
        status = cli_fail("merge", "%s: %s", out, err.msg);
    if (status == 0) {
        const pprof_pb_profile *m = pprof_profile_msg(merged);
        fprintf(stderr, "mapprof merge: wrote %s (%zu files, %zu samples)\n", out, ps.n,
                m->n_sample);
    }
    pprof_profile_free(merged);
    cli_profset_free(&ps);
    return status;
}
