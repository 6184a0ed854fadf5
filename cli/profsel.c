/*
 * profsel.c — what every reading verb (top, check, diff, merge) does before
 * its own work: read the files, agree on sample types, pick the sample
 * index, name frames, and apply --focus / --ignore.
 *
 * Frame names follow pprof's function granularity: a location contributes
 * one frame per line, innermost inlined function first; a location without
 * lines is named after its mapping ("[libc.so.6]") or else its address.
 * Focus and ignore are POSIX extended regexes searched (not anchored) in
 * those names, as pprof's -focus/-ignore do: a sample is kept when at least
 * one frame matches focus and no frame matches ignore.
 *
 * Every failure is reported as one "mapprof VERB: ..." line and status 2;
 * a file that is missing, unreadable or corrupt is an input error, never a
 * crash (pprof/'s reader validates every reference). Non-goals: pprof's
 * -show/-hide (frame removal) and tag filters.
 */
#include "cli/cli.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <limits.h>
#include <sys/wait.h>
#include <unistd.h>

int cli_fail(const char *verb, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* One line, whatever the message carried in (file names, regexes). */
    for (char *c = msg; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
    fprintf(stderr, "mapprof %s: %s\n", verb, msg);
    return 2;
}

static int compile(regex_t *re, const char *verb, const char *opt, const char *src) {
    int rc = regcomp(re, src, REG_EXTENDED | REG_NOSUB);
    if (rc == 0)
        return 0;
    char why[256];
    regerror(rc, re, why, sizeof why);
    return cli_fail(verb, "bad %s regex \"%s\": %s", opt, src, why);
}

int cli_filter_init(cli_filter *f, const char *verb, const char *focus, const char *ignore) {
    memset(f, 0, sizeof *f);
    if (focus) {
        if (compile(&f->focus, verb, "--focus", focus))
            return 2;
        f->has_focus = true;
        f->focus_src = focus;
    }
    if (ignore) {
        if (compile(&f->ignore, verb, "--ignore", ignore)) {
            cli_filter_free(f);
            return 2;
        }
        f->has_ignore = true;
        f->ignore_src = ignore;
    }
    return 0;
}

void cli_filter_describe(const cli_filter *f, char *buf, size_t n) {
    int k = 0;
    buf[0] = 0;
    if (f->has_focus)
        k = snprintf(buf, n, ", focus \"%s\"", f->focus_src);
    if (f->has_ignore && k >= 0 && (size_t)k < n)
        snprintf(buf + k, n - (size_t)k, ", ignore \"%s\"", f->ignore_src);
}

void cli_filter_free(cli_filter *f) {
    if (f->has_focus)
        regfree(&f->focus);
    if (f->has_ignore)
        regfree(&f->ignore);
    f->has_focus = f->has_ignore = false;
}

bool cli_filter_keep(const cli_filter *f, const pprof_profile *p, const pprof_pb_sample *s) {
    if (!f || (!f->has_focus && !f->has_ignore))
        return true;
    bool focused = !f->has_focus;
    cli_frames it;
    cli_frames_init(&it, p, s);
    for (const char *name; (name = cli_frames_next(&it));) {
        if (f->has_ignore && regexec(&f->ignore, name, 0, NULL, 0) == 0)
            return false;
        if (!focused && regexec(&f->focus, name, 0, NULL, 0) == 0)
            focused = true;
    }
    return focused;
}

void cli_frames_init(cli_frames *it, const pprof_profile *p, const pprof_pb_sample *s) {
    it->p = p;
    it->s = s;
    it->loc = it->line = 0;
    it->buf[0] = 0;
}

static const char *loc_name(cli_frames *it, const pprof_pb_location *l) {
    const pprof_pb_mapping *m = pprof_profile_mapping(it->p, l->mapping_id);
    const char *file = m ? pprof_profile_str(it->p, m->filename) : "";
    if (*file) {
        const char *base = strrchr(file, '/');
        snprintf(it->buf, sizeof it->buf, "[%s]", base ? base + 1 : file);
    } else {
        snprintf(it->buf, sizeof it->buf, "%#" PRIx64, l->address);
    }
    return it->buf;
}

const char *cli_frames_next(cli_frames *it) {
    while (it->loc < it->s->n_location_id) {
        const pprof_pb_location *l = pprof_profile_location(it->p, it->s->location_id[it->loc]);
        if (!l) { /* the reader rejects this; stay safe for built profiles */
            it->loc++;
            continue;
        }
        if (l->n_line == 0) {
            it->loc++;
            return loc_name(it, l);
        }
        const pprof_pb_function *f = pprof_profile_function(it->p, l->line[it->line]->function_id);
        if (++it->line >= l->n_line) {
            it->line = 0;
            it->loc++;
        }
        const char *name = f ? pprof_profile_str(it->p, f->name) : "";
        if (!*name && f)
            name = pprof_profile_str(it->p, f->system_name);
        return *name ? name : loc_name(it, l);
    }
    return NULL;
}

static bool same_types(const pprof_profile *a, const pprof_profile *b) {
    const pprof_pb_profile *x = pprof_profile_msg(a), *y = pprof_profile_msg(b);
    if (x->n_sample_type != y->n_sample_type)
        return false;
    for (size_t k = 0; k < x->n_sample_type; k++)
        if (strcmp(pprof_profile_str(a, x->sample_type[k]->type),
                   pprof_profile_str(b, y->sample_type[k]->type)) ||
            strcmp(pprof_profile_str(a, x->sample_type[k]->unit),
                   pprof_profile_str(b, y->sample_type[k]->unit)))
            return false;
    return true;
}

/* Resolve the sample index on the first profile; 2 after printing why. */
int cli_profset_pick(cli_profset *ps, const char *verb, const char *path, const char *name) {
    const pprof_profile *p = ps->p[0];
    const pprof_pb_profile *m = pprof_profile_msg(p);
    if (m->n_sample_type == 0)
        return cli_fail(verb, "%s: profile has no sample types", path);
    ps->idx = pprof_profile_sample_index(p, name);
    if (ps->idx < 0) {
        char names[512] = "";
        for (size_t k = 0; k < m->n_sample_type; k++) {
            size_t len = strlen(names);
            snprintf(names + len, sizeof names - len, "%s%s", k ? ", " : "",
                     pprof_profile_str(p, m->sample_type[k]->type));
        }
        return cli_fail(verb, "sample index \"%s\" must be one of: %s", name, names);
    }
    snprintf(ps->type, sizeof ps->type, "%s", pprof_profile_str(p, m->sample_type[ps->idx]->type));
    snprintf(ps->unit, sizeof ps->unit, "%s", pprof_profile_str(p, m->sample_type[ps->idx]->unit));
    return 0;
}

/*
 * An http:// or https:// profile (a live endpoint, e.g. mapprof's own
 * MAPPROF_HTTP) is fetched with curl, run directly (no shell), into a
 * private temporary file that is read and removed. The CLI has no HTTP
 * client of its own.
 */
static int read_url(const char *verb, const char *url, pprof_profile **out, pprof_error *err) {
    const char *dir = getenv("TMPDIR");
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s/mapprof-fetch.XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(tmp);
    if (fd < 0)
        return cli_fail(verb, "%s: cannot create a temporary file: %s", url, strerror(errno));
    close(fd);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        execlp("curl", "curl", "-sS", "-f", "--max-time", "660", "-o", tmp, "--", url,
               (char *)NULL);
        fprintf(stderr, "mapprof %s: fetching %s needs curl: %s\n", verb, url, strerror(errno));
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        unlink(tmp);
        return cli_fail(verb, "%s: could not fetch the profile (curl status %d)", url,
                        pid < 0         ? -1
                        : WIFEXITED(st) ? WEXITSTATUS(st)
                                        : 128 + WTERMSIG(st));
    }
    int rc = pprof_profile_read_file(tmp, NULL, out, err);
    unlink(tmp);
    if (rc < 0)
        return cli_fail(verb, "%s: %s", url, err->msg);
    return 0;
}

int cli_profset_load(cli_profset *ps, const char *verb, char *const *files, size_t n,
                     const char *index_name) {
    memset(ps, 0, sizeof *ps);
    if (n == 0)
        return cli_fail(verb, "no profile given (try mapprof %s --help)", verb);
    if (!(ps->p = calloc(n, sizeof *ps->p)))
        return cli_fail(verb, "out of memory");
    for (size_t i = 0; i < n; i++) {
        pprof_error err = {0};
        if (!strncmp(files[i], "http://", 7) || !strncmp(files[i], "https://", 8)) {
            if (read_url(verb, files[i], &ps->p[i], &err) != 0)
                return 2;
        } else if (pprof_profile_read_file(files[i], NULL, &ps->p[i], &err) < 0) {
            return cli_fail(verb, "%s", err.msg);
        }
        ps->n = i + 1;
        if (i > 0 && !same_types(ps->p[0], ps->p[i]))
            return cli_fail(verb, "%s: incompatible sample types with %s", files[i], files[0]);
    }
    return cli_profset_pick(ps, verb, files[0], index_name);
}

void cli_profset_free(cli_profset *ps) {
    for (size_t i = 0; i < ps->n; i++)
        pprof_profile_free(ps->p[i]);
    free(ps->p);
    memset(ps, 0, sizeof *ps);
}

int cli_profset_each(const cli_profset *ps, size_t first, size_t count, const cli_filter *f,
                     cli_sample_fn fn, void *ctx) {
    for (size_t i = first; i < first + count && i < ps->n; i++) {
        const pprof_pb_profile *m = pprof_profile_msg(ps->p[i]);
        for (size_t j = 0; j < m->n_sample; j++) {
            const pprof_pb_sample *s = m->sample[j];
            if (!cli_filter_keep(f, ps->p[i], s))
                continue;
            int rc = fn(ctx, ps->p[i], s, s->value[ps->idx]);
            if (rc)
                return rc;
        }
    }
    return 0;
}
