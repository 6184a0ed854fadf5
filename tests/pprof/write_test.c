/*
 * write_test.c — atomic output: failures (unwritable directory, injected
 * short write and ENOSPC) give a clear error, leave no temporary file and
 * never a partial profile; success replaces the old file whole.
 */
#include "tests/pprof/pprof_test.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

static pprof_profile *small_profile(void) {
    pprof_builder_config cfg = {0};
    pprof_config_for(PPROF_KIND_MUTEX, 0, &cfg);
    pprof_builder *b;
    CHECK_EQ_I(pprof_builder_new(&cfg, &b, NULL), 0);
    uint64_t st[64];
    for (int i = 0; i < 2000; i++) { /* big enough for several write chunks */
        for (int d = 0; d < 64; d++)
            st[d] = 0x400000 + (uint64_t)(i * 131 + d * 977);
        int64_t v[2] = {i, i * 1000};
        CHECK_EQ_I(pprof_builder_add_sample(b, st, 64, v, NULL, 0, 0, NULL), 0);
    }
    pprof_profile *p;
    CHECK_EQ_I(pprof_builder_finish(b, NULL, NULL, &p, NULL), 0);
    pprof_builder_free(b);
    return p;
}

/* Number of entries in dir other than . and .. */
static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static int calls;
static ssize_t short_write(int fd, const void *buf, size_t n) {
    if (++calls == 1)
        return write(fd, buf, n / 2); /* a partial write is retried... */
    return 0;                         /* ...but no progress is an error */
}

static ssize_t enospc_write(int fd, const void *buf, size_t n) {
    if (++calls >= 2) {
        errno = ENOSPC;
        return -1;
    }
    return write(fd, buf, n);
}

static ssize_t eintr_write(int fd, const void *buf, size_t n) {
    if (++calls % 2) {
        errno = EINTR;
        return -1;
    }
    return write(fd, buf, n > 1000 ? 1000 : n);
}

static void check_failed_write(pprof__write_fn fn, int code, const char *needle) {
    pprof_profile *p = small_profile();
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/out", th_tmpdir());
    CHECK_EQ_I(mkdir(dir, 0755), 0);
    char path[1100];
    snprintf(path, sizeof path, "%s/p.pb.gz", dir);
    /* an old, complete profile already in place */
    pprof_error err;
    CHECK_EQ_I(pprof_profile_write_file(p, path, &err), 0);
    struct stat before;
    CHECK_EQ_I(stat(path, &before), 0);

    calls = 0;
    pprof__set_write_fn(fn);
    int rc = pprof_profile_write_file(p, path, &err);
    pprof__set_write_fn(NULL);
    CHECK_EQ_I(rc, code);
    CHECK_EQ_I(err.code, code);
    CHECK_CONTAINS(err.msg, needle);
    CHECK_CONTAINS(err.msg, path);
    CHECK_EQ_I(count_entries(dir), 1); /* temp file removed */
    struct stat after;
    CHECK_EQ_I(stat(path, &after), 0); /* old profile untouched */
    CHECK_EQ_U(after.st_ino, before.st_ino);
    pprof_profile *q;
    CHECK_EQ_I(pprof_profile_read_file(path, NULL, &q, &err), 0);
    pprof_profile_free(q);
    pprof_profile_free(p);
}

TEST(pprof, write_short_write) {
    check_failed_write(short_write, -EIO, "short write");
}

TEST(pprof, write_enospc) {
    check_failed_write(enospc_write, -ENOSPC, "No space left on device");
}

TEST(pprof, write_eintr_and_partial_writes_succeed) {
    pprof_profile *p = small_profile();
    const char *path = tpath("eintr.pb.gz");
    calls = 0;
    pprof__set_write_fn(eintr_write);
    pprof_error err;
    int rc = pprof_profile_write_file(p, path, &err);
    pprof__set_write_fn(NULL);
    CHECK_MSG(rc == 0, "%s", err.msg);
    CHECK(calls > 10);
    pprof_profile *q;
    CHECK_EQ_I(pprof_profile_read_file(path, NULL, &q, &err), 0);
    CHECK_EQ_U(pprof_profile_msg(q)->n_sample, 2000);
    pprof_profile_free(q);
    pprof_profile_free(p);
}

TEST(pprof, write_unwritable_dir) {
    pprof_profile *p = small_profile();
    pprof_error err;
    /* missing directory */
    CHECK_EQ_I(pprof_profile_write_file(p, "/nonexistent-dir/p.pb.gz", &err), -ENOENT);
    CHECK_CONTAINS(err.msg, "cannot create");
    CHECK_CONTAINS(err.msg, "No such file or directory");
    /* a regular file used as a directory */
    const char *file = tpath("plain");
    FILE *f = fopen(file, "w");
    fclose(f);
    char path[1100];
    snprintf(path, sizeof path, "%s/p.pb.gz", file);
    CHECK_EQ_I(pprof_profile_write_file(p, path, &err), -ENOTDIR);
    /* permissions: root ignores mode bits, so use a read-only /proc dir then */
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/ro", th_tmpdir());
    CHECK_EQ_I(mkdir(dir, 0555), 0);
    snprintf(path, sizeof path, "%s/p.pb.gz", geteuid() == 0 ? "/proc/self" : dir);
    int rc = pprof_profile_write_file(p, path, &err);
    CHECK_MSG(rc == -EACCES || rc == -EPERM || rc == -ENOENT, "rc %d: %s", rc, err.msg);
    CHECK_CONTAINS(err.msg, path);
    CHECK_EQ_I(count_entries(dir), 0);
    CHECK_EQ_I(pprof_profile_write_file(p, "", &err), -EINVAL);
    CHECK_EQ_I(pprof_profile_write_file(p, "dir/", &err), -EINVAL);
    pprof_profile_free(p);
}

TEST(pprof, write_mode_and_replace) {
    pprof_profile *p = small_profile();
    const char *path = tpath("m.pb.gz");
    mode_t old = umask(077);
    pprof_error err;
    CHECK_EQ_I(pprof_profile_write_file(p, path, &err), 0);
    umask(old);
    struct stat st;
    CHECK_EQ_I(stat(path, &st), 0);
    CHECK_EQ_I(st.st_mode & 0777, 0644);
    /* a symlink at the target is replaced, not followed */
    const char *victim = tpath("victim");
    FILE *f = fopen(victim, "w");
    fputs("keep", f);
    fclose(f);
    const char *link = tpath("link.pb.gz");
    CHECK_EQ_I(symlink(victim, link), 0);
    CHECK_EQ_I(pprof_profile_write_file(p, link, &err), 0);
    size_t n;
    char *v = th_read_file(victim, &n);
    CHECK_EQ_S(v, "keep");
    free(v);
    CHECK_EQ_I(lstat(link, &st), 0);
    CHECK(S_ISREG(st.st_mode));
    pprof_profile_free(p);
}
