/*
 * live.c — what the live endpoint answers: Go's net/http/pprof paths and
 * parameters, on the server thread of http.c (guard set, shim memory).
 *
 *   /debug/pprof/            HTML index, one row per profile with its count
 *   /debug/pprof/<profile>   debug=0 (default): gzip'd profile.proto,
 *                            application/octet-stream, attachment filename
 *                            "<profile>"; debug>0: text (livetext.c);
 *                            seconds=N (delta-capable profiles): the
 *                            difference of two snapshots N seconds apart,
 *                            filename "<profile>-delta", N <=
 *                            MAPPROF_HTTP_MAX_SECONDS; the wait is a timer
 *                            on the event loop, so other requests are
 *                            served meanwhile (at most 8 deltas at once).
 *   /debug/pprof/profile     the cpu profile over seconds=N (default 30), as
 *                            the same difference; the request opens a
 *                            sampling window when the program does not
 *                            run with the cpu profile
 *   /debug/pprof/threads     every thread's stack now (goroutine: the
 *                            same, Go's name); debug=2 one block per
 *                            thread with its state and lock wait
 *   /debug/pprof/cmdline     the arguments, NUL-separated
 *   /debug/pprof/symbol      GET: "num_symbols: 1"; POST (or a query)
 *                            "0xA+0xB": one "0xA name" line per address
 * GET (and HEAD) only, POST on symbol; 405 otherwise. Unknown names get
 * 404. Errors are text/plain with "X-Go-Pprof: 1" (go tool pprof then
 * prints the body) and their first occurrence per kind one stderr line.
 * Every answer has "X-Content-Type-Options: nosniff".
 *
 * The profiles table below is the one place profile names live: a new
 * kind is one row. A row whose kind is LIVE_NONE answers 501 (not part
 * of this build) rather than anything made up.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shim/live.h"
#include "shim/shim.h"
#include "shim/evapi.h" /* last: libevent's names stand for loaded pointers */

#define LIVE_NONE       (-1)
#define LIVE_MAX_DELTAS 8
#define HTTP_SYMBOL_MAX 4096 /* the body limit http.c sets */

typedef struct live_profile {
    const char *name;
    int kind;    /* enum shim_profile_kind, or LIVE_NONE */
    bool allocs; /* heap shown as allocations */
    bool delta;  /* accepts seconds= */
    bool timed;  /* always a span: seconds= defaults to 30 (Go's /profile) */
    const char *doc;
} live_profile;

/* Sorted by name, as Go's index lists them. */
static const live_profile profiles[] = {
    {"allocs", SHIM_PROF_HEAP, true, true, false,
     "A sampling of all past memory allocations (alloc_space by default)"},
    {"block", SHIM_PROF_BLOCK, false, true, false,
     "Stack traces that led to blocking on condition variables and waits"},
    /* Go's name for the threads profile, so scrapers asking for it get it. */
    {"goroutine", SHIM_PROF_THREADS, false, true, false,
     "Stack traces of all threads (alias of threads)"},
    {"grow", SHIM_PROF_GROW, false, true, false, "Stack traces of Go-style map grows"},
    {"heap", SHIM_PROF_HEAP, false, true, false,
     "A sampling of memory allocations of live objects"},
    {"maps", SHIM_PROF_MAPS, false, false, false, "Live maps by creation site"},
    {"mutex", SHIM_PROF_MUTEX, false, true, false, "Stack traces of holders of contended mutexes"},
    /* The cpu profile over ?seconds= (default 30), like Go's /profile: the
     * request opens a sampling window (cpu.c), so threads are sampled only
     * while some request asks, unless the program runs with the profile. */
    {"profile", SHIM_PROF_CPU, false, true, true,
     "CPU profile. You can specify the duration in the seconds GET parameter"},
    {"threads", SHIM_PROF_THREADS, false, true, false,
     "Stack traces of all current threads, with their state and lock waits"},
};
#define N_PROFILES (sizeof profiles / sizeof profiles[0])

static struct event_base *live_base;
static int deltas_in_flight;
static unsigned said; /* bit per enum live_err already on stderr */

void shim_live_note_error(enum live_err kind, const char *line) {
    if (said & (1u << kind))
        return;
    said |= 1u << kind;
    shim_log("%s", line);
}

/* ---------------------------------------------------------------- replies */

static void common_headers(struct evhttp_request *req, const char *type) {
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", type);
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
}

/* The connection's fd, for http.c's deadlines (-1 if gone). */
static int req_fd(struct evhttp_request *req) {
    struct evhttp_connection *c = evhttp_request_get_connection(req);
    struct bufferevent *bev = c ? evhttp_connection_get_bufferevent(c) : NULL;
    return bev ? (int)bufferevent_getfd(bev) : -1;
}

static void finish(struct evhttp_request *req, int code, const char *reason, struct evbuffer *b) {
    int fd = req_fd(req);
    evhttp_send_reply(req, code, reason, b);
    if (fd >= 0)
        shim_http_set_deadline(fd, 10); /* keep-alive: the next request gets http.c's window */
    shim_http_idle();
}

/* Go's serveError: text/plain, X-Go-Pprof: 1, the message and a newline. */
static void fail(struct evhttp_request *req, int code, const char *reason, enum live_err kind,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void fail(struct evhttp_request *req, int code, const char *reason, enum live_err kind,
                 const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    common_headers(req, "text/plain; charset=utf-8");
    evhttp_add_header(evhttp_request_get_output_headers(req), "X-Go-Pprof", "1");
    struct evbuffer *b = evbuffer_new();
    if (b)
        evbuffer_add_printf(b, "%s\n", msg);
    char line[700];
    snprintf(line, sizeof line, "live endpoint: %d %s (first of its kind; not repeated)", code,
             msg);
    shim_live_note_error(kind, line);
    finish(req, code, reason, b);
    if (b)
        evbuffer_free(b);
}

static void emit_buf(void *ctx, const char *s, size_t n) {
    evbuffer_add(ctx, s, n);
}

/* Serve a built profile (consumed) as proto or text. */
static void send_profile(struct evhttp_request *req, const live_profile *lp, pprof_profile *prof,
                         int debug, bool delta) {
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        pprof_profile_free(prof);
        fail(req, 500, "Internal Server Error", LIVE_ERR_BUILD, "out of memory");
        return;
    }
    if (debug > 0) {
        shim_live_text(prof, lp->name, debug, emit_buf, b);
        common_headers(req, "text/plain; charset=utf-8");
    } else {
        uint8_t *data = NULL;
        size_t len = 0;
        pprof_error err = {0};
        if (pprof_profile_encode(prof, true, &data, &len, &err) != 0) {
            pprof_profile_free(prof);
            evbuffer_free(b);
            fail(req, 500, "Internal Server Error", LIVE_ERR_BUILD, "could not encode profile: %s",
                 err.msg);
            return;
        }
        evbuffer_add(b, data, len);
        pprof_profile_release_bytes(prof, data, len);
        common_headers(req, "application/octet-stream");
        char cd[128];
        snprintf(cd, sizeof cd, "attachment; filename=\"%s%s\"", lp->name,
                 delta && !lp->timed ? "-delta" : "");
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Disposition", cd);
    }
    pprof_profile_free(prof);
    finish(req, 200, "OK", b);
    evbuffer_free(b);
}

static bool still_recording(struct evhttp_request *req) {
    if (shim_recording())
        return true;
    fail(req, 503, "Service Unavailable", LIVE_ERR_BUILD,
         "profiling has finished (the process is exiting)");
    return false;
}

static void build_and_send(struct evhttp_request *req, const live_profile *lp, int debug,
                           shim_snapshot *base, int64_t base_wall) {
    pprof_profile *prof = NULL;
    char msg[256] = "";
    if (!still_recording(req)) {
        if (base)
            shim_snapshot_free(base);
        return;
    }
    int rc = shim_dump_build((enum shim_profile_kind)lp->kind, lp->allocs, base, base_wall, &prof,
                             msg, sizeof msg);
    if (rc != 0) {
        fail(req, 500, "Internal Server Error", LIVE_ERR_BUILD, "could not build profile: %s", msg);
        return;
    }
    send_profile(req, lp, prof, debug, base != NULL);
}

/* ---------------------------------------------------------------- deltas */

typedef struct delta_job {
    struct evhttp_request *req;
    const live_profile *lp;
    shim_snapshot base;
    int64_t base_wall;
    bool cpu_window; /* shim_cpu_live_begin was called: end it */
    int64_t sec;     /* the span asked for */
} delta_job;

static int64_t wall_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void delta_done(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    delta_job *job = arg;
    /* never short of the span asked for (Go's duration is at least N s) */
    int64_t left = job->base_wall + job->sec * 1000000000 - wall_ns();
    if (left > 0) {
        struct timeval tv = {(time_t)(left / 1000000000), (suseconds_t)(left % 1000000000 / 1000)};
        if (event_base_once(live_base, -1, EV_TIMEOUT, delta_done, job, &tv) == 0)
            return;
    }
    deltas_in_flight--;
    build_and_send(job->req, job->lp, 0, &job->base, job->base_wall);
    if (job->cpu_window)
        shim_cpu_live_end();
    free(job);
}

static void start_delta(struct evhttp_request *req, const live_profile *lp, long long sec) {
    if (deltas_in_flight >= LIVE_MAX_DELTAS) {
        fail(req, 503, "Service Unavailable", LIVE_ERR_BUSY,
             "%d delta profiles are being collected already; try again later", LIVE_MAX_DELTAS);
        return;
    }
    delta_job *job = calloc(1, sizeof *job);
    if (!job) {
        fail(req, 500, "Internal Server Error", LIVE_ERR_BUILD, "out of memory");
        return;
    }
    job->req = req;
    job->lp = lp;
    if (lp->timed) {
        if (!shim_cpu_live_begin()) {
            free(job);
            fail(req, 500, "Internal Server Error", LIVE_ERR_PARAM,
                 "Could not enable CPU profiling: the program uses the cpu profile's signal "
                 "(MAPPROF_CPU_SIGNAL chooses another)");
            return;
        }
        job->cpu_window = true;
    }
    job->base_wall = wall_ns();
    job->sec = sec;
    shim_take_snapshot((enum shim_profile_kind)lp->kind, &job->base);
    struct timeval tv = {(time_t)sec, 0};
    if (event_base_once(live_base, -1, EV_TIMEOUT, delta_done, job, &tv) != 0) {
        shim_snapshot_free(&job->base);
        if (job->cpu_window)
            shim_cpu_live_end();
        free(job);
        fail(req, 500, "Internal Server Error", LIVE_ERR_BUILD, "cannot start a timer");
        return;
    }
    deltas_in_flight++;
    int cfd = req_fd(req);
    if (cfd >= 0)
        shim_http_set_deadline(cfd, sec + 10);
}

/* ------------------------------------------------------------ parameters */

/* Go's strconv.Atoi for debug: anything else counts as 0. */
static int param_int(const char *s) {
    if (!s || !*s)
        return 0;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*end || errno || v < 0 || v > 1000)
        return 0;
    return (int)v;
}

static void serve_profile(struct evhttp_request *req, const live_profile *lp, struct evkeyvalq *q) {
    if (lp->kind == LIVE_NONE) {
        fail(req, 501, "Not Implemented", LIVE_ERR_NOTFOUND,
             "profile %s: not available in this build of mapprof", lp->name);
        return;
    }
    int debug = param_int(evhttp_find_header(q, "debug"));
    const char *sec_s = evhttp_find_header(q, "seconds");
    if (lp->timed) {
        long long sec = sec_s ? strtoll(sec_s, NULL, 10) : 0;
        if (sec <= 0)
            sec = 30; /* Go's default, also for a bad value */
        if (sec > (long long)shim_cfg.http_max_seconds) {
            fail(req, 400, "Bad Request", LIVE_ERR_PARAM,
                 "profile duration exceeds the maximum of %u s (MAPPROF_HTTP_MAX_SECONDS)",
                 shim_cfg.http_max_seconds);
            return;
        }
        start_delta(req, lp, sec);
        return;
    }
    if (!sec_s) {
        build_and_send(req, lp, debug, NULL, 0);
        return;
    }
    if (!lp->delta) {
        fail(req, 400, "Bad Request", LIVE_ERR_PARAM,
             "\"seconds\" parameter is not supported for this profile type");
        return;
    }
    char *end;
    errno = 0;
    long long sec = strtoll(sec_s, &end, 10);
    if (!*sec_s || *end || errno || sec <= 0) {
        fail(req, 400, "Bad Request", LIVE_ERR_PARAM,
             "invalid value for \"seconds\" - must be a positive integer");
        return;
    }
    if (debug != 0) {
        fail(req, 400, "Bad Request", LIVE_ERR_PARAM, "seconds and debug params are incompatible");
        return;
    }
    if (sec > (long long)shim_cfg.http_max_seconds) {
        fail(req, 400, "Bad Request", LIVE_ERR_PARAM,
             "\"seconds\" is above the maximum of %u (MAPPROF_HTTP_MAX_SECONDS)",
             shim_cfg.http_max_seconds);
        return;
    }
    start_delta(req, lp, sec);
}

/* ------------------------------------------------------------ the others */

/* Threads of the process, from /proc/self/task. */
static size_t count_threads(void) {
    DIR *d = opendir("/proc/self/task");
    size_t n = 0;
    if (!d)
        return 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void serve_index(struct evhttp_request *req) {
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        fail(req, 500, "Internal Server Error", LIVE_ERR_BUILD, "out of memory");
        return;
    }
    evbuffer_add_printf(b, "<html>\n<head>\n<title>/debug/pprof/</title>\n</head>\n<body>\n"
                           "/debug/pprof/\n<br>\n<p>Set debug=1 as a query parameter to export "
                           "in legacy text format</p>\n<br>\nTypes of profiles available:\n"
                           "<table>\n<thead><td>Count</td><td>Profile</td></thead>\n");
    for (size_t i = 0; i < N_PROFILES; i++) {
        const live_profile *lp = &profiles[i];
        if (lp->kind == LIVE_NONE || lp->timed)
            continue; /* a timed profile (cpu) has no count now: listed below */
        size_t n = 0;
        if (lp->kind == SHIM_PROF_THREADS) {
            n = count_threads(); /* a capture would signal every thread */
        } else {
            shim_snapshot s = {0};
            shim_take_snapshot((enum shim_profile_kind)lp->kind, &s);
            n = s.n;
            shim_snapshot_free(&s);
        }
        evbuffer_add_printf(b, "<tr><td>%zu</td><td><a href='%s?debug=1'>%s</a></td></tr>\n", n,
                            lp->name, lp->name);
    }
    evbuffer_add_printf(b, "<tr><td></td><td><a href='profile'>profile</a></td></tr>\n"
                           "<tr><td></td><td><a href='cmdline'>cmdline</a></td></tr>\n"
                           "<tr><td></td><td><a href='symbol'>symbol</a></td></tr>\n"
                           "</table>\n<br>\n<p>Profile Descriptions:</p>\n<ul>\n");
    for (size_t i = 0; i < N_PROFILES; i++)
        if (profiles[i].kind != LIVE_NONE)
            evbuffer_add_printf(b, "<li><div class=profile-name>%s: </div> %s</li>\n",
                                profiles[i].name, profiles[i].doc);
    evbuffer_add_printf(b, "</ul>\n</body>\n</html>\n");
    common_headers(req, "text/html; charset=utf-8");
    finish(req, 200, "OK", b);
    evbuffer_free(b);
}

static void serve_cmdline(struct evhttp_request *req) {
    struct evbuffer *b = evbuffer_new();
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (!b || fd < 0) {
        if (b)
            evbuffer_free(b);
        if (fd >= 0)
            close(fd);
        fail(req, 500, "Internal Server Error", LIVE_ERR_BUILD, "cannot read the command line");
        return;
    }
    char buf[4096];
    ssize_t r;
    size_t total = 0;
    while ((r = read(fd, buf, sizeof buf)) > 0 && total < (1u << 20)) {
        evbuffer_add(b, buf, (size_t)r);
        total += (size_t)r;
    }
    close(fd);
    /* Go joins os.Args with NUL: no NUL after the last one. */
    size_t len = evbuffer_get_length(b);
    if (len && evbuffer_pullup(b, -1)[len - 1] == 0) {
        struct evbuffer *t = evbuffer_new();
        if (t) {
            evbuffer_remove_buffer(b, t, len - 1);
            evbuffer_free(b);
            b = t;
        }
    }
    common_headers(req, "text/plain; charset=utf-8");
    finish(req, 200, "OK", b);
    evbuffer_free(b);
}

/* Go's /symbol: the request names addresses joined by '+', in the body of
 * a POST or in the query of a GET; each one that resolves gets a line. */
static void serve_symbol(struct evhttp_request *req, const char *query) {
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        fail(req, 500, "Internal Server Error", LIVE_ERR_BUILD, "out of memory");
        return;
    }
    evbuffer_add_printf(b, "num_symbols: 1\n");
    char in[HTTP_SYMBOL_MAX + 1];
    size_t n = 0;
    if (evhttp_request_get_command(req) == EVHTTP_REQ_POST) {
        struct evbuffer *body = evhttp_request_get_input_buffer(req);
        n = evbuffer_remove(body, in, HTTP_SYMBOL_MAX);
        if ((ssize_t)n < 0)
            n = 0;
    } else if (query) {
        n = strlen(query) < HTTP_SYMBOL_MAX ? strlen(query) : HTTP_SYMBOL_MAX;
        memcpy(in, query, n);
    }
    in[n] = 0;
    if (evhttp_request_get_command(req) == EVHTTP_REQ_POST || (query && *query)) {
        char *save = NULL;
        for (char *tok = strtok_r(in, "+", &save); tok; tok = strtok_r(NULL, "+", &save)) {
            char *end;
            errno = 0;
            unsigned long long pc = strtoull(tok, &end, 0);
            if (errno || end == tok || *end)
                continue;
            char name[512];
            if (shim_dump_symbol(pc, name, sizeof name) == 0)
                evbuffer_add_printf(b, "%#llx %s\n", pc, name);
        }
    }
    common_headers(req, "text/plain; charset=utf-8");
    finish(req, 200, "OK", b);
    evbuffer_free(b);
}

/* ---------------------------------------------------------------- routing */

static void route(struct evhttp_request *req, void *arg) {
    (void)arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    static const char prefix[] = "/debug/pprof/";
    if (!path || strncmp(path, prefix, sizeof prefix - 1) != 0) {
        if (path && !strcmp(path, "/debug/pprof")) {
            evhttp_add_header(evhttp_request_get_output_headers(req), "Location", "/debug/pprof/");
            finish(req, 301, "Moved Permanently", NULL);
            return;
        }
        fail(req, 404, "Not Found", LIVE_ERR_NOTFOUND, "404 page not found");
        return;
    }
    const char *name = path + sizeof prefix - 1;
    bool post_ok = !strcmp(name, "symbol");
    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD && !(post_ok && cmd == EVHTTP_REQ_POST)) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                          post_ok ? "GET, HEAD, POST" : "GET, HEAD");
        fail(req, 405, "Method Not Allowed", LIVE_ERR_METHOD, "Method Not Allowed");
        return;
    }
    if (!*name) {
        serve_index(req);
        return;
    }
    if (!strcmp(name, "cmdline")) {
        serve_cmdline(req);
        return;
    }
    if (post_ok) {
        serve_symbol(req, query);
        return;
    }
    for (size_t i = 0; i < N_PROFILES; i++)
        if (!strcmp(name, profiles[i].name)) {
            struct evkeyvalq q = {0}; /* an empty list: first == NULL */
            q.tqh_last = &q.tqh_first;
            if (query && evhttp_parse_query_str(query, &q) != 0) {
                evhttp_clear_headers(&q);
                fail(req, 400, "Bad Request", LIVE_ERR_PARAM, "malformed query string");
                return;
            }
            serve_profile(req, &profiles[i], &q);
            evhttp_clear_headers(&q);
            return;
        }
    fail(req, 404, "Not Found", LIVE_ERR_NOTFOUND, "Unknown profile");
}

void shim_live_attach(struct evhttp *http, struct event_base *base) {
    live_base = base;
    deltas_in_flight = 0;
    evhttp_set_gencb(http, route, NULL);
}
