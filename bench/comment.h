/*
 * comment.h — reading what the shim says about itself in a profile's
 * comments (its own handler time, a capture's duration), for benchmarks
 * that run one child per measurement into an otherwise empty directory.
 * Static functions: each program includes what it uses; links pprof/.
 */
#ifndef BENCH_COMMENT_H
#define BENCH_COMMENT_H

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pprof/pprof.h"

/*
 * In dir, the profile whose name ends with suffix: copy its first comment
 * containing key, from key on, into out. Then empty dir for the next run.
 * False when there is no such profile or comment.
 */
static bool bench_comment(const char *dir, const char *suffix, const char *key, char *out,
                          size_t cap) {
    bool found = false;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t n = strlen(e->d_name), ns = strlen(suffix);
        pprof_profile *p = NULL;
        pprof_error err = {0};
        if (!found && n >= ns && !strcmp(e->d_name + n - ns, suffix) &&
            pprof_profile_read_file(path, NULL, &p, &err) == 0) {
            const pprof_pb_profile *m = pprof_profile_msg(p);
            for (size_t i = 0; i < m->n_comment && !found; i++) {
                const char *at = strstr(pprof_profile_str(p, m->comment[i]), key);
                if (at) {
                    snprintf(out, cap, "%s", at);
                    found = true;
                }
            }
            pprof_profile_free(p);
        }
        unlink(path);
    }
    if (d)
        closedir(d);
    return found;
}

#endif
