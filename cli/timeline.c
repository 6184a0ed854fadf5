/*
 * timeline.c — the report's timeline: a mapprof trace (<out>.<pid>.trace.json,
 * the Chrome Trace Event format the shim writes with MAPPROF_TRACE=1) read
 * with json-c and drawn as one static SVG for index.html.
 *
 * Read: grows (cat "map.grow": X finished, i still evacuating at the dump),
 * lock waits (cat "lock", X), the live-heap counter (cat "heap", C), thread
 * names (M), otherData's times and drop count. Events of other categories
 * (a trace from another tool) are ignored; a file that is not JSON, or has
 * no traceEvents list, or an event of ours without its fields, is refused
 * with one line (status 2). Files above 1 GiB are refused before reading.
 *
 * Drawn, on one time axis from the process start (or the first event) to
 * the dump: a row per grow lane (bars labelled "B from→to" when wide
 * enough, every bar with a tooltip naming the map type, entries, bytes,
 * duration and how the grow ended), a row per thread that waited on a lock
 * (bars with the lock and the wait), the heap counter as a step line with
 * its peak, ticks at 1-2-5 steps. Bars are at least 1 px wide so a grow of
 * a few µs in a run of seconds stays visible; in a trace of more than
 * THIN_BARS bars, consecutive bars of a row less than a pixel apart are
 * drawn as one (data-count, a tooltip with their count, span and sum), so
 * a flight recorder's 100,000 events make a page of thousands of shapes. No script: the page works
 * without one; <title> tooltips are the browser's. Every bar carries its
 * event's values (data-tid, data-ts, data-dur in µs; a merged bar its
 * span) so a test can check them against the trace.
 * Non-goals: zooming (open the trace in ui.perfetto.dev for that), flows.
 */
#include "cli/cli.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_BYTES ((off_t)1 << 30)
#define MAX_US    1e15 /* 31 years: times beyond are not a process's */
#define WIDTH     1100.0
#define LEFT      150.0 /* row names */
#define ROW_H     18.0
#define HEAP_H    70.0
#define THIN_BARS 2000 /* above this many bars, those less than a pixel apart merge */

static char *dup_str(const char *s) {
    return strdup(s ? s : "");
}

static int fail_at(const char *path, const char *what) {
    return cli_fail("report", "%s: %s", path, what);
}

static int push(void **arr, size_t *n, size_t *cap, size_t size) {
    if (*n == *cap) {
        size_t nc = *cap ? 2 * *cap : 64;
        void *na = realloc(*arr, nc * size);
        if (!na)
            return -1;
        *arr = na;
        *cap = nc;
    }
    memset((char *)*arr + *n * size, 0, size);
    (*n)++;
    return 0;
}

/* Row for tid in rows (added when new); -1 on no memory. */
static int row_of(cli_tl_row **rows, size_t *n, size_t *cap, int64_t tid) {
    for (size_t i = 0; i < *n; i++)
        if ((*rows)[i].tid == tid)
            return (int)i;
    if (push((void **)rows, n, cap, sizeof **rows) < 0)
        return -1;
    (*rows)[*n - 1].tid = tid;
    return (int)(*n - 1);
}

static bool get_num(json_object *o, const char *key, double *out) {
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v))
        return false;
    enum json_type t = json_object_get_type(v);
    if (t != json_type_int && t != json_type_double)
        return false;
    *out = json_object_get_double(v);
    return isfinite(*out);
}

static const char *get_str(json_object *o, const char *key) {
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

void cli_timeline_free(cli_timeline *t) {
    for (size_t i = 0; i < t->n_bars; i++) {
        free(t->bars[i].label);
        free(t->bars[i].title);
    }
    for (size_t i = 0; i < t->n_threads; i++)
        free(t->threads[i].name);
    free(t->bars);
    free(t->threads);
    free(t->lanes);
    free(t->heap);
    free(t->path);
    memset(t, 0, sizeof *t);
}

/* Names of threads (M thread_name), applied once every event is read. */
typedef struct tname {
    int64_t tid;
    const char *name;
} tname;

static int add_bar(cli_timeline *t, size_t *cap, int kind, int row, double ts, double dur,
                   const char *label, const char *title) {
    if (push((void **)&t->bars, &t->n_bars, cap, sizeof *t->bars) < 0)
        return -1;
    cli_tl_bar *b = &t->bars[t->n_bars - 1];
    *b = (cli_tl_bar){kind, row, ts, dur, dup_str(label), dup_str(title)};
    return b->label && b->title ? 0 : -1;
}

static void grow_texts(json_object *e, json_object *args, double dur, bool open, char *label,
                       size_t lcap, char *title, size_t tcap) {
    double from = 0, to = 0, entries = 0, bytes = 0;
    get_num(args, "from_B", &from);
    get_num(args, "to_B", &to);
    get_num(args, "entries", &entries);
    get_num(args, "bytes", &bytes);
    const char *type = get_str(args, "type"), *end = get_str(args, "end");
    const char *name = get_str(e, "name");
    snprintf(label, lcap, "B %.0f\u2192%.0f", from, to);
    if (open)
        snprintf(title, tcap, "%s\nstarted with %.0f entries, new array %.0f bytes\n%s",
                 name ? name : "grow", entries, bytes, end ? end : "evacuating at the dump");
    else
        snprintf(title, tcap, "%s%s%s\n%.0f entries, new array %.0f bytes\n%.3f ms, %s",
                 name ? name : "grow", type && *type ? "\nmap type " : "", type ? type : "",
                 entries, bytes, dur / 1000, end ? end : "");
}

int cli_timeline_load(const char *path, cli_timeline *t) {
    memset(t, 0, sizeof *t);
    struct stat st;
    if (stat(path, &st) != 0)
        return cli_fail("report", "%s: %s", path, strerror(errno));
    if (st.st_size > MAX_BYTES)
        return fail_at(path, "trace larger than 1 GiB");
    json_object *doc = json_object_from_file(path);
    if (!doc)
        return cli_fail("report", "%s: not a JSON trace (%s)", path, json_util_get_last_err());
    json_object *evs = NULL, *other = NULL;
    int status = 0;
    if (!json_object_is_type(doc, json_type_object) ||
        !json_object_object_get_ex(doc, "traceEvents", &evs) ||
        !json_object_is_type(evs, json_type_array)) {
        status = fail_at(path, "no traceEvents list (not a Chrome Trace Event file)");
        goto out;
    }
    t->path = strdup(path);
    size_t bcap = 0, lcap = 0, tcap = 0, hcap = 0, ncap = 0, n_names = 0;
    tname *names = NULL;
    t->t0 = INFINITY;
    t->t1 = -INFINITY;
    size_t n = json_object_array_length(evs);
    for (size_t i = 0; i < n && status == 0; i++) {
        json_object *e = json_object_array_get_idx(evs, i), *args = NULL;
        if (!json_object_is_type(e, json_type_object))
            continue;
        const char *ph = get_str(e, "ph"), *cat = get_str(e, "cat"), *name = get_str(e, "name");
        double ts = 0, dur = 0, tid = 0, pid = 0;
        if (!ph)
            continue;
        json_object_object_get_ex(e, "args", &args);
        if (!strcmp(ph, "M")) {
            const char *v = args ? get_str(args, "name") : NULL;
            if (name && v && get_num(e, "tid", &tid)) {
                if (!strcmp(name, "process_name")) {
                    snprintf(t->process, sizeof t->process, "%s", v);
                    if (get_num(e, "pid", &pid))
                        t->pid = (int64_t)pid;
                } else if (!strcmp(name, "thread_name")) {
                    if (push((void **)&names, &n_names, &ncap, sizeof *names) < 0)
                        status = cli_fail("report", "out of memory");
                    else
                        names[n_names - 1] = (tname){(int64_t)tid, v};
                }
            }
            continue;
        }
        if (!cat || (strcmp(cat, "map.grow") && strcmp(cat, "lock") && strcmp(cat, "heap")))
            continue; /* not ours */
        bool x = !strcmp(ph, "X");
        if (!get_num(e, "ts", &ts) || !get_num(e, "tid", &tid) || (x && !get_num(e, "dur", &dur)) ||
            ts < 0 || ts > MAX_US || dur < 0 || dur > MAX_US ||
            (strcmp(cat, "heap") && (!args || !json_object_is_type(args, json_type_object)))) {
            char msg[128];
            snprintf(msg, sizeof msg,
                     "event %zu (%s): ts, tid, dur or args missing or out of range", i, cat);
            status = fail_at(path, msg);
            break;
        }
        if (ts < t->t0)
            t->t0 = ts;
        if (ts + dur > t->t1)
            t->t1 = ts + dur;
        char label[96], title[512];
        if (!strcmp(cat, "map.grow") && (x || !strcmp(ph, "i"))) {
            int row = row_of(&t->lanes, &t->n_lanes, &lcap, (int64_t)tid);
            grow_texts(e, args, dur, !x, label, sizeof label, title, sizeof title);
            if (row < 0 || add_bar(t, &bcap, x ? CLI_TL_GROW : CLI_TL_GROW_OPEN, row, ts, dur,
                                   label, title) < 0)
                status = cli_fail("report", "out of memory");
            t->n_grows++;
        } else if (!strcmp(cat, "lock") && x) {
            int row = row_of(&t->threads, &t->n_threads, &tcap, (int64_t)tid);
            const char *lock = get_str(args, "lock");
            snprintf(label, sizeof label, "%.1f ms", dur / 1000);
            snprintf(title, sizeof title, "%s\nlock %s\nwaited %.3f ms", name ? name : "lock wait",
                     lock ? lock : "?", dur / 1000);
            if (row < 0 || add_bar(t, &bcap, CLI_TL_LOCK, row, ts, dur, label, title) < 0)
                status = cli_fail("report", "out of memory");
            t->n_waits++;
        } else if (!strcmp(cat, "heap") && !strcmp(ph, "C")) {
            double v = 0;
            if (!args || !get_num(args, "bytes", &v)) {
                status = fail_at(path, "heap counter without args.bytes");
                break;
            }
            if (push((void **)&t->heap, &t->n_heap, &hcap, sizeof *t->heap) < 0)
                status = cli_fail("report", "out of memory");
            else
                t->heap[t->n_heap - 1] = (cli_tl_point){ts, v};
        }
    }
    for (size_t i = 0; status == 0 && i < t->n_threads; i++) {
        const char *nm = NULL;
        for (size_t j = 0; j < n_names; j++)
            if (names[j].tid == t->threads[i].tid)
                nm = names[j].name;
        char buf[96];
        snprintf(buf, sizeof buf, "%s (%lld)", nm ? nm : "thread", (long long)t->threads[i].tid);
        if (!(t->threads[i].name = strdup(buf)))
            status = cli_fail("report", "out of memory");
    }
    free(names);
    double v;
    if (status == 0 && json_object_object_get_ex(doc, "otherData", &other) &&
        json_object_is_type(other, json_type_object)) {
        if (get_num(other, "start_us", &v) && v >= 0 && v < t->t0)
            t->t0 = v;
        if (get_num(other, "dump_us", &v) && v <= MAX_US && v > t->t1)
            t->t1 = v;
        if (get_num(other, "dropped_events", &v))
            t->dropped = (int64_t)v;
        if (get_num(other, "pid", &v) && !t->pid)
            t->pid = (int64_t)v;
    }
    if (!isfinite(t->t0) || !isfinite(t->t1) || t->t1 < t->t0)
        t->t0 = t->t1 = 0;
out:
    json_object_put(doc);
    if (status)
        cli_timeline_free(t);
    return status;
}

/* ------------------------------------------------------------------ SVG */

/* A tick step of 1, 2 or 5 x 10^k µs giving at most 10 ticks over span. */
static double tick_step(double span) {
    double p = pow(10, floor(log10(span / 10)));
    for (int i = 0; i < 40; i++, p *= 10) /* spans are at most MAX_US */
        for (int m = 1; m <= 5; m += m == 1 ? 1 : 3)
            if (span / (m * p) <= 10)
                return m * p;
    return span;
}

static void time_label(char *buf, size_t n, double us) {
    if (us >= 1e6 || us == 0)
        snprintf(buf, n, "%g s", us / 1e6);
    else if (us >= 1e3)
        snprintf(buf, n, "%g ms", us / 1e3);
    else
        snprintf(buf, n, "%g \u00b5s", us);
}

/* Bars by row (lanes, then threads), then time. */
static const cli_tl_bar *sort_base;

static int cmp_bar(const void *x, const void *y) {
    size_t i = *(const size_t *)x, j = *(const size_t *)y;
    const cli_tl_bar *a = &sort_base[i], *b = &sort_base[j];
    int la = a->kind == CLI_TL_LOCK, lb = b->kind == CLI_TL_LOCK;
    if (la != lb)
        return la - lb;
    if (a->row != b->row)
        return a->row < b->row ? -1 : 1;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    return i < j ? -1 : i > j;
}

void cli_timeline_svg(FILE *f, const cli_timeline *t) {
    double span = t->t1 > t->t0 ? t->t1 - t->t0 : 1, plot = WIDTH - LEFT - 10;
    double scale = plot / span;
    size_t rows = t->n_lanes + t->n_threads;
    double heap_top = 30 + (double)rows * ROW_H + 10;
    double height = heap_top + (t->n_heap ? HEAP_H + 20 : 0) + 10;
    fprintf(f,
            "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
            "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" data-t0=\"%.3f\" data-t1=\"%.3f\" "
            "data-scale=\"%.9f\" font-family=\"sans-serif\" font-size=\"11\">\n",
            WIDTH, height, WIDTH, height, t->t0, t->t1, scale);
    fputs("<style>.grow{fill:#3a7bd5}.open{fill:#e08a00}.lock{fill:#c0392b;stroke:#fff;stroke-"
          "width:.5}.tick{stroke:#ccc}"
          ".row{fill:#f4f4f4}text.bar{fill:#fff;font-size:10px}</style>\n",
          f);
    /* Axis: ticks from the start, labels relative to it. */
    double step = tick_step(span);
    for (double x = 0; x <= span + 1e-9; x += step) {
        char buf[32];
        time_label(buf, sizeof buf, x);
        fprintf(f,
                "<line class=\"tick\" x1=\"%.2f\" y1=\"22\" x2=\"%.2f\" y2=\"%.2f\"/>"
                "<text class=\"axis\" x=\"%.2f\" y=\"16\" text-anchor=\"middle\">%s</text>\n",
                LEFT + x * scale, LEFT + x * scale, heap_top + (t->n_heap ? HEAP_H : 0),
                LEFT + x * scale, buf);
    }
    for (size_t r = 0; r < rows; r++) {
        double y = 30 + (double)r * ROW_H;
        char name[64];
        if (r < t->n_lanes)
            snprintf(name, sizeof name, r ? "map grows %zu" : "map grows", r + 1);
        fprintf(f, "<rect class=\"row\" x=\"%.0f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>",
                LEFT, y, plot, ROW_H - 2);
        fprintf(f, "<text x=\"4\" y=\"%.1f\">", y + ROW_H - 6);
        cli_xml_text(f, r < t->n_lanes ? name : t->threads[r - t->n_lanes].name, 28);
        fputs("</text>\n", f);
    }
    size_t *order = malloc((t->n_bars ? t->n_bars : 1) * sizeof *order);
    for (size_t i = 0; order && i < t->n_bars; i++)
        order[i] = i;
    if (order) {
        sort_base = t->bars;
        qsort(order, t->n_bars, sizeof *order, cmp_bar);
    }
    bool thin = t->n_bars > THIN_BARS;
    for (size_t i = 0; i < t->n_bars;) {
        const cli_tl_bar *b = &t->bars[order ? order[i] : i];
        size_t row = b->kind == CLI_TL_LOCK ? t->n_lanes + (size_t)b->row : (size_t)b->row;
        double x = LEFT + (b->ts - t->t0) * scale, end = b->ts + b->dur, sum = b->dur;
        double y = 30 + (double)row * ROW_H;
        size_t j = i + 1;
        /* Dense traces: bars of a row less than a pixel apart become one. */
        while (thin && order && b->kind != CLI_TL_GROW_OPEN && j < t->n_bars) {
            const cli_tl_bar *n = &t->bars[order[j]];
            if (n->kind != b->kind || n->row != b->row || (n->ts - end) * scale >= 1)
                break;
            end = n->ts + n->dur > end ? n->ts + n->dur : end;
            sum += n->dur;
            j++;
        }
        double w = (end - b->ts) * scale;
        const char *cls = b->kind == CLI_TL_LOCK   ? "lock"
                          : b->kind == CLI_TL_GROW ? "grow"
                                                   : "open";
        fprintf(f, "<g class=\"%s\" data-tid=\"%lld\" data-ts=\"%.3f\" data-dur=\"%.3f\"", cls,
                (long long)(b->kind == CLI_TL_LOCK ? t->threads : t->lanes)[b->row].tid, b->ts,
                end - b->ts);
        if (j - i > 1)
            fprintf(f, " data-count=\"%zu\"><title>%zu %s from %.3f ms to %.3f ms, %.3f ms in all",
                    j - i, j - i, b->kind == CLI_TL_LOCK ? "lock waits" : "map grows",
                    (b->ts - t->t0) / 1000, (end - t->t0) / 1000, sum / 1000);
        else {
            fputs("><title>", f);
            cli_xml_text(f, b->title, 500);
        }
        fputs("</title>", f);
        if (b->kind == CLI_TL_GROW_OPEN)
            fprintf(f, "<path class=\"open\" d=\"M%.2f %.1f l5 %.1f h-10 z\"/>", x, y + 2,
                    ROW_H - 6);
        else
            fprintf(f, "<rect class=\"%s\" x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\"/>",
                    cls, x, y + 1, w < 1 ? 1 : w, ROW_H - 4);
        /* A label where it fits (about 6 px a character). */
        if (j - i == 1 && b->kind != CLI_TL_GROW_OPEN && w > 6.0 * (double)strlen(b->label) + 6) {
            fprintf(f, "<text class=\"bar\" x=\"%.2f\" y=\"%.1f\">", x + 3, y + ROW_H - 6);
            cli_xml_text(f, b->label, 40);
            fputs("</text>", f);
        }
        fputs("</g>\n", f);
        i = j;
    }
    free(order);
    if (t->n_heap) {
        double peak = 0;
        for (size_t i = 0; i < t->n_heap; i++)
            peak = t->heap[i].v > peak ? t->heap[i].v : peak;
        double ys = peak > 0 ? HEAP_H / peak : 0, base = heap_top + HEAP_H;
        char pk[64];
        cli_format_value(pk, sizeof pk, peak, "bytes");
        fprintf(f, "<text x=\"4\" y=\"%.1f\">live heap</text>", heap_top + 12);
        fprintf(f, "<text x=\"4\" y=\"%.1f\">peak ", heap_top + 26);
        cli_xml_text(f, pk, 40);
        fputs("</text>\n<polyline class=\"heap\" fill=\"none\" stroke=\"#27ae60\" "
              "stroke-width=\"1.5\" points=\"",
              f);
        double last_y = base;
        for (size_t i = 0; i < t->n_heap; i++) {
            double x = LEFT + (t->heap[i].ts - t->t0) * scale, y = base - t->heap[i].v * ys;
            fprintf(f, "%s%.2f,%.2f %.2f,%.2f", i ? " " : "", x, last_y, x, y);
            last_y = y;
        }
        fprintf(f, " %.2f,%.2f\"/>\n", LEFT + plot, last_y);
        fprintf(f, "<line class=\"tick\" x1=\"%.0f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", LEFT,
                base, LEFT + plot, base);
    }
    fputs("</svg>\n", f);
}
