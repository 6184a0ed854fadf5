/*
 * live.h — the live endpoint's pieces (internal): http.c runs the server,
 * live.c answers /debug/pprof/, livetext.c renders profiles as text.
 */
#ifndef SHIM_LIVE_H
#define SHIM_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pprof/pprof.h"

struct evhttp;
struct event_base;

/* Kinds of client error: each is said at most once on stderr. */
enum live_err {
    LIVE_ERR_METHOD,
    LIVE_ERR_NOTFOUND,
    LIVE_ERR_PARAM,
    LIVE_ERR_CONNS,
    LIVE_ERR_SLOW,
    LIVE_ERR_BUILD,
    LIVE_ERR_BUSY,
    LIVE_ERR_COUNT
};
void shim_live_note_error(enum live_err kind, const char *line);

/* live.c: route evhttp's requests (called on the server thread). */
void shim_live_attach(struct evhttp *http, struct event_base *base);
/* http.c: the connection on fd may live `seconds` more (a request being
 * served); SIGPIPE raised by writes is consumed. */
void shim_http_set_deadline(int fd, int64_t seconds);
void shim_http_idle(void);

/*
 * livetext.c: a profile as text, Go's debug=1 layouts (heap, mutex and
 * block as runtime/pprof writes them; "<name> profile: total N" grouped
 * stacks for threads; the same with every value for grow and maps) or
 * debug=2 (threads: one block per thread, like Go's goroutine dump).
 * Output goes to emit in pieces. name: the profile's name as requested.
 */
typedef void (*live_emit_fn)(void *ctx, const char *s, size_t n);
void shim_live_text(const pprof_profile *p, const char *name, int debug, live_emit_fn emit,
                    void *ctx);

#endif
