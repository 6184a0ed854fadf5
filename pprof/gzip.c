/*
 * gzip.c — gzip framing of serialized profiles, with zlib.
 *
 * Compression streams the packed proto through deflate (gzip wrapper, a
 * window sized to the input) into an output buffer of at most 64 KiB handed to a sink
 * (a file writer or a growing memory buffer), so the compressed profile is
 * never held whole. Decompression inflates into a buffer that doubles up to
 * a caller-given limit (a gzip bomb stops with an error at the limit) and
 * accepts several concatenated members, like Go's gzip reader.
 * zlib's memory comes from the pprof_allocator via zalloc/zfree.
 * Non-goals: zlib-format or raw-deflate input, streaming decompression.
 */
#include "pprof/internal.h"

#include <errno.h>
#include <string.h>
#include <zlib.h>

enum { CHUNK = 64 * 1024 };

/*
 * deflate's state is sized to the input: a window no larger than the data
 * (2^9..2^15 bytes) and a hash table to match. zlib's defaults take ~260
 * KiB, clearing 64 KiB of it, for a profile that may be a few hundred
 * bytes (a short process writes several such); the stream is the same
 * gzip any reader inflates, and the compression of an input smaller than
 * the window does not change.
 */
static void deflate_size(size_t len, int *window_bits, int *mem_level) {
    int w = 9;
    while (w < 15 && ((size_t)1 << w) < len)
        w++;
    *window_bits = w;
    *mem_level = w - 7; /* 2..8: zlib's default 8 at the full window */
}

int pprof__gzip(const pprof_allocator *a, const void *data, size_t len, int level,
                pprof__sink_fn sink, void *ctx, pprof_error *err) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    zs.zalloc = pprof__zalloc;
    zs.zfree = pprof__zfree;
    zs.opaque = (void *)a;
    int window_bits, mem_level;
    deflate_size(len, &window_bits, &mem_level);
    if (deflateInit2(&zs, level, Z_DEFLATED, window_bits + 16, mem_level, Z_DEFAULT_STRATEGY) !=
        Z_OK)
        return pprof__err(err, -ENOMEM, "gzip: deflateInit2 failed (out of memory)");
    size_t chunk = deflateBound(&zs, (uLong)(len < CHUNK ? len : CHUNK));
    chunk = chunk < CHUNK ? chunk : CHUNK;
    uint8_t *buf = pprof__alloc(a, chunk);
    if (!buf) {
        deflateEnd(&zs);
        return pprof__err(err, -ENOMEM, "gzip: out of memory");
    }
    int rc = 0;
    const uint8_t *in = data;
    size_t left = len;
    int zrc;
    do {
        /* avail_in is 32 bits: feed big inputs in pieces. */
        if (zs.avail_in == 0 && left) {
            uInt n = left > (1u << 30) ? (1u << 30) : (uInt)left;
            zs.next_in = (Bytef *)in;
            zs.avail_in = n;
            in += n;
            left -= n;
        }
        zs.next_out = buf;
        zs.avail_out = (uInt)chunk;
        zrc = deflate(&zs, left ? Z_NO_FLUSH : Z_FINISH);
        if (zrc == Z_STREAM_ERROR) {
            rc = pprof__err(err, -EIO, "gzip: deflate failed: %s", zs.msg ? zs.msg : "?");
            break;
        }
        size_t have = chunk - zs.avail_out;
        if (have && (rc = sink(ctx, buf, have, err)) < 0)
            break;
    } while (zrc != Z_STREAM_END);
    pprof__release(a, buf, chunk);
    deflateEnd(&zs);
    return rc;
}

int pprof__gunzip(const pprof_allocator *a, const void *data, size_t len, size_t max_out,
                  uint8_t **out, size_t *out_len, size_t *out_cap, pprof_error *err) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    zs.zalloc = pprof__zalloc;
    zs.zfree = pprof__zfree;
    zs.opaque = (void *)a;
    if (inflateInit2(&zs, 15 + 16) != Z_OK)
        return pprof__err(err, -ENOMEM, "gzip: inflateInit2 failed (out of memory)");
    size_t cap = len < max_out / 4 ? (len * 4 < 4096 ? 4096 : len * 4) : max_out;
    uint8_t *buf = pprof__alloc(a, cap);
    size_t n = 0;
    int rc = 0;
    if (!buf) {
        rc = pprof__err(err, -ENOMEM, "gzip: out of memory");
        goto out;
    }
    const uint8_t *in = data;
    size_t left = len;
    for (;;) {
        if (zs.avail_in == 0 && left) {
            uInt k = left > (1u << 30) ? (1u << 30) : (uInt)left;
            zs.next_in = (Bytef *)in;
            zs.avail_in = k;
            in += k;
            left -= k;
        }
        if (n == cap) {
            if (cap >= max_out) {
                rc = pprof__err(err, -EFBIG,
                                "gzip: decompressed profile larger than the limit (%zu bytes)",
                                max_out);
                goto out;
            }
            size_t ncap = cap > max_out / 2 ? max_out : cap * 2;
            uint8_t *nb = pprof__alloc(a, ncap);
            if (!nb) {
                rc = pprof__err(err, -ENOMEM, "gzip: out of memory");
                goto out;
            }
            memcpy(nb, buf, n);
            pprof__release(a, buf, cap);
            buf = nb;
            cap = ncap;
        }
        zs.next_out = buf + n;
        zs.avail_out = (uInt)(cap - n > (1u << 30) ? (1u << 30) : cap - n);
        uInt before = zs.avail_out;
        int zrc = inflate(&zs, Z_NO_FLUSH);
        n += before - zs.avail_out;
        if (zrc == Z_STREAM_END) {
            size_t rest = zs.avail_in + left;
            if (rest == 0)
                break;
            /* Another member follows (Go's reader is multistream too). */
            const uint8_t *next = zs.next_in;
            if (zs.avail_in < 2 || next[0] != 0x1f || next[1] != 0x8b) {
                rc = pprof__err(err, -EINVAL,
                                "gzip: %zu bytes of trailing garbage after the "
                                "compressed data",
                                rest);
                goto out;
            }
            inflateReset(&zs);
            continue;
        }
        if (zrc == Z_DATA_ERROR) {
            rc = pprof__err(err, -EINVAL, "gzip: corrupt compressed data: %s",
                            zs.msg ? zs.msg : "data error");
            goto out;
        }
        if (zrc == Z_MEM_ERROR) {
            rc = pprof__err(err, -ENOMEM, "gzip: out of memory");
            goto out;
        }
        if (zrc == Z_BUF_ERROR && zs.avail_in == 0 && left == 0) {
            rc = pprof__err(err, -EINVAL,
                            "gzip: truncated input (stream ends after %zu "
                            "compressed bytes)",
                            len);
            goto out;
        }
        if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
            rc = pprof__err(err, -EINVAL, "gzip: inflate failed (%d)", zrc);
            goto out;
        }
    }
out:
    inflateEnd(&zs);
    if (rc < 0) {
        pprof__release(a, buf, cap);
        return rc;
    }
    *out = buf;
    *out_len = n;
    *out_cap = cap;
    return 0;
}
