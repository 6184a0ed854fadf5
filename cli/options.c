/*
 * options.c — the getopt loop every verb shares, so each verb only says
 * what its own options mean.
 *
 * The selection options of the reading verbs (--sample-index, its pprof
 * spelling --sample_index, --focus, --ignore) and --help are handled here;
 * anything else goes to the verb's callback. Errors follow cli.h: one
 * "mapprof VERB: ..." line and status 2, with the usage appended so a
 * mistyped flag shows the right ones. getopt's own messages are silenced
 * (they would make two lines). Non-goals: option abbreviations beyond
 * what getopt_long accepts, subcommands of verbs.
 */
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LONG 24

int cli_options(int argc, char **argv, const cli_verb_options *vo) {
    static const struct option shared[] = {
        {"sample-index", required_argument, NULL, 's'},
        {"sample_index", required_argument, NULL, 's'},
        {"focus", required_argument, NULL, 'f'},
        {"ignore", required_argument, NULL, 'i'},
    };
    struct option all[MAX_LONG];
    size_t n = 0;
    for (size_t i = 0; vo->sel && i < sizeof shared / sizeof *shared; i++)
        all[n++] = shared[i];
    for (size_t i = 0; vo->longopts && vo->longopts[i].name && n < MAX_LONG - 2; i++)
        all[n++] = vo->longopts[i];
    all[n++] = (struct option){"help", no_argument, NULL, 'h'};
    all[n] = (struct option){NULL, 0, NULL, 0};
    if (vo->sel)
        memset(vo->sel, 0, sizeof *vo->sel);
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, vo->shortopts, all, NULL)) != -1) {
        if (c == 'h') {
            printf("%s\n", vo->usage);
            return -1;
        }
        if (c == '?' || c == ':')
            return cli_fail(vo->verb, "bad option or missing value \"%s\" (%s)", argv[optind - 1],
                            vo->usage);
        if (vo->sel && (c == 's' || c == 'f' || c == 'i')) {
            const char **slot = c == 's'   ? &vo->sel->index_name
                                : c == 'f' ? &vo->sel->focus
                                           : &vo->sel->ignore;
            *slot = optarg;
            continue;
        }
        int rc = vo->fn ? vo->fn(vo->ctx, c, optarg) : 2;
        if (rc)
            return rc;
    }
    return 0;
}

int cli_parse_count(const char *verb, const char *opt, const char *s, long *out) {
    char *end;
    *out = strtol(s, &end, 10);
    if (end == s || *end || *out < 0)
        return cli_fail(verb, "bad %s value \"%s\" (a non-negative integer)", opt, s);
    return 0;
}

int cli_flush(const char *verb, int status) {
    if (fflush(stdout) != 0)
        return cli_fail(verb, "cannot write the output");
    return status;
}
