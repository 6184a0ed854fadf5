/*
 * main.c — `mapprof VERB [ARGS]`: dispatch to the verb table. Each verb
 * lives in its own file and returns the exit status (cli.h): 0 ok, 1 a
 * check failed, 2 usage or input error after one "mapprof ..." line.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static const struct verb {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} verbs[] = {
    {"run", cli_run, "run [OPTIONS] -- CMD [ARGS...]    run CMD with the profiler preloaded"},
    {"top", cli_top, "top [OPTIONS] FILE...              flat/cum table by function"},
    {"check", cli_check, "check FILE... --max N [OPTIONS]    fail when a total exceeds a budget"},
    {"diff", cli_diff, "diff BASE NEW [OPTIONS]            compare totals, noise-aware gate"},
    {"merge", cli_merge, "merge -o OUT FILE...               merge profiles into one"},
    {"report", cli_report,
     "report -o DIR FILE... [OPTIONS]    clusters, flame graphs, summary page"},
};

static int usage(FILE *f) {
    if (f == stderr) {
        fprintf(f, "mapprof: no verb given (try mapprof --help)\n");
        return 2;
    }
    fprintf(f, "usage: mapprof VERB [ARGS]  (mapprof VERB --help; man mapprof)\nverbs:\n");
    for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++)
        fprintf(f, "  mapprof %s\n", verbs[i].help);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2)
        return usage(stderr);
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))
        return usage(stdout);
    for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++)
        if (!strcmp(argv[1], verbs[i].name))
            return verbs[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "mapprof: unknown verb \"%s\" (try mapprof --help)\n", argv[1]);
    return 2;
}
