/*
 * report.c — `mapprof report [-o DIR] [--distance N] [--depth N]
 * [--ignore REGEX] [--sample-index NAME] FILE...`: one directory a person
 * reads, from a run's profiles.
 *
 * Files are grouped by profile kind (the `.KIND.pb.gz` of their names,
 * else "profile"; files of one kind must share their sample types). Per
 * kind, every sample's stack is normalized (normalize.c's table: clone
 * suffixes, --ignore, collapsed recursion, the leaf-most --depth frames)
 * and stacks that normalize alike are summed; near-identical ones are
 * clustered (cluster.c, --distance frames, default 1). Written:
 *   clusters.csv       one row per cluster of every kind (RFC 4180)
 *   KIND.folded        "root;...;leaf value" per stack (flamegraph.pl,
 *                      inferno, speedscope)
 *   KIND.flame.svg     the flame graph of the same stacks (flame.c)
 *   index.html         per kind: the profiles' own comments (reason,
 *                      rates, seed), pid, duration, total, top 10
 *                      functions, top clusters, links; no script needed
 *
 * Invariants: the directory appears whole or not at all (written in a
 * temporary sibling, renamed into place; an existing DIR is refused);
 * the output depends only on the input (sorted everywhere); bad input is
 * one "mapprof report:" line and status 2; a kind without samples gets a
 * section that says so.
 *
 * Timelines: traces (<out>.<pid>.trace.json, MAPPROF_TRACE=1) given on the
 * command line or found beside a profile given (same <out>.<pid>) are
 * drawn in index.html (timeline.c) and copied into DIR for ui.perfetto.dev.
 * Non-goals: diffing two runs (mapprof diff), pprof's -lines granularity.
 */
#include "cli/cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REPORT_USAGE                                                                               \
    "usage: mapprof report -o DIR [--distance N] [--depth N] [--ignore REGEX] "                    \
    "[--sample-index NAME] FILE... (profiles .pb.gz, traces .trace.json)"
#define DEFAULT_DISTANCE 1
#define DEFAULT_DEPTH    8
#define MAX_KINDS        16
#define MAX_TRACES       64

typedef struct report_opts {
    const char *out, *ignore_src, *index_name;
    long distance, depth;
    regex_t ignore;
    bool has_ignore;
} report_opts;

/* One kind's stacks: distinct normalized stacks, their totals. */
typedef struct kind_data {
    char name[32];
    char **files;
    size_t n_files;
    cli_profset ps;
    cli_functab fns;
    gomap *idx;        /* frame-id bytes -> index into stacks */
    cli_stack *stacks; /* frames point into `frames` chunks */
    size_t n, cap;
    uint32_t **chunks; /* frame storage, never moved */
    size_t n_chunks, chunk_used;
    int64_t total, samples;
    size_t *cluster_of, n_clusters;
} kind_data;

static int report_option(void *ctx, int c, const char *arg) {
    report_opts *o = ctx;
    switch (c) {
    case 'o':
        o->out = arg;
        return 0;
    case 'D':
        if (cli_parse_count("report", "--distance", arg, &o->distance))
            return 2;
        return o->distance > 8 ? cli_fail("report", "--distance %ld: at most 8", o->distance) : 0;
    case 'd':
        if (cli_parse_count("report", "--depth", arg, &o->depth))
            return 2;
        return o->depth < 1 || o->depth > CLI_CLUSTER_MAX_DEPTH
                   ? cli_fail("report", "--depth %ld: 1 to %d", o->depth, CLI_CLUSTER_MAX_DEPTH)
                   : 0;
    case 'i':
        o->ignore_src = arg;
        return 0;
    default: /* 's' */
        o->index_name = arg;
        return 0;
    }
}

/* The kind in a file name: "x.123.heap.pb.gz" -> "heap"; else "profile". */
static void kind_of(const char *path, char *out, size_t cap) {
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    size_t n = strlen(base);
    snprintf(out, cap, "profile");
    if (n < 7 || strcmp(base + n - 6, ".pb.gz"))
        return;
    const char *end = base + n - 6, *start = end;
    while (start > base && start[-1] >= 'a' && start[-1] <= 'z')
        start--;
    if (start < end && start > base && start[-1] == '.' && (size_t)(end - start) < cap)
        snprintf(out, cap, "%.*s", (int)(end - start), start);
}

static uint32_t *frame_room(kind_data *k, int n) {
    enum { CHUNK = 1 << 16 };
    if (k->n_chunks == 0 || k->chunk_used + (size_t)n > CHUNK) {
        uint32_t **nc = realloc(k->chunks, (k->n_chunks + 1) * sizeof *nc);
        if (!nc)
            return NULL;
        k->chunks = nc;
        if (!(nc[k->n_chunks] = malloc(CHUNK * sizeof **nc)))
            return NULL;
        k->n_chunks++;
        k->chunk_used = 0;
    }
    uint32_t *at = k->chunks[k->n_chunks - 1] + k->chunk_used;
    k->chunk_used += (size_t)n;
    return at;
}

struct add_ctx {
    kind_data *k;
    const report_opts *o;
    cli_names *names;
};

/* Normalize one sample's stack (leaf first) and add its value. */
static int add_sample(void *ctx, const pprof_profile *p, const pprof_pb_sample *s, int64_t v) {
    struct add_ctx *ac = ctx;
    kind_data *k = ac->k;
    if (cli_functab_add(&k->fns, p, s, v) < 0)
        return -ENOMEM;
    uint32_t ids[CLI_CLUSTER_MAX_DEPTH];
    int n = 0;
    cli_frames it;
    cli_frames_init(&it, p, s);
    char buf[512];
    for (const char *name; n < ac->o->depth && (name = cli_frames_next(&it));) {
        cli_normalize_name(name, buf, sizeof buf);
        if (ac->o->has_ignore && regexec(&ac->o->ignore, buf, 0, NULL, 0) == 0)
            continue;
        int64_t id = cli_names_id(ac->names, buf);
        if (id < 0)
            return -ENOMEM;
        if (n > 0 && ids[n - 1] == (uint32_t)id)
            continue; /* collapse direct recursion */
        ids[n++] = (uint32_t)id;
    }
    k->total += v;
    k->samples++;
    uint64_t *slot = gomap_lookup_str(k->idx, (const char *)ids, (size_t)n * sizeof *ids);
    if (slot) {
        k->stacks[*slot].value += v;
        k->stacks[*slot].samples++;
        return 0;
    }
    if (k->n == k->cap) {
        size_t cap = k->cap ? 2 * k->cap : 1024;
        cli_stack *ns = realloc(k->stacks, cap * sizeof *ns);
        if (!ns)
            return -ENOMEM;
        k->stacks = ns;
        k->cap = cap;
    }
    uint32_t *frames = frame_room(k, n ? n : 1);
    void *elem;
    if (!frames)
        return -ENOMEM;
    memcpy(frames, ids, (size_t)n * sizeof *ids);
    if (gomap_assign_str(k->idx, (const char *)frames, (size_t)n * sizeof *ids, &elem) < 0)
        return -ENOMEM;
    uint64_t i = k->n++;
    memcpy(elem, &i, sizeof i);
    k->stacks[i] = (cli_stack){frames, n, v, 1};
    return 0;
}

static void kind_free(kind_data *k) {
    cli_profset_free(&k->ps);
    cli_functab_free(&k->fns);
    gomap_free(k->idx);
    for (size_t i = 0; i < k->n_chunks; i++)
        free(k->chunks[i]);
    free(k->chunks);
    free(k->stacks);
    free(k->cluster_of);
    free(k->files);
}

/* --------------------------------------------------------------- output */

static void csv_field(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* A frame name in a folded line: ';' separates frames and ' ' the value. */
static void put_folded(FILE *f, const char *s) {
    for (; *s; s++)
        fputc(*s == ';' ? ':' : *s == '\n' ? ' ' : *s, f);
}

static void put_html(FILE *f, const char *s) {
    cli_xml_text(f, s, SIZE_MAX);
}

typedef struct cluster_row {
    size_t id, members, leader;
    int64_t value, samples;
} cluster_row;

/* Per-cluster totals of k, in cluster order (which is leader order). */
static cluster_row *cluster_rows(const kind_data *k) {
    cluster_row *r = calloc(k->n_clusters ? k->n_clusters : 1, sizeof *r);
    if (!r)
        return NULL;
    for (size_t c = 0; c < k->n_clusters; c++)
        r[c].id = c;
    for (size_t i = 0; i < k->n; i++) {
        cluster_row *row = &r[k->cluster_of[i]];
        if (row->members == 0 || k->stacks[i].value > k->stacks[row->leader].value ||
            (k->stacks[i].value == k->stacks[row->leader].value && i < row->leader))
            row->leader = i;
        row->members++;
        row->value += k->stacks[i].value;
        row->samples += k->stacks[i].samples;
    }
    return r;
}

static const cli_stack *sorted_stacks_base;
static const cli_names *sorted_names;

static int cmp_folded(const void *x, const void *y) {
    const cli_stack *a = &sorted_stacks_base[*(const size_t *)x];
    const cli_stack *b = &sorted_stacks_base[*(const size_t *)y];
    for (int i = a->n - 1, j = b->n - 1; i >= 0 && j >= 0; i--, j--) {
        int c = strcmp(sorted_names->name[a->frames[i]], sorted_names->name[b->frames[j]]);
        if (c)
            return c;
    }
    return a->n - b->n;
}

static FILE *create(const char *dir, const char *name) {
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    return fd < 0 ? NULL : fdopen(fd, "w");
}

static int finish(FILE *f) {
    int bad = ferror(f);
    return fclose(f) != 0 || bad ? -EIO : 0;
}

static int write_folded(const char *dir, const kind_data *k, const cli_names *names) {
    char name[64];
    snprintf(name, sizeof name, "%.31s.folded", k->name);
    FILE *f = create(dir, name);
    size_t *order = malloc((k->n ? k->n : 1) * sizeof *order);
    if (!f || !order) {
        free(order);
        return f ? (fclose(f), -ENOMEM) : -errno;
    }
    for (size_t i = 0; i < k->n; i++)
        order[i] = i;
    sorted_stacks_base = k->stacks;
    sorted_names = names;
    qsort(order, k->n, sizeof *order, cmp_folded);
    for (size_t i = 0; i < k->n; i++) {
        const cli_stack *s = &k->stacks[order[i]];
        for (int j = s->n - 1; j >= 0; j--) { /* root first */
            put_folded(f, names->name[s->frames[j]]);
            fputs(j ? ";" : "", f);
        }
        fprintf(f, " %lld\n", (long long)s->value);
    }
    free(order);
    return finish(f);
}

static int write_flame(const char *dir, const kind_data *k, const cli_names *names) {
    char name[64], title[160];
    snprintf(name, sizeof name, "%.31s.flame.svg", k->name);
    snprintf(title, sizeof title, "%.31s: %.120s", k->name, k->ps.type);
    FILE *f = create(dir, name);
    if (!f)
        return -errno;
    int rc = cli_flame_write(f, k->stacks, k->n, names, title, k->ps.unit);
    int rc2 = finish(f);
    return rc ? rc : rc2;
}

static int write_csv(const char *dir, kind_data *kinds, size_t nk, const cli_names *names) {
    FILE *f = create(dir, "clusters.csv");
    if (!f)
        return -errno;
    fputs("kind,cluster,samples,value,unit,members,stack\r\n", f);
    for (size_t i = 0; i < nk; i++) {
        cluster_row *r = cluster_rows(&kinds[i]);
        if (!r) {
            fclose(f);
            return -ENOMEM;
        }
        for (size_t c = 0; c < kinds[i].n_clusters; c++) {
            csv_field(f, kinds[i].name);
            fprintf(f, ",%zu,%lld,%lld,", r[c].id, (long long)r[c].samples, (long long)r[c].value);
            csv_field(f, kinds[i].ps.unit);
            fprintf(f, ",%zu,", r[c].members);
            /* The representative stack, leaf first as pprof lists it. */
            char *text = NULL;
            size_t len = 0;
            FILE *m = open_memstream(&text, &len);
            const cli_stack *s = &kinds[i].stacks[r[c].leader];
            for (int j = 0; m && j < s->n; j++)
                fprintf(m, "%s%s", j ? " <- " : "", names->name[s->frames[j]]);
            if (!m || fclose(m) != 0) {
                free(r);
                fclose(f);
                return -ENOMEM;
            }
            csv_field(f, text);
            fputs("\r\n", f);
            free(text);
        }
        free(r);
    }
    return finish(f);
}

static int cmp_fnode(const void *x, const void *y) {
    const cli_fnode *a = x, *b = y;
    int64_t fa = llabs(a->flat), fb = llabs(b->flat);
    if (fa != fb)
        return fa > fb ? -1 : 1;
    return strcmp(a->name, b->name);
}

static void html_value(FILE *f, int64_t v, const char *unit) {
    char buf[64];
    cli_format_value(buf, sizeof buf, (double)v, unit);
    put_html(f, buf);
}

static void html_kind(FILE *f, kind_data *k, const cli_names *names) {
    fprintf(f, "<section id=\"%s\"><h2>%s</h2>\n<p class=\"files\">", k->name, k->name);
    for (size_t i = 0; i < k->n_files; i++) {
        put_html(f, k->files[i]);
        fputs(i + 1 < k->n_files ? ", " : "", f);
    }
    fputs("</p>\n", f);
    const pprof_pb_profile *m = pprof_profile_msg(k->ps.p[0]);
    fputs("<ul class=\"comments\">", f);
    for (size_t i = 0; i < m->n_comment; i++) {
        fputs("<li>", f);
        put_html(f, pprof_profile_str(k->ps.p[0], m->comment[i]));
        fputs("</li>", f);
    }
    fprintf(f, "<li>duration %.3f s, sample type ", (double)m->duration_nanos / 1e9);
    put_html(f, k->ps.type);
    fputs("</li></ul>\n", f);
    if (k->samples == 0) {
        fputs("<p class=\"empty\">No samples in this profile: nothing was recorded for this "
              "kind during the run.</p></section>\n",
              f);
        return;
    }
    fputs("<p>Total ", f);
    html_value(f, k->total, k->ps.unit);
    fprintf(f,
            " in %lld samples, %zu distinct stacks, %zu clusters. <a href=\"%s.flame.svg\">Flame "
            "graph</a> · <a href=\"%s.folded\">folded stacks</a></p>\n",
            (long long)k->samples, k->n, k->n_clusters, k->name, k->name);
    if (k->fns.n > 1)
        qsort(k->fns.nodes, k->fns.n, sizeof *k->fns.nodes, cmp_fnode);
    fputs("<h3>Top functions</h3>\n<table><tr><th>flat</th><th>flat%</th><th>cum</th>"
          "<th>cum%</th><th>function</th></tr>\n",
          f);
    for (size_t i = 0; i < k->fns.n && i < 10; i++) {
        const cli_fnode *nd = &k->fns.nodes[i];
        fputs("<tr><td>", f);
        html_value(f, nd->flat, k->ps.unit);
        fprintf(f, "</td><td>%.2f%%</td><td>", k->total ? 100.0 * nd->flat / k->total : 0.0);
        html_value(f, nd->cum, k->ps.unit);
        fprintf(f, "</td><td>%.2f%%</td><td>", k->total ? 100.0 * nd->cum / k->total : 0.0);
        put_html(f, nd->name);
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n<h3>Top clusters</h3>\n<table><tr><th>cluster</th><th>value</th>"
          "<th>share</th><th>stacks</th><th>representative (leaf first)</th></tr>\n",
          f);
    cluster_row *r = cluster_rows(k);
    for (size_t c = 0; r && c < k->n_clusters && c < 10; c++) {
        fprintf(f, "<tr><td>%zu</td><td>", r[c].id);
        html_value(f, r[c].value, k->ps.unit);
        fprintf(f, "</td><td>%.2f%%</td><td>%zu</td><td>",
                k->total ? 100.0 * r[c].value / k->total : 0.0, r[c].members);
        const cli_stack *s = &k->stacks[r[c].leader];
        for (int j = 0; j < s->n; j++) {
            fputs(j ? " &larr; " : "", f);
            put_html(f, names->name[s->frames[j]]);
        }
        fputs("</td></tr>\n", f);
    }
    free(r);
    fputs("</table></section>\n", f);
}

/* ------------------------------------------------------------ timelines */

static bool is_trace(const char *path) {
    size_t n = strlen(path);
    return n > 11 && !strcmp(path + n - 11, ".trace.json");
}

/* <prefix>.<pid>.trace.json beside a profile <prefix>.<pid>.<kind>.pb.gz
 * (malloc'd), or NULL when there is none. */
static char *sibling_trace(const char *profile) {
    size_t n = strlen(profile);
    if (n < 7 || strcmp(profile + n - 6, ".pb.gz"))
        return NULL;
    const char *kind = profile + n - 6;
    while (kind > profile && kind[-1] != '.')
        kind--;
    const char *pid = kind - 1;
    if (pid <= profile)
        return NULL;
    const char *digits = pid;
    while (digits > profile && digits[-1] >= '0' && digits[-1] <= '9')
        digits--;
    if (digits == pid || digits == profile || digits[-1] != '.')
        return NULL;
    char *t = NULL;
    if (asprintf(&t, "%.*s.trace.json", (int)(pid - profile), profile) < 0)
        return NULL;
    if (access(t, R_OK) != 0) {
        free(t);
        return NULL;
    }
    return t;
}

/* The traces: given ones, then siblings of the profiles, each once. */
static int find_traces(char **files, size_t n, char **traces, size_t *nt) {
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n; i++) {
            char *t = pass == 0 ? (is_trace(files[i]) ? strdup(files[i]) : NULL)
                                : (is_trace(files[i]) ? NULL : sibling_trace(files[i]));
            if (!t)
                continue;
            bool seen = false;
            for (size_t j = 0; j < *nt && !seen; j++)
                seen = !strcmp(traces[j], t);
            if (seen || *nt == MAX_TRACES) {
                free(t);
                if (!seen)
                    return cli_fail("report", "more than %d traces", MAX_TRACES);
                continue;
            }
            traces[(*nt)++] = t;
        }
    return 0;
}

/* The trace itself goes into the report, for ui.perfetto.dev. */
static int copy_trace(const char *dir, const cli_timeline *t, size_t i, char *name, size_t cap) {
    const char *base = strrchr(t->path, '/') ? strrchr(t->path, '/') + 1 : t->path;
    snprintf(name, cap, "%s", base);
    FILE *in = fopen(t->path, "rb");
    FILE *out = in ? create(dir, name) : NULL;
    if (in && !out && errno == EEXIST) { /* the same name from another directory */
        snprintf(name, cap, "%zu.%s", i + 1, base);
        out = create(dir, name);
    }
    char buf[65536];
    size_t k;
    int rc = in && out ? 0 : -errno;
    while (rc == 0 && (k = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, k, out) != k)
            rc = -EIO;
    if (in && ferror(in) && rc == 0)
        rc = -EIO;
    if (in)
        fclose(in);
    if (out && finish(out) != 0 && rc == 0)
        rc = -EIO;
    return rc;
}

static int html_timeline(FILE *f, const char *dir, const cli_timeline *t, size_t i) {
    char copy[256];
    int rc = copy_trace(dir, t, i, copy, sizeof copy);
    if (rc)
        return rc;
    fprintf(f, "<section id=\"timeline-%zu\" class=\"timeline\"><h2>timeline: ", i);
    put_html(f, t->process[0] ? t->process : "process");
    fprintf(f, " (pid %lld)</h2>\n<p class=\"files\">", (long long)t->pid);
    put_html(f, t->path);
    fprintf(f,
            "</p>\n<p>%zu map grows (bars from the grow's start to the end of its evacuation), "
            "%zu lock waits above the trace's threshold, %zu heap points over %.3f s",
            t->n_grows, t->n_waits, t->n_heap, (t->t1 - t->t0) / 1e6);
    if (t->dropped)
        fprintf(f,
                "; <strong>%lld events dropped</strong> (a thread's ring was full: its "
                "oldest events are missing)",
                (long long)t->dropped);
    fputs(". Hover a bar for its details. For zooming, open <a href=\"", f);
    put_html(f, copy);
    fputs("\">", f);
    put_html(f, copy);
    fputs("</a> in <a href=\"https://ui.perfetto.dev\">ui.perfetto.dev</a> (Open trace file) "
          "or chrome://tracing.</p>\n",
          f);
    if (t->n_bars == 0 && t->n_heap == 0)
        fputs("<p class=\"empty\">No events in this trace.</p>\n", f);
    else
        cli_timeline_svg(f, t);
    fputs("</section>\n", f);
    return 0;
}

static int write_html(const char *dir, kind_data *kinds, size_t nk, const cli_names *names,
                      const report_opts *o, const cli_timeline *tl, size_t ntl) {
    FILE *f = create(dir, "index.html");
    if (!f)
        return -errno;
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<title>mapprof report</title>\n<style>body{font:14px sans-serif;margin:2em;"
          "max-width:75em}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid "
          "#ccc;padding:2px 6px;text-align:right}td:last-child,th:last-child{text-align:left;"
          "font-family:monospace}ul.comments{font-family:monospace;font-size:12px}"
          ".files{color:#555}.empty{color:#a40}</style></head>\n<body>\n"
          "<h1>mapprof report</h1>\n<p>",
          f);
    fprintf(f, "%zu profile kind%s; stacks normalized to the leaf-most %ld frames", nk,
            nk == 1 ? "" : "s", o->depth);
    if (o->has_ignore) {
        fputs(" without frames matching <code>", f);
        put_html(f, o->ignore_src);
        fputs("</code>", f);
    }
    fprintf(f, ", clustered within %ld frames (clusters.csv).</p>\n<nav>", o->distance);
    for (size_t i = 0; i < nk; i++)
        fprintf(f, "%s<a href=\"#%s\">%s</a>", i ? " · " : "", kinds[i].name, kinds[i].name);
    for (size_t i = 0; i < ntl; i++)
        fprintf(f, "%s<a href=\"#timeline-%zu\">timeline %lld</a>", i || nk ? " · " : "", i,
                (long long)tl[i].pid);
    fputs("</nav>\n", f);
    for (size_t i = 0; i < ntl; i++) {
        int rc = html_timeline(f, dir, &tl[i], i);
        if (rc) {
            fclose(f);
            return rc;
        }
    }
    for (size_t i = 0; i < nk; i++)
        html_kind(f, &kinds[i], names);
    /* The page's own check that it rendered: tests read this marker. */
    fputs("<script>document.body.dataset.rendered = document.querySelectorAll('section')"
          ".length;\ndocument.body.dataset.timelineBars = document.querySelectorAll("
          "'svg.timeline rect.grow, svg.timeline path.open, svg.timeline rect.lock').length;"
          "</script>\n</body></html>\n",
          f);
    return finish(f);
}

/* ---------------------------------------------------------------- verb */

/* The temporary directory and the files this verb wrote into it. */
static void remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            unlinkat(dirfd(d), e->d_name, 0);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

static int load_kinds(kind_data *kinds, size_t *nk, char **files, size_t n, const report_opts *o,
                      cli_names *names) {
    for (size_t i = 0; i < n; i++) {
        char kind[32];
        kind_of(files[i], kind, sizeof kind);
        size_t k = 0;
        while (k < *nk && strcmp(kinds[k].name, kind))
            k++;
        if (k == *nk) {
            if (*nk == MAX_KINDS)
                return cli_fail("report", "more than %d profile kinds", MAX_KINDS);
            memset(&kinds[k], 0, sizeof kinds[k]);
            snprintf(kinds[k].name, sizeof kinds[k].name, "%s", kind);
            kinds[k].files = calloc(n, sizeof *kinds[k].files);
            (*nk)++;
            if (!kinds[k].files)
                return cli_fail("report", "out of memory");
        }
        kinds[k].files[kinds[k].n_files++] = files[i];
    }
    for (size_t k = 0; k < *nk; k++) {
        kind_data *kd = &kinds[k];
        /* --sample-index applies to the kinds that have it; the others
         * keep their default (a heap index means nothing to a mutex). */
        if (cli_profset_load(&kd->ps, "report", kd->files, kd->n_files, NULL))
            return 2;
        if (o->index_name && pprof_profile_sample_index(kd->ps.p[0], o->index_name) >= 0 &&
            cli_profset_pick(&kd->ps, "report", kd->files[0], o->index_name))
            return 2;
        gomap_config cfg = {.alloc = NULL, .flags = GOMAP_UNPROFILED, .seed = 0};
        if (cli_functab_init(&kd->fns) < 0 ||
            gomap_new(&gomap_type_str_u64, 1024, &cfg, &kd->idx) < 0)
            return cli_fail("report", "out of memory");
        struct add_ctx ac = {kd, o, names};
        if (cli_profset_each(&kd->ps, 0, kd->ps.n, NULL, add_sample, &ac))
            return cli_fail("report", "out of memory");
        kd->cluster_of = malloc((kd->n ? kd->n : 1) * sizeof *kd->cluster_of);
        if (!kd->cluster_of ||
            cli_cluster(kd->stacks, kd->n, (int)o->distance, kd->cluster_of, &kd->n_clusters) < 0)
            return cli_fail("report", "out of memory");
    }
    return 0;
}

static int write_all(const char *dir, kind_data *kinds, size_t nk, const cli_names *names,
                     const report_opts *o, const cli_timeline *tl, size_t ntl) {
    int rc = write_csv(dir, kinds, nk, names);
    for (size_t k = 0; rc == 0 && k < nk; k++)
        if (kinds[k].samples > 0 && (rc = write_folded(dir, &kinds[k], names)) == 0)
            rc = write_flame(dir, &kinds[k], names);
    return rc ? rc : write_html(dir, kinds, nk, names, o, tl, ntl);
}

int cli_report(int argc, char **argv) {
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"distance", required_argument, NULL, 'D'},
        {"depth", required_argument, NULL, 'd'},
        {"ignore", required_argument, NULL, 'i'},
        {"sample-index", required_argument, NULL, 's'},
        {"sample_index", required_argument, NULL, 's'},
        {NULL, 0, NULL, 0},
    };
    report_opts o = {.distance = DEFAULT_DISTANCE, .depth = DEFAULT_DEPTH};
    cli_verb_options vo = {"report", REPORT_USAGE, "o:h", longopts, NULL, report_option, &o};
    int status = cli_options(argc, argv, &vo);
    if (status)
        return status < 0 ? 0 : status;
    if (!o.out)
        return cli_fail("report", "no output directory (-o DIR; %s)", REPORT_USAGE);
    if (optind >= argc)
        return cli_fail("report", "no profile given (%s)", REPORT_USAGE);
    if (o.ignore_src) {
        int rc = regcomp(&o.ignore, o.ignore_src, REG_EXTENDED | REG_NOSUB);
        if (rc != 0)
            return cli_fail("report", "--ignore \"%s\": not a valid regular expression",
                            o.ignore_src);
        o.has_ignore = true;
    }
    struct stat st;
    if (lstat(o.out, &st) == 0) {
        status = cli_fail("report", "%s exists: choose a new directory", o.out);
        goto out_regex;
    }
    kind_data kinds[MAX_KINDS];
    size_t nk = 0, nt = 0, ntl = 0, np = 0;
    char *traces[MAX_TRACES];
    cli_timeline tl[MAX_TRACES];
    char **profiles = calloc((size_t)(argc - optind), sizeof *profiles);
    cli_names names;
    if (!profiles || cli_names_init(&names) < 0) {
        free(profiles);
        status = cli_fail("report", "out of memory");
        goto out_regex;
    }
    for (int i = optind; i < argc; i++)
        if (!is_trace(argv[i]))
            profiles[np++] = argv[i];
    status = find_traces(argv + optind, (size_t)(argc - optind), traces, &nt);
    for (size_t i = 0; status == 0 && i < nt; i++)
        if ((status = cli_timeline_load(traces[i], &tl[i])) == 0)
            ntl++;
    if (status == 0)
        status = load_kinds(kinds, &nk, profiles, np, &o, &names);
    if (status == 0) {
        /* A sibling of DIR, so the rename stays on one file system. */
        char tmpl[4096];
        snprintf(tmpl, sizeof tmpl, "%s.tmp.XXXXXX", o.out);
        if (!mkdtemp(tmpl)) {
            status = cli_fail("report", "cannot create a directory next to %s: %s", o.out,
                              strerror(errno));
        } else {
            int rc = write_all(tmpl, kinds, nk, &names, &o, tl, ntl);
            if (rc == 0 && (chmod(tmpl, 0755) != 0 || rename(tmpl, o.out) != 0))
                rc = -errno;
            if (rc != 0) {
                remove_dir(tmpl); /* no partial output */
                status = cli_fail("report", "cannot write %s: %s", o.out, strerror(-rc));
            } else {
                fprintf(stderr, "mapprof report: wrote %s/index.html\n", o.out);
            }
        }
    }
    for (size_t k = 0; k < nk; k++)
        kind_free(&kinds[k]);
    for (size_t i = 0; i < ntl; i++)
        cli_timeline_free(&tl[i]);
    for (size_t i = 0; i < nt; i++)
        free(traces[i]);
    free(profiles);
    cli_names_free(&names);
out_regex:
    if (o.has_ignore)
        regfree(&o.ignore);
    return status;
}
