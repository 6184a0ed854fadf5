/*
 * write.c — atomic profile output: pack, gzip, temp file, rename.
 *
 * The profile is packed by protobuf-c into one buffer, gzip'd (level 1, as
 * Go's runtime does) straight into a temporary file next to the target,
 * "<dir>/.<name>.tmp.<pid>.<n>", created O_CREAT|O_EXCL|O_CLOEXEC|O_NOFOLLOW
 * with mode 0644; then closed and renamed over the target. A reader thus
 * sees the previous file or the complete new one, never a partial file.
 * Invariant: on every failure path the temporary file is unlinked before
 * returning. Writes go through a seam (pprof__set_write_fn) so tests can
 * inject short writes and ENOSPC. Uses only open/write/close/rename, no
 * stdio, so it is usable from inside malloc hooks (with a hook-safe
 * allocator). Non-goals: fsync/durability across crashes, cross-filesystem
 * moves.
 */
#include "pprof/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static pprof__write_fn write_fn = write;

void pprof__set_write_fn(pprof__write_fn fn) {
    write_fn = fn ? fn : write;
}

typedef struct fd_sink {
    int fd;
    const char *path; /* for messages */
} fd_sink;

static int write_all(void *ctx, const void *data, size_t len, pprof_error *err) {
    fd_sink *s = ctx;
    const char *p = data;
    size_t done = 0;
    while (done < len) {
        ssize_t w = write_fn(s->fd, p + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            int e = errno;
            return pprof__err(err, -e, "write %s: %s", s->path, strerror(e));
        }
        if (w == 0)
            return pprof__err(err, -EIO, "write %s: short write (%zu of %zu bytes written)",
                              s->path, done, len);
        done += (size_t)w;
    }
    return 0;
}

int pprof_profile_write_file(const pprof_profile *p, const char *path, pprof_error *err) {
    static atomic_uint counter;
    if (!path || !*path)
        return pprof__err(err, -EINVAL, "write profile: empty path");
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!*base)
        return pprof__err(err, -EINVAL, "write profile %s: path names a directory", path);
    int dirlen = slash ? (int)(slash - path) + 1 : 0;
    char tmp[4096];
    int n = snprintf(tmp, sizeof tmp, "%.*s.%s.tmp.%ld.%u", dirlen, path, base, (long)getpid(),
                     atomic_fetch_add(&counter, 1));
    if (n < 0 || (size_t)n >= sizeof tmp)
        return pprof__err(err, -ENAMETOOLONG, "write profile %s: path too long", path);

    size_t rawlen = protobuf_c_message_get_packed_size(&p->msg->base);
    uint8_t *raw = pprof__halloc(&p->a, rawlen ? rawlen : 1);
    if (!raw)
        return pprof__err(err, -ENOMEM, "write profile %s: out of memory (%zu bytes)", path,
                          rawlen);
    protobuf_c_message_pack(&p->msg->base, raw);

    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        int e = errno;
        rc = pprof__err(err, -e, "write profile %s: cannot create %s: %s", path, tmp, strerror(e));
        goto out;
    }
    /* Mode 0644 whatever the umask: profiles are meant to be shared. */
    (void)fchmod(fd, 0644);
    fd_sink s = {fd, path};
    rc = pprof__gzip(&p->a, raw, rawlen, 1, write_all, &s, err);
    if (close(fd) < 0 && rc == 0) {
        int e = errno;
        rc = pprof__err(err, -e, "write profile %s: close: %s", tmp, strerror(e));
    }
    if (rc == 0 && rename(tmp, path) < 0) {
        int e = errno;
        rc = pprof__err(err, -e, "write profile %s: rename from %s: %s", path, tmp, strerror(e));
    }
    if (rc < 0)
        unlink(tmp);
out:
    pprof__hfree(&p->a, raw);
    return rc;
}
