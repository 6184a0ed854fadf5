/*
 * example.h — the little every example needs besides the map: its own
 * name for messages and an optional count argument. Kept tiny on purpose,
 * so each example reads on its own.
 */
#ifndef EXAMPLES_EXAMPLE_H
#define EXAMPLES_EXAMPLE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The program's base name, for messages. */
static inline const char *example_name(char **argv) {
    const char *slash = strrchr(argv[0], '/');
    return slash ? slash + 1 : argv[0];
}

/* argv[1] as a count in 1..max, or dflt when absent; exits 2 when bad. */
static inline size_t example_count_arg(int argc, char **argv, size_t dflt, size_t max,
                                       const char *what) {
    if (argc < 2)
        return dflt;
    char *end = NULL;
    unsigned long long n = strtoull(argv[1], &end, 10);
    if (argc > 2 || !*argv[1] || *end || n == 0 || n > max) {
        fprintf(stderr, "usage: %s [N]   (N: %s, 1..%zu, default %zu)\n", example_name(argv), what,
                max, dflt);
        exit(2);
    }
    return (size_t)n;
}

#endif
