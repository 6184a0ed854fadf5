/*
 * http.c — the live endpoint's server: MAPPROF_HTTP's address, the
 * listening socket, the server thread, and every bound a client can push
 * against. What is served is live.c's business.
 *
 * Address (MAPPROF_HTTP): "PORT" (127.0.0.1), "127.0.0.1:PORT",
 * "localhost:PORT", "[::1]:PORT", any numeric "IPv4:PORT" or "[IPv6]:PORT"
 * (refused unless loopback or MAPPROF_HTTP_PUBLIC=1; no name lookups in a
 * preloaded library), port 0 = any free port, or "unix:PATH" (%p in PATH =
 * the pid). The socket is made in the constructor, so the bound address is
 * known (one stderr line, and <MAPPROF_OUT>.<pid>.http written atomically)
 * before main runs. A unix socket is bound inside a fresh 0700 directory,
 * chmod'ed 0600 there and moved into place with renameat2(NOREPLACE): it
 * never follows or replaces anything; only a stale socket (connect
 * refused) at the path is removed first.
 *
 * Thread: libevent's evhttp (opened with dlopen only now: evapi.h) on one
 * thread of the shim's, created with every
 * signal blocked (the host's signals never land here) and holding the guard
 * and shim_own_alloc for life: nothing it does is sampled, and every
 * allocation it makes (libevent's, pprof/'s, libdw's) comes from mem.c,
 * never the host's arenas. That is also why event_set_mem_functions is not
 * used: libevent is a shared library, and a host that uses libevent itself
 * would have its own allocations rerouted by that process-wide hook.
 * Likewise no other process-wide libevent setting is touched.
 *
 * Bounds: 16 connections (accepting pauses at the limit; each accepted
 * connection is tracked by fd and socket inode, since evhttp reports no
 * closes), 8 KiB of request line and headers (which also bounds the header
 * count), 4 KiB of body, 10 s per read or write, and an absolute deadline
 * per connection (10 s to send a request, and the request's own seconds
 * while it is served) enforced by shutdown(2), so a trickling client is
 * dropped however it paces its bytes. SIGPIPE: libevent writes with
 * writev/send without MSG_NOSIGNAL, and a broken connection raises a
 * thread-directed SIGPIPE on this thread, where it is blocked; it is
 * consumed with sigtimedwait so it never reaches the host.
 *
 * fork: the child never touches the parent's libevent state (the epoll
 * instance is shared, and freeing the base would unregister the parent's
 * events); it only closes the listening socket and the tracked
 * connections. It starts its own server only when the address is port 0 or
 * a unix path with %p (anything else would collide with the parent's).
 * Non-goals: TLS, authentication, HTTP/2, stopping the server before exit.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "shim/live.h"
#include "shim/shim.h"
#include "shim/evapi.h" /* last: libevent's names stand for loaded pointers */

#define HTTP_MAX_CONNS      16
#define HTTP_HEADERS_MAX    8192
#define HTTP_BODY_MAX       4096
#define HTTP_IO_TIMEOUT     10 /* seconds per read or write */
#define HTTP_REQUEST_WINDOW 10 /* seconds a connection has to send a request */

typedef struct conn_slot {
    int fd; /* -1: free */
    ino_t ino;
    int64_t deadline_ns;
} conn_slot;

static struct {
    int fd; /* listening socket, -1 when none */
    int family;
    char shown[PATH_MAX + 16]; /* the address as printed */
    char unix_path[PATH_MAX];  /* unix socket path, "" for TCP */
    bool per_process;          /* port 0 or %p: a fork child may serve too */
    struct event_base *base;
    struct evconnlistener *lev;
    struct event *post_accept, *sweep;
    conn_slot slots[HTTP_MAX_CONNS];
    struct bufferevent *pending[HTTP_MAX_CONNS + 4];
    int npending;
    bool paused;
    char cwd[PATH_MAX];
} srv = {.fd = -1};

/* --------------------------------------------------------------- address */

typedef struct http_addr {
    struct sockaddr_storage ss;
    socklen_t len;
    bool loopback;
    bool is_unix;
    bool any_port;
    char path[PATH_MAX]; /* unix */
} http_addr;

static bool parse_port(const char *s, unsigned *port) {
    if (!*s || strlen(s) > 5)
        return false;
    unsigned v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        v = v * 10 + (unsigned)(*s - '0');
    }
    if (v > 65535)
        return false;
    *port = v;
    return true;
}

/* Expand %p (pid) and %% in a unix path; relative paths are taken from the
 * start-up directory. */
static bool expand_path(const char *in, const char *cwd, char *out, size_t cap, bool *has_pid) {
    char tmp[PATH_MAX];
    size_t o = 0;
    *has_pid = false;
    for (const char *p = in; *p; p++) {
        char num[16];
        const char *add = NULL;
        size_t n = 1;
        if (p[0] == '%' && p[1] == 'p') {
            snprintf(num, sizeof num, "%d", (int)getpid());
            add = num;
            n = strlen(num);
            p++;
            *has_pid = true;
        } else if (p[0] == '%' && p[1] == '%') {
            add = "%";
            p++;
        } else {
            add = p;
        }
        if (o + n >= sizeof tmp)
            return false;
        memcpy(tmp + o, add, n);
        o += n;
    }
    tmp[o] = 0;
    int w = tmp[0] == '/' || !cwd ? snprintf(out, cap, "%s", tmp)
                                  : snprintf(out, cap, "%s/%s", cwd, tmp);
    return w > 0 && (size_t)w < cap;
}

/* Returns NULL, or why spec is not an address. */
static const char *parse_addr(const char *spec, const char *cwd, http_addr *a) {
    memset(a, 0, sizeof *a);
    if (!strncmp(spec, "unix:", 5)) {
        bool has_pid;
        if (!spec[5])
            return "empty unix socket path";
        if (!expand_path(spec + 5, cwd, a->path, sizeof a->path, &has_pid) ||
            strlen(a->path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
            return "unix socket path too long (at most 107 bytes)";
        a->is_unix = true;
        a->loopback = true;
        a->any_port = has_pid;
        return NULL;
    }
    char host[64] = "127.0.0.1";
    const char *port_s = spec;
    if (spec[0] == '[') {
        const char *e = strchr(spec, ']');
        if (!e || e[1] != ':' || (size_t)(e - spec - 1) >= sizeof host)
            return "expected [IPv6]:PORT";
        memcpy(host, spec + 1, (size_t)(e - spec - 1));
        host[e - spec - 1] = 0;
        port_s = e + 2;
    } else if (strchr(spec, ':')) {
        const char *c = strrchr(spec, ':');
        if ((size_t)(c - spec) >= sizeof host)
            return "host too long";
        memcpy(host, spec, (size_t)(c - spec));
        host[c - spec] = 0;
        port_s = c + 1;
        if (!strcmp(host, "localhost"))
            strcpy(host, "127.0.0.1");
    }
    unsigned port;
    if (!parse_port(port_s, &port))
        return "expected PORT, HOST:PORT, [IPv6]:PORT or unix:PATH (port 0-65535)";
    a->any_port = port == 0;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&a->ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a->ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        a->len = sizeof *v4;
        a->loopback = (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        a->len = sizeof *v6;
        a->loopback = IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr);
    } else {
        return "the host must be a numeric IPv4 or IPv6 address or localhost";
    }
    return NULL;
}

/* ---------------------------------------------------------------- sockets */

/* Move fd to a high number (as init.c's pipe): programs that close or
 * reuse low descriptors rarely reach up there. */
static int move_high(int fd) {
    int hi = fcntl(fd, F_DUPFD_CLOEXEC, 900);
    if (hi < 0)
        return fd;
    close(fd);
    return hi;
}

static int bind_tcp(const http_addr *a, char *why, size_t cap) {
    int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(why, cap, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (a->ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (const struct sockaddr *)&a->ss, a->len) != 0 || listen(fd, 64) != 0) {
        snprintf(why, cap, "bind: %s", strerror(errno));
        close(fd);
        return -1;
    }
    return move_high(fd);
}

/* Is there a live server on the unix socket at path? */
static bool unix_alive(const char *path) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return true; /* cannot tell: keep it */
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    snprintf(un.sun_path, sizeof un.sun_path, "%s", path);
    bool alive = connect(fd, (struct sockaddr *)&un, sizeof un) == 0 || errno != ECONNREFUSED;
    close(fd);
    return alive;
}

static int bind_unix(const http_addr *a, char *why, size_t cap) {
    struct stat st;
    if (lstat(a->path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(why, cap, "%s exists and is not a socket (not replaced)", a->path);
            return -1;
        }
        if (unix_alive(a->path)) {
            snprintf(why, cap, "%s is in use by another server", a->path);
            return -1;
        }
        unlink(a->path); /* a stale socket of an earlier run */
    }
    /* Bind in a private directory next to the target, then move in. */
    char dir[PATH_MAX], tmp[PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s", a->path);
    char *slash = strrchr(dir, '/');
    if (!slash) {
        snprintf(why, cap, "bad path");
        return -1;
    }
    snprintf(slash + 1, sizeof dir - (size_t)(slash + 1 - dir), ".mapprof-sock.%d", (int)getpid());
    if (mkdir(dir, 0700) != 0) {
        snprintf(why, cap, "mkdir %s: %s", dir, strerror(errno));
        return -1;
    }
    snprintf(tmp, sizeof tmp, "%s/s", dir);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    int fd = -1;
    if (strlen(tmp) >= sizeof un.sun_path) {
        snprintf(why, cap, "unix socket path too long");
        goto fail;
    }
    snprintf(un.sun_path, sizeof un.sun_path, "%s", tmp);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&un, sizeof un) != 0 || chmod(tmp, 0600) != 0 ||
        listen(fd, 64) != 0) {
        snprintf(why, cap, "bind %s: %s", tmp, strerror(errno));
        goto fail;
    }
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, a->path, RENAME_NOREPLACE) != 0) {
        snprintf(why, cap, "%s: %s", a->path, strerror(errno));
        goto fail;
    }
    rmdir(dir);
    return move_high(fd);
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    rmdir(dir);
    return -1;
}

/*
 * At a normal exit the process that made them removes its unix socket and
 * its .http file: a stale file would send a scraper to a port another
 * process may own by then. (A fork child inherits this handler and the
 * paths: the pid check keeps it off the parent's files.) _exit and
 * crashes leave them; a later bind on the same path removes a stale
 * socket.
 */
static pid_t announced_by;
static char announced[PATH_MAX + 64];

static void forget_files(void) {
    if (!announced_by || getpid() != announced_by)
        return;
    int saved = errno;
    unlink(announced);
    if (srv.unix_path[0])
        unlink(srv.unix_path);
    errno = saved;
}

/* <MAPPROF_OUT>.<pid>.http: one line, the address; written to a temporary
 * file (O_EXCL|O_NOFOLLOW) renamed into place. */
static void announce(void) {
    char path[PATH_MAX + 64], tmp[PATH_MAX + 96], line[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s.%d.http", shim_cfg.out, (int)getpid());
    static bool registered;
    if (!registered && atexit(forget_files) == 0)
        registered = true;
    snprintf(announced, sizeof announced, "%s", path);
    announced_by = getpid();
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)gettid());
    int n = snprintf(line, sizeof line, "%s\n", srv.shown);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    bool ok = fd >= 0 && write(fd, line, (size_t)n) == n;
    if (fd >= 0)
        ok = close(fd) == 0 && ok;
    if (ok)
        ok = rename(tmp, path) == 0;
    if (!ok) {
        if (fd >= 0)
            unlink(tmp);
        shim_log("live endpoint: cannot write %s: %s", path, strerror(errno));
    }
    shim_log("live profiles at %s%s/debug/pprof/", srv.unix_path[0] ? "" : "http://", srv.shown);
}

/* ------------------------------------------------------------ connections */

static void swallow_sigpipe(void) {
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    struct timespec zero = {0, 0};
    while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE) {
    }
}

static bool slot_open(const conn_slot *s) {
    struct stat st;
    return s->fd >= 0 && fstat(s->fd, &st) == 0 && st.st_ino == s->ino;
}

static int count_open(void) {
    int n = srv.npending;
    for (int i = 0; i < HTTP_MAX_CONNS; i++) {
        if (srv.slots[i].fd >= 0 && !slot_open(&srv.slots[i]))
            srv.slots[i].fd = -1;
        n += srv.slots[i].fd >= 0;
    }
    return n;
}

static void update_pause(void) {
    bool full = count_open() >= HTTP_MAX_CONNS;
    if (full && !srv.paused) {
        evconnlistener_disable(srv.lev);
        srv.paused = true;
        shim_live_note_error(LIVE_ERR_CONNS, "live endpoint: 16 connections open; new ones wait");
    } else if (!full && srv.paused) {
        evconnlistener_enable(srv.lev);
        srv.paused = false;
    }
}

/* evhttp makes a bufferevent per accepted connection here; the fd is set
 * right after, so post_accept (run once the listener's callback returns)
 * records it. The reference keeps the bufferevent alive until then. */
static struct bufferevent *new_bev(struct event_base *base, void *arg) {
    (void)arg;
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (bev && srv.npending < (int)(sizeof srv.pending / sizeof srv.pending[0])) {
        bufferevent_incref(bev);
        srv.pending[srv.npending++] = bev;
        event_active(srv.post_accept, EV_READ, 0);
    }
    if (!srv.paused)
        update_pause(); /* the listener accepts several in one callback */
    return bev;
}

static void post_accept(evutil_socket_t fd_unused, short what, void *arg) {
    (void)fd_unused;
    (void)what;
    (void)arg;
    int64_t now = shim_now_ns();
    for (int i = 0; i < srv.npending; i++) {
        struct bufferevent *bev = srv.pending[i];
        int fd = (int)bufferevent_getfd(bev);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0) {
            for (int j = 0; j < HTTP_MAX_CONNS; j++)
                if (srv.slots[j].fd < 0 || !slot_open(&srv.slots[j])) {
                    srv.slots[j] =
                        (conn_slot){fd, st.st_ino, now + HTTP_REQUEST_WINDOW * 1000000000ll};
                    break;
                }
        }
        bufferevent_decref(bev);
    }
    srv.npending = 0;
    update_pause();
}

/* Drop connections past their deadline (a trickling client), and resume
 * accepting when room was made. */
static void sweep(evutil_socket_t fd_unused, short what, void *arg) {
    (void)fd_unused;
    (void)what;
    (void)arg;
    int64_t now = shim_now_ns();
    for (int i = 0; i < HTTP_MAX_CONNS; i++) {
        conn_slot *s = &srv.slots[i];
        if (s->fd >= 0 && slot_open(s) && now > s->deadline_ns) {
            shutdown(s->fd, SHUT_RDWR); /* libevent sees the end and frees it */
            s->deadline_ns = INT64_MAX;
            shim_live_note_error(LIVE_ERR_SLOW,
                                 "live endpoint: dropped a connection that sent no complete "
                                 "request in time");
        }
    }
    swallow_sigpipe();
    update_pause();
}

void shim_http_set_deadline(int fd, int64_t seconds) {
    for (int i = 0; i < HTTP_MAX_CONNS; i++)
        if (srv.slots[i].fd == fd)
            srv.slots[i].deadline_ns = shim_now_ns() + seconds * 1000000000ll;
}

void shim_http_idle(void) {
    swallow_sigpipe();
}

/* accept(2) failed. Without this callback libevent would print a warning
 * on the host's stderr. Out of descriptors (EMFILE, ENFILE) or memory:
 * said once, accepting goes on (the listener retries at the next
 * connection). Anything else means the socket is gone (the host closed
 * our descriptor): the endpoint stops, with one line. */
static void accept_error(struct evconnlistener *lev, void *arg) {
    (void)arg;
    int e = EVUTIL_SOCKET_ERROR();
    if (e == EMFILE || e == ENFILE || e == ENOMEM || e == ENOBUFS || e == EINTR ||
        e == ECONNABORTED || e == EAGAIN) {
        shim_live_note_error(LIVE_ERR_CONNS, "live endpoint: cannot accept a connection "
                                             "(out of descriptors or memory); still listening");
        return;
    }
    evconnlistener_disable(lev);
    shim_log("live endpoint stopped: its listening socket failed (%s); the program may have "
             "closed it",
             strerror(e));
    event_base_loopbreak(evconnlistener_get_base(lev));
}

/* ----------------------------------------------------------------- thread */

static void *serve(void *arg) {
    (void)arg;
    shim_tls_v.guard = 1;               /* this thread belongs to the shim entirely */
    shim_threads_own_thread();          /* threads captures neither signal nor list it */
    prctl(PR_SET_NAME, "mapprof-http"); /* how ps, top and gdb show it */
    shim_own_alloc_begin();             /* ... and allocates from mem.c for life */
    for (int i = 0; i < HTTP_MAX_CONNS; i++)
        srv.slots[i].fd = -1;
    struct event_config *ec = event_config_new();
    if (ec) {
        /* precise: the coarse monotonic clock libevent uses by default
         * fires a seconds=N timer up to a tick early */
        event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK | EVENT_BASE_FLAG_PRECISE_TIMER);
        /* poll(2), not epoll: an epoll instance is a descriptor of its own
         * at a low number, and hosts close descriptors they think are
         * theirs (bash closes its pipe ends twice): a closed epoll fd
         * stops the server with a libevent warning on the host's stderr.
         * poll holds no descriptor, and 17 descriptors need nothing more. */
        event_config_avoid_method(ec, "epoll");
    }
    srv.base = ec ? event_base_new_with_config(ec) : NULL;
    if (ec)
        event_config_free(ec);
    struct evhttp *http = srv.base ? evhttp_new(srv.base) : NULL;
    srv.lev =
        http ? evconnlistener_new(srv.base, NULL, NULL, LEV_OPT_CLOSE_ON_EXEC, -1, srv.fd) : NULL;
    srv.post_accept = srv.base ? event_new(srv.base, -1, 0, post_accept, NULL) : NULL;
    srv.sweep = srv.base ? event_new(srv.base, -1, EV_PERSIST, sweep, NULL) : NULL;
    if (!srv.lev || !srv.post_accept || !srv.sweep || !evhttp_bind_listener(http, srv.lev)) {
        shim_log("live endpoint: cannot start the server (libevent setup failed)");
        return NULL;
    }
    evhttp_set_max_headers_size(http, HTTP_HEADERS_MAX);
    evhttp_set_max_body_size(http, HTTP_BODY_MAX);
    evhttp_set_timeout(http, HTTP_IO_TIMEOUT);
    /* every method evhttp knows reaches live.c, which answers 405 as Go */
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                         EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                                         EVHTTP_REQ_PATCH | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT);
    evhttp_set_bevcb(http, new_bev, NULL);
    evconnlistener_set_error_cb(srv.lev, accept_error);
    shim_live_attach(http, srv.base);
    struct timeval sec = {1, 0};
    event_add(srv.sweep, &sec);
    event_base_dispatch(srv.base);
    return NULL;
}

static void close_inherited(void) {
    if (srv.fd >= 0)
        close(srv.fd);
    srv.fd = -1;
    for (int i = 0; i < HTTP_MAX_CONNS; i++)
        if (srv.slots[i].fd >= 0 && slot_open(&srv.slots[i]))
            close(srv.slots[i].fd);
}

/* Parse MAPPROF_HTTP and bind; false (said why) when there is no server. */
static bool open_listener(bool first) {
    http_addr a;
    const char *bad = parse_addr(shim_cfg.http, srv.cwd, &a);
    if (bad) {
        shim_log("ignoring MAPPROF_HTTP=\"%.200s\": %s; no live endpoint", shim_cfg.http, bad);
        return false;
    }
    if (!a.loopback && !shim_cfg.http_public) {
        shim_log("MAPPROF_HTTP=%.200s is not a loopback address: refused (set "
                 "MAPPROF_HTTP_PUBLIC=1 to serve profiles to the network); no live endpoint",
                 shim_cfg.http);
        return false;
    }
    srv.per_process = a.any_port;
    if (!first && !a.any_port)
        return false;
    char why[PATH_MAX + 128];
    srv.fd = a.is_unix ? bind_unix(&a, why, sizeof why) : bind_tcp(&a, why, sizeof why);
    if (srv.fd < 0) {
        shim_log("live endpoint on %.200s: %s; no live endpoint", shim_cfg.http, why);
        return false;
    }
    if (a.is_unix) {
        snprintf(srv.unix_path, sizeof srv.unix_path, "%s", a.path);
        snprintf(srv.shown, sizeof srv.shown, "unix:%s", a.path);
        return true;
    }
    struct sockaddr_storage got;
    socklen_t len = sizeof got;
    getsockname(srv.fd, (struct sockaddr *)&got, &len);
    char host[INET6_ADDRSTRLEN] = "?";
    if (got.ss_family == AF_INET6) {
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&got;
        inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host);
        snprintf(srv.shown, sizeof srv.shown, "[%s]:%u", host, ntohs(v6->sin6_port));
    } else {
        struct sockaddr_in *v4 = (struct sockaddr_in *)&got;
        inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host);
        snprintf(srv.shown, sizeof srv.shown, "%s:%u", host, ntohs(v4->sin_port));
    }
    return true;
}

/*
 * A fork child's server (port 0 or %p only) binds after a short pause on
 * its own thread: most children exec or exit at once (a shell's
 * subshells, system()), and those should neither print a line nor leave a
 * .http file behind.
 */
#define CHILD_DELAY_MS 300

static void *child_serve(void *arg) {
    shim_tls_v.guard = 1;
    struct timespec ts = {0, CHILD_DELAY_MS * 1000000l};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    if (!shim_recording() || !open_listener(false))
        return NULL;
    announce();
    return serve(arg);
}

static void start(bool first) {
    if (first && !open_listener(true))
        return;
    /* symbolization (libdw's line tables) needs far more than 128 KiB */
    if (shim_spawn(first ? serve : child_serve, NULL, (size_t)2 << 20) != 0) {
        shim_log("live endpoint: cannot start its thread; no live endpoint");
        if (srv.fd >= 0)
            close(srv.fd);
        srv.fd = -1;
        return;
    }
    if (first)
        announce();
}

void shim_http_start(const char *cwd) {
    if (!shim_cfg.http[0])
        return;
    snprintf(srv.cwd, sizeof srv.cwd, "%s", cwd ? cwd : "");
    if (!shim_ev_load()) /* says why when it cannot */
        return;
    shim_threads_start(); /* the threads profile's capture signal, if free */
    start(true);
}

void shim_http_after_fork(void) {
    if (!shim_cfg.http[0])
        return;
    bool had = srv.fd >= 0 || srv.per_process;
    close_inherited();
    /* The parent's libevent objects belong to the parent's thread; the
     * child forgets them (never frees: see the top of this file). */
    srv.base = NULL;
    srv.lev = NULL;
    srv.npending = 0;
    srv.paused = false;
    srv.unix_path[0] = 0;
    for (int i = 0; i < HTTP_MAX_CONNS; i++)
        srv.slots[i].fd = -1;
    if (had && srv.per_process)
        start(false);
}
