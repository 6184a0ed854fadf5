/*
 * main.c — `mapprof VERB [ARGS]`: dispatch to the verb table.
 * New verbs (run, check, diff, merge) get a file and a row in `verbs`.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static const struct verb {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} verbs[] = {
    {"top", cli_top, "top [-n N] [--sample-index NAME] FILE...  flat/cum table by function"},
};

static int usage(FILE *f) {
    fprintf(f, "usage: mapprof VERB [ARGS]\nverbs:\n");
    for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++)
        fprintf(f, "  mapprof %s\n", verbs[i].help);
    return f == stderr ? 2 : 0;
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
