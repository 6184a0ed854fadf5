/*
 * config.c — parse and validate the MAPPROF_* environment in one place.
 *
 * Runs in the shim's constructor, possibly before the real allocator is
 * resolved, so it never allocates: results go into fixed buffers, numbers
 * are parsed by hand, diagnostics are formatted into a stack buffer and
 * handed to a callback (the shim writes them with write(2)).
 *
 * Rule: every variable is either absent (default), valid (used), or invalid
 * (one "mapprof: ..." line naming the variable, the bad value and the
 * default used instead). Nothing here can stop the host program.
 */
#include "shim/config.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static const char *const profile_names[SHIM_PROF_COUNT] = {"heap", "mutex", "block",  "grow",
                                                           "maps", "cpu",   "threads"};

/*
 * "all" (and the default) is every profile that only watches: heap,
 * mutex, block, grow and maps cost time only where the program allocates,
 * locks or grows a map. cpu must be named: its timers interrupt every
 * running thread cpu_hz times a CPU-second, and a signal can cut short a
 * host's poll, epoll_wait or nanosleep with EINTR (signal(7)), which a
 * user asking for "all" must not get without asking (Go does the same:
 * CPU profiling is the one profile a program starts explicitly). threads
 * must be named too: it is a moment's picture, meant for a signal dump or
 * the live endpoint (at exit it would show little but the exiting thread),
 * and each capture signals every thread once.
 */
#define PROFILES_ALL ((1u << SHIM_PROF_CPU) - 1)

const char *shim_profile_name(enum shim_profile_kind k) {
    return (unsigned)k < SHIM_PROF_COUNT ? profile_names[k] : "?";
}

struct parse_ctx {
    shim_diag_fn diag;
    void *ctx;
    int ndiag;
};

/* The value as it may be shown: at most 200 bytes, control and non-ASCII
 * bytes as \xNN, so a value can never forge a second diagnostic line. */
static void printable(const char *val, char *out, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; val[i] && i < 200 && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)val[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    }
    out[o] = 0;
}

static void complain(struct parse_ctx *pc, const char *var, const char *val, const char *why,
                     const char *dflt) {
    char line[1200], shown[1000];
    printable(val, shown, sizeof shown);
    snprintf(line, sizeof line, "mapprof: ignoring %s=\"%s\": %s; using %s", var, shown, why, dflt);
    pc->ndiag++;
    if (pc->diag)
        pc->diag(line, pc->ctx);
}

/* Decimal unsigned integer, no sign, no suffix, no overflow. */
static bool parse_u64(const char *s, uint64_t *out) {
    if (!*s)
        return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static void get_u64(struct parse_ctx *pc, shim_getenv_fn get, const char *var, uint64_t min,
                    uint64_t max, uint64_t dflt, uint64_t *out) {
    *out = dflt;
    const char *s = get(var, pc->ctx);
    if (!s)
        return;
    uint64_t v;
    char dbuf[64], why[96];
    snprintf(dbuf, sizeof dbuf, "%llu", (unsigned long long)dflt);
    if (!parse_u64(s, &v)) {
        complain(pc, var, s, "not a non-negative decimal integer", dbuf);
        return;
    }
    if (v < min || v > max) {
        snprintf(why, sizeof why, "out of range %llu..%llu", (unsigned long long)min,
                 (unsigned long long)max);
        complain(pc, var, s, why, dbuf);
        return;
    }
    *out = v;
}

static void get_profiles(struct parse_ctx *pc, shim_getenv_fn get, unsigned *out) {
    const unsigned all = PROFILES_ALL;
    *out = all;
    const char *s = get("MAPPROF_PROFILES", pc->ctx);
    if (!s)
        return;
    unsigned mask = 0;
    const char *p = s;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        bool known = false;
        if (n == 3 && !strncmp(p, "all", 3)) {
            mask = all;
            known = true;
        }
        for (int k = 0; k < SHIM_PROF_COUNT && !known; k++)
            if (strlen(profile_names[k]) == n && !strncmp(p, profile_names[k], n)) {
                mask |= 1u << k;
                known = true;
            }
        if (!known) {
            char why[128];
            snprintf(why, sizeof why,
                     "unknown profile \"%.*s\" (known: heap,mutex,block,grow,maps,cpu,threads,all)",
                     (int)n, p);
            complain(pc, "MAPPROF_PROFILES", s, why, "all");
            return;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    if (!mask) {
        complain(pc, "MAPPROF_PROFILES", s, "empty list", "all");
        return;
    }
    *out = mask;
}

static const struct {
    const char *name;
    int sig;
} signal_names[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},     {"QUIT", SIGQUIT}, {"USR1", SIGUSR1},
    {"USR2", SIGUSR2}, {"ALRM", SIGALRM},   {"TERM", SIGTERM}, {"CHLD", SIGCHLD},
    {"CONT", SIGCONT}, {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},
    {"URG", SIGURG},   {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM},
    {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},     {"PWR", SIGPWR},
};

/* A signal the shim may catch: not one that means a crash or cannot be caught. */
static bool signal_usable(int sig) {
    switch (sig) {
    case SIGKILL:
    case SIGSTOP:
    case SIGSEGV:
    case SIGBUS:
    case SIGFPE:
    case SIGILL:
    case SIGABRT:
    case SIGTRAP:
    case SIGSYS:
        return false;
    default:
        return sig > 0 && sig < SIGRTMIN ? true : (sig >= SIGRTMIN && sig <= SIGRTMAX);
    }
}

/* var names a signal (PROF, SIGPROF, 27, RTMIN+3); dflt when unset or bad
 * (dflt_text says it in the diagnostic). */
/* The cpu timers' signal: one whose default action ends the process, so
 * that the shim can give a kill() of it exactly that effect (sigown.c);
 * a stop or ignore default could not be emulated from a handler. */
static bool signal_terminates(int s) {
    return s == SIGPROF || s == SIGVTALRM || s == SIGALRM || s == SIGUSR1 || s == SIGUSR2 ||
           (s >= SIGRTMIN && s <= SIGRTMAX);
}

static void get_signal(struct parse_ctx *pc, shim_getenv_fn get, const char *var, int dflt,
                       const char *dflt_text, bool cpu, int *out) {
    const char *use = cpu ? "cpu timers (one that terminates by default: PROF, VTALRM, ALRM, "
                            "USR1, USR2, RTMIN+n)"
                          : "dumps";
    *out = dflt;
    const char *s = get(var, pc->ctx);
    if (!s || !*s)
        return;
    const char *name = !strncmp(s, "SIG", 3) ? s + 3 : s;
    int sig = 0;
    uint64_t v;
    if (parse_u64(s, &v)) {
        sig = v < 1000 ? (int)v : -1;
    } else {
        for (size_t i = 0; i < sizeof signal_names / sizeof signal_names[0]; i++)
            if (!strcmp(name, signal_names[i].name))
                sig = signal_names[i].sig;
        if (!strncmp(name, "RTMIN+", 6) && parse_u64(name + 6, &v) && v <= 32)
            sig = SIGRTMIN + (int)v;
    }
    if (sig == 0) {
        complain(pc, var, s, "not a signal name or number", dflt_text);
        return;
    }
    if (!signal_usable(sig) || (cpu && !signal_terminates(sig))) {
        char why[160];
        snprintf(why, sizeof why, "not a signal mapprof can use for %s", use);
        complain(pc, var, s, why, dflt_text);
        return;
    }
    *out = sig;
}

static void get_out(struct parse_ctx *pc, shim_getenv_fn get, const char *cwd, char *out,
                    size_t cap) {
    const char *s = get("MAPPROF_OUT", pc->ctx);
    const char *dflt = "./mapprof";
    if (s && !*s) {
        complain(pc, "MAPPROF_OUT", s, "empty", dflt);
        s = NULL;
    }
    if (s && s[strlen(s) - 1] == '/') {
        complain(pc, "MAPPROF_OUT", s, "a prefix must not end with '/' (add a name)", dflt);
        s = NULL;
    }
    const char *v = s ? s : dflt;
    int n;
    if (v[0] == '/' || !cwd || !*cwd)
        n = snprintf(out, cap, "%s", v);
    else
        n = snprintf(out, cap, "%s/%s", strcmp(cwd, "/") ? cwd : "",
                     v[0] == '.' && v[1] == '/' ? v + 2 : v);
    if (n < 0 || (size_t)n >= cap - 64) { /* room for ".<pid>.<kind>.pb.gz" */
        complain(pc, "MAPPROF_OUT", v, "path too long", dflt);
        snprintf(out, cap, "%s/mapprof", cwd && *cwd && strlen(cwd) < cap - 80 ? cwd : ".");
    }
}

/* MAPPROF_SYMBOLS: fast (default) or full; see config.h. */
static void get_symbols(struct parse_ctx *pc, shim_getenv_fn get, bool *full) {
    const char *s = get("MAPPROF_SYMBOLS", pc->ctx);
    *full = false;
    if (!s || !strcmp(s, "fast"))
        return;
    if (!strcmp(s, "full"))
        *full = true;
    else
        complain(pc, "MAPPROF_SYMBOLS", s, "expected fast or full", "fast");
}

/* MAPPROF_EMPTY: write (default) or skip; see config.h. */
static void get_empty(struct parse_ctx *pc, shim_getenv_fn get, bool *skip) {
    const char *s = get("MAPPROF_EMPTY", pc->ctx);
    *skip = false;
    if (!s || !strcmp(s, "write"))
        return;
    if (!strcmp(s, "skip"))
        *skip = true;
    else
        complain(pc, "MAPPROF_EMPTY", s, "expected write or skip", "write");
}

/* MAPPROF_TRACE: 1 records the timeline, 0 (default) does not. */
static void get_trace(struct parse_ctx *pc, shim_getenv_fn get, shim_config *cfg) {
    const char *s = get("MAPPROF_TRACE", pc->ctx);
    cfg->trace = false;
    if (s && !strcmp(s, "1"))
        cfg->trace = true;
    else if (s && strcmp(s, "0") && *s)
        complain(pc, "MAPPROF_TRACE", s, "expected 0 or 1", "0 (no trace)");
    get_u64(pc, get, "MAPPROF_TRACE_LOCK_NS", 0, UINT64_C(3600) * 1000000000, SHIM_TRACE_LOCK_NS,
            &cfg->trace_lock_ns);
    uint64_t v;
    get_u64(pc, get, "MAPPROF_TRACE_CAP", 16, 1u << 20, SHIM_TRACE_CAP, &v);
    cfg->trace_cap = (unsigned)v;
}

/* MAPPROF_HTTP, MAPPROF_HTTP_PUBLIC, MAPPROF_HTTP_MAX_SECONDS (http.c). */
static void get_http(struct parse_ctx *pc, shim_getenv_fn get, shim_config *cfg) {
    const char *s = get("MAPPROF_HTTP", pc->ctx);
    if (s && strlen(s) >= sizeof cfg->http)
        complain(pc, "MAPPROF_HTTP", s, "too long", "no live endpoint");
    else if (s)
        snprintf(cfg->http, sizeof cfg->http, "%s", s);
    const char *pub = get("MAPPROF_HTTP_PUBLIC", pc->ctx);
    if (pub && !strcmp(pub, "1"))
        cfg->http_public = true;
    else if (pub && strcmp(pub, "0") && *pub)
        complain(pc, "MAPPROF_HTTP_PUBLIC", pub, "expected 0 or 1", "0 (loopback only)");
    uint64_t v;
    get_u64(pc, get, "MAPPROF_HTTP_MAX_SECONDS", 1, 86400, SHIM_DEFAULT_HTTP_MAX_SECONDS, &v);
    cfg->http_max_seconds = (unsigned)v;
}

int shim_config_parse(shim_config *cfg, shim_getenv_fn get, shim_diag_fn diag, void *ctx,
                      const char *cwd) {
    struct parse_ctx pc = {diag, ctx, 0};
    memset(cfg, 0, sizeof *cfg);
    get_out(&pc, get, cwd, cfg->out, sizeof cfg->out);
    get_profiles(&pc, get, &cfg->profiles);
    get_u64(&pc, get, "MAPPROF_HEAP_RATE", 1, UINT64_C(1) << 40, SHIM_DEFAULT_HEAP_RATE,
            &cfg->heap_rate);
    get_u64(&pc, get, "MAPPROF_MUTEX_RATE", 1, UINT64_C(1) << 32, SHIM_DEFAULT_MUTEX_RATE,
            &cfg->mutex_rate);
    get_u64(&pc, get, "MAPPROF_GROW_RATE", 1, UINT64_C(1) << 32, SHIM_DEFAULT_GROW_RATE,
            &cfg->grow_rate);
    const char *seed = get("MAPPROF_SEED", ctx);
    if (seed && parse_u64(seed, &cfg->seed))
        cfg->seed_set = true;
    else if (seed)
        complain(&pc, "MAPPROF_SEED", seed, "not a non-negative decimal integer",
                 "a random seed (recorded in the profiles' comments)");
    uint64_t v;
    get_u64(&pc, get, "MAPPROF_DEPTH", 1, SHIM_MAX_DEPTH, SHIM_DEFAULT_DEPTH, &v);
    cfg->depth = (unsigned)v;
    get_u64(&pc, get, "MAPPROF_INTERVAL", 0, 86400 * 365, 0, &v);
    cfg->interval = (unsigned)v;
    get_signal(&pc, get, "MAPPROF_SIGNAL", 0, "no signal", false, &cfg->signal);
    get_u64(&pc, get, "MAPPROF_CPU_HZ", 1, SHIM_MAX_CPU_HZ, SHIM_DEFAULT_CPU_HZ, &v);
    cfg->cpu_hz = (unsigned)v;
    get_signal(&pc, get, "MAPPROF_CPU_SIGNAL", SIGPROF, "SIGPROF", true, &cfg->cpu_signal);
    get_signal(&pc, get, "MAPPROF_THREADS_SIGNAL", SIGRTMIN + 29, "RTMIN+29", true,
               &cfg->threads_signal);
    get_symbols(&pc, get, &cfg->full_symbols);
    get_empty(&pc, get, &cfg->skip_empty);
    get_trace(&pc, get, cfg);
    get_http(&pc, get, cfg);
    return pc.ndiag;
}
