/*
 * cli.h — the verbs of the `mapprof` command and the helpers they share.
 *
 * main.c dispatches argv[1] to one function per verb, each in its own file
 * (top.c, run.c, check.c, diff.c, merge.c). A verb returns the process exit
 * status: 0 success, 1 a check failed, 2 bad usage or unreadable input
 * (after printing exactly one "mapprof VERB: ..." line to stderr).
 *
 * Shared helpers, one concept per file:
 *   options.c   the option loop shared by the verbs
 *   profsel.c   loading profiles, choosing the sample index, naming frames,
 *               --focus/--ignore filtering
 *   functab.c   flat/cum totals per function name
 *   units.c     printing and parsing values with pprof's units
 *   noise.c     the sampling variance behind a profile's values (diff)
 *   elfinterp.c does an executable have a PT_INTERP (run)
 *   names.c     interned function names (functab, report)
 *   normalize.c frame names made comparable (report)
 *   cluster.c   near-identical stacks grouped (report)
 *   flame.c     the flame graph as a self-contained SVG (report)
 *   timeline.c  a mapprof trace (trace.json) read and drawn as SVG (report)
 */
#ifndef MAPPROF_CLI_H
#define MAPPROF_CLI_H

#include <getopt.h>
#include <stdio.h>
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>

#include "map/gomap.h"
#include "pprof/pprof.h"

int cli_top(int argc, char **argv);
int cli_run(int argc, char **argv);
int cli_check(int argc, char **argv);
int cli_diff(int argc, char **argv);
int cli_merge(int argc, char **argv);
int cli_report(int argc, char **argv);

/* ------------------------------------------------------------ options.c */

/* The selection options of the reading verbs. */
typedef struct cli_select {
    const char *index_name; /* --sample-index, NULL: the default */
    const char *focus, *ignore;
} cli_select;

/* Called with each option that is the verb's own; 0, or 2 after printing. */
typedef int (*cli_option_fn)(void *ctx, int c, const char *arg);

typedef struct cli_verb_options {
    const char *verb, *usage;
    const char *shortopts;         /* getopt's, e.g. "n:h" ("+..." stops at CMD) */
    const struct option *longopts; /* the verb's own, {NULL} terminated; may be NULL */
    cli_select *sel;               /* NULL: the verb takes no selection options */
    cli_option_fn fn;
    void *ctx;
} cli_verb_options;

/* Parse argv: 0 with optind at the operands, -1 after --help (usage
 * printed), 2 after an error (one line printed). */
int cli_options(int argc, char **argv, const cli_verb_options *vo);
/* A non-negative integer option value; 0, or 2 after printing. */
int cli_parse_count(const char *verb, const char *opt, const char *s, long *out);
/* Flush stdout: status, or 2 after printing when the output failed. */
int cli_flush(const char *verb, int status);

/* ------------------------------------------------------------ profsel.c */

/* Print "mapprof VERB: <message>" as one line to stderr; returns 2. */
int cli_fail(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Compiled --focus / --ignore regexes (POSIX extended, unanchored, matched
 * against function names as `mapprof top` prints them). */
typedef struct cli_filter {
    regex_t focus, ignore;
    bool has_focus, has_ignore;
    const char *focus_src, *ignore_src; /* as given, for messages */
} cli_filter;

/* 0, or 2 after printing why a regex does not compile. NULL: no filter. */
int cli_filter_init(cli_filter *f, const char *verb, const char *focus, const char *ignore);
void cli_filter_free(cli_filter *f);
/* Keep a sample: some frame matches focus (if any) and none matches ignore. */
bool cli_filter_keep(const cli_filter *f, const pprof_profile *p, const pprof_pb_sample *s);
/* ", focus \"RE\", ignore \"RE\"" for the filters in use, else "". */
void cli_filter_describe(const cli_filter *f, char *buf, size_t n);

/* A sample's frames as function names, leaf (innermost inlined) first. */
typedef struct cli_frames {
    const pprof_profile *p;
    const pprof_pb_sample *s;
    size_t loc, line; /* next location of s, next line of it */
    char buf[512];    /* names made up for locations without lines */
} cli_frames;

void cli_frames_init(cli_frames *it, const pprof_profile *p, const pprof_pb_sample *s);
/* The next name (valid until the next call), or NULL after the root. */
const char *cli_frames_next(cli_frames *it);

/* Profiles read from several files that share their sample types. */
typedef struct cli_profset {
    pprof_profile **p;
    size_t n;
    int idx;        /* the chosen sample index */
    char type[128]; /* its type and unit */
    char unit[64];
} cli_profset;

/* Read files[0..n), check their sample types agree and resolve the sample
 * index (NULL: the profile's default). 0, or 2 after printing why; call
 * cli_profset_free in both cases. */
int cli_profset_load(cli_profset *ps, const char *verb, char *const *files, size_t n,
                     const char *index_name);
void cli_profset_free(cli_profset *ps);
/* Choose another sample index of a loaded set (NULL: the default), as
 * cli_profset_load does; path names the profile in messages. */
int cli_profset_pick(cli_profset *ps, const char *verb, const char *path, const char *name);

/* Called with each kept sample and its chosen value; nonzero stops. */
typedef int (*cli_sample_fn)(void *ctx, const pprof_profile *p, const pprof_pb_sample *s,
                             int64_t v);
/* fn over the samples of ps->p[first .. first+count) that f keeps; returns
 * the first nonzero result of fn, else 0. */
int cli_profset_each(const cli_profset *ps, size_t first, size_t count, const cli_filter *f,
                     cli_sample_fn fn, void *ctx);

/* -------------------------------------------------------------- names.c */

/* Interned names: dense ids in first-seen order, name[id] their copies. */
typedef struct cli_names {
    gomap *idx; /* name -> id */
    char **name;
    size_t n, cap;
} cli_names;

int cli_names_init(cli_names *t);
/* The id of name, added when new; -ENOMEM. */
int64_t cli_names_id(cli_names *t, const char *name);
void cli_names_free(cli_names *t);

/* ------------------------------------------------------------ functab.c */

typedef struct cli_fnode {
    const char *name;
    int64_t flat, cum;
    uint64_t seen; /* serial of the last sample that added to cum */
} cli_fnode;

/* name -> flat/cum, like pprof's function granularity: flat goes to the
 * leaf frame, cum once to every distinct function on the stack. */
typedef struct cli_functab {
    cli_names names; /* nodes[i] is the node of name id i */
    cli_fnode *nodes;
    size_t n, cap;
    uint64_t serial;
} cli_functab;

int cli_functab_init(cli_functab *t);
/* Charge value v of sample s; -ENOMEM. */
int cli_functab_add(cli_functab *t, const pprof_profile *p, const pprof_pb_sample *s, int64_t v);
void cli_functab_free(cli_functab *t);

/* -------------------------------------------------------------- units.c */

/* pprof's automatic units for bytes and nanoseconds ("12.50MB", "3ms");
 * other units print as plain numbers. */
void cli_format_value(char *buf, size_t n, double value, const char *unit);
/* Parse "10MB", "5ms", "1.5GB", "2s", "1000" for a sample type of `unit`
 * (memory units are powers of 1024, as pprof prints them). 0, or -1 with
 * *why set. */
int cli_parse_value(const char *s, const char *unit, int64_t *out, const char **why);

/* -------------------------------------------------------------- noise.c */

/* How a profile's values were sampled (see noise.c and the man page). */
typedef struct cli_sampling {
    enum { CLI_EXACT, CLI_HEAP_POISSON, CLI_ONE_IN_N } model;
    int count_idx; /* value holding the event/object count behind idx */
    int space_idx; /* heap: the bytes value paired with count_idx */
    int64_t rate;  /* heap: mean bytes between samples; else N */
} cli_sampling;

void cli_sampling_of(const pprof_profile *p, int idx, cli_sampling *out);
/* Variance of value idx of sample s and the raw samples behind it. */
double cli_sample_variance(const cli_sampling *sm, const pprof_pb_sample *s, int idx, double *raw);
/* "heap sampling, mean 524288 bytes" etc. */
void cli_sampling_describe(const cli_sampling *sm, char *buf, size_t n);

/* ---------------------------------------------------------- elfinterp.c */

/* 1 when the ELF file at path has a PT_INTERP (dynamically linked), 0 when
 * it has none (static), 2 when it is not ELF (a script, ...), -errno. */
int cli_elf_has_interp(const char *path);

/* ---------------------------------------------------------- normalize.c */

/* name without gcc's clone suffixes (.cold, .isra.N, ...: the table in
 * normalize.c) into out (truncated to cap); returns the full length. */
size_t cli_normalize_name(const char *name, char *out, size_t cap);

/* ------------------------------------------------------------ cluster.c */

#define CLI_CLUSTER_MAX_DEPTH 64

/* A normalized stack: frame ids (names.c), leaf first, and its value. */
typedef struct cli_stack {
    const uint32_t *frames;
    int n; /* <= CLI_CLUSTER_MAX_DEPTH */
    int64_t value;
    int64_t samples;
} cli_stack;

/* Edit distance over frames, or limit + 1 when it exceeds limit. */
int cli_frame_distance(const uint32_t *a, int na, const uint32_t *b, int nb, int limit);
/* cluster_of[i] = the cluster of stacks[i], numbered 0.. by decreasing
 * leader value; 0 or -ENOMEM. */
int cli_cluster(const cli_stack *stacks, size_t n, int distance, size_t *cluster_of,
                size_t *n_clusters);

/* -------------------------------------------------------------- flame.c */

/* Write stacks (names.c ids, leaf first) as a flame graph: a standalone
 * SVG whose frames are as wide as their values (click zooms, a search box
 * highlights). title and unit label it. 0, or -errno. */
int cli_flame_write(FILE *f, const cli_stack *stacks, size_t n, const cli_names *names,
                    const char *title, const char *unit);
/* s escaped for XML and HTML text and attributes (control characters as
 * '?'), cut to max characters with ".." when longer (SIZE_MAX: whole). */
void cli_xml_text(FILE *f, const char *s, size_t max);

/* ----------------------------------------------------------- timeline.c */

enum { CLI_TL_GROW, CLI_TL_GROW_OPEN, CLI_TL_LOCK };

typedef struct cli_tl_bar {
    int kind;       /* CLI_TL_* */
    int row;        /* grow lane or lock-waiting thread, by kind */
    double ts, dur; /* µs */
    char *label, *title;
} cli_tl_bar;

typedef struct cli_tl_row {
    int64_t tid;
    char *name; /* threads only */
} cli_tl_row;

typedef struct cli_tl_point {
    double ts, v;
} cli_tl_point;

typedef struct cli_timeline {
    char *path;
    char process[64];
    int64_t pid, dropped;
    double t0, t1; /* µs: the process start (or first event) to the dump */
    cli_tl_bar *bars;
    size_t n_bars, n_grows, n_waits;
    cli_tl_row *lanes, *threads;
    size_t n_lanes, n_threads;
    cli_tl_point *heap;
    size_t n_heap;
} cli_timeline;

/* Read a trace; 0, or 2 after one "mapprof report:" line. */
int cli_timeline_load(const char *path, cli_timeline *t);
void cli_timeline_free(cli_timeline *t);
/* The timeline as an inline <svg class="timeline"> element. */
void cli_timeline_svg(FILE *f, const cli_timeline *t);

#endif
