/*
 * config.h — the shim's configuration, read from MAPPROF_* environment
 * variables in one place (config.c). Parsing never allocates and never
 * aborts: a bad value produces one "mapprof:" diagnostic and the default.
 */
#ifndef SHIM_CONFIG_H
#define SHIM_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

enum shim_profile_kind {
    SHIM_PROF_HEAP = 0,
    SHIM_PROF_MUTEX,
    SHIM_PROF_BLOCK,
    SHIM_PROF_GROW,
    SHIM_PROF_MAPS,
    SHIM_PROF_CPU,     /* only when named: it sends signals (see config.c) */
    SHIM_PROF_THREADS, /* only when named: a capture signals every thread */
    SHIM_PROF_COUNT
};

#define SHIM_DEFAULT_HEAP_RATE        524288 /* Go's runtime.MemProfileRate */
#define SHIM_DEFAULT_MUTEX_RATE       1
#define SHIM_DEFAULT_GROW_RATE        1
#define SHIM_DEFAULT_DEPTH            64
#define SHIM_MAX_DEPTH                256
#define SHIM_DEFAULT_CPU_HZ           100 /* Go's and gperftools' rate */
#define SHIM_MAX_CPU_HZ               1000
#define SHIM_DEFAULT_HTTP_MAX_SECONDS 600

/* The timeline's defaults (MAPPROF_TRACE_LOCK_NS, MAPPROF_TRACE_CAP). */
#define SHIM_TRACE_LOCK_NS 1000000 /* 1 ms */
#define SHIM_TRACE_CAP     8192    /* events per thread */

typedef struct shim_config {
    char out[PATH_MAX];  /* MAPPROF_OUT: absolute path prefix of the output files */
    unsigned profiles;   /* MAPPROF_PROFILES: bit (1 << shim_profile_kind) per profile */
    uint64_t heap_rate;  /* MAPPROF_HEAP_RATE: mean bytes between samples; 1 = all */
    uint64_t mutex_rate; /* MAPPROF_MUTEX_RATE: 1 in N contention events */
    uint64_t grow_rate;  /* MAPPROF_GROW_RATE: 1 in N grow events */
    uint64_t seed;       /* MAPPROF_SEED: fixed sampler seed */
    bool seed_set;       /*   ... given (else seeds come from the OS) */
    unsigned depth;      /* MAPPROF_DEPTH: frames kept per stack, 1..SHIM_MAX_DEPTH */
    unsigned interval;   /* MAPPROF_INTERVAL: seconds between dumps; 0 = off */
    int signal;          /* MAPPROF_SIGNAL: signal that triggers a dump; 0 = off */
    bool full_symbols;   /* MAPPROF_SYMBOLS=full: also DWARF from separate debug files
                          * (-dbg packages); fast (default): their symbol tables only */
    bool skip_empty;     /* MAPPROF_EMPTY=skip: no file for a profile without samples (one
                          * line says which); write (default): every enabled profile */
    unsigned cpu_hz;     /* MAPPROF_CPU_HZ: cpu samples per CPU-second of a thread */
    int cpu_signal;      /* MAPPROF_CPU_SIGNAL: the cpu timers' signal (SIGPROF) */
    int threads_signal;  /* MAPPROF_THREADS_SIGNAL: the threads capture's (SIGRTMIN+29) */
    /* The timeline (trace.c), written beside the profiles as <out>.<pid>.trace.json. */
    bool trace;             /* MAPPROF_TRACE=1: record it; 0 (default): off */
    uint64_t trace_lock_ns; /* MAPPROF_TRACE_LOCK_NS: shortest lock wait traced */
    unsigned trace_cap;     /* MAPPROF_TRACE_CAP: events kept per thread (ring) */
    /* Live endpoint (http.c): MAPPROF_HTTP is kept as given and parsed by
     * the server, which reports a bad address itself. */
    char http[PATH_MAX];       /* MAPPROF_HTTP: "" = off */
    bool http_public;          /* MAPPROF_HTTP_PUBLIC=1: a non-loopback address is allowed */
    unsigned http_max_seconds; /* MAPPROF_HTTP_MAX_SECONDS: bound on ?seconds= */
} shim_config;

/* Looks up one variable; returns NULL when unset. */
typedef const char *(*shim_getenv_fn)(const char *name, void *ctx);
/* Receives one complete diagnostic line (no trailing newline). */
typedef void (*shim_diag_fn)(const char *line, void *ctx);

/*
 * Fill *cfg from the environment. cwd (may be NULL) makes a relative
 * MAPPROF_OUT absolute, so a later chdir by the program does not move the
 * output. Returns the number of diagnostics emitted (bad values replaced by
 * their defaults).
 */
int shim_config_parse(shim_config *cfg, shim_getenv_fn get, shim_diag_fn diag, void *ctx,
                      const char *cwd);

/* The profile's name as used in file names: "heap", "mutex", ... */
const char *shim_profile_name(enum shim_profile_kind k);

#endif
