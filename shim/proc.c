/*
 * proc.c — what the shim reads about its own threads from /proc/self,
 * without allocating (open/read/getdents64 into caller buffers), so it can
 * run on any shim thread at any time: the task list, a thread's name, a
 * signal mask line of its status, the syscall it is blocked in.
 * Only /proc/self is ever read (the shim reads nothing of other processes).
 * Non-goal: parsing anything else of status.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim/shim.h"

/* The file at path into buf (NUL-terminated); bytes read, -1 on error. */
static ssize_t read_file(const char *path, char *buf, size_t cap) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = 0;
    return n;
}

int shim_proc_each_task(void (*fn)(int tid, void *ctx), void *ctx) {
    int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char buf[4096];
    int count = 0;
    for (;;) {
        long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
        if (n <= 0)
            break;
        for (long off = 0; off < n;) {
            const char *name = buf + off + 19; /* d_ino 8, d_off 8, d_reclen 2, d_type 1 */
            unsigned short reclen;
            memcpy(&reclen, buf + off + 16, sizeof reclen);
            int tid = 0;
            for (const char *c = name; *c >= '0' && *c <= '9'; c++)
                tid = tid * 10 + (*c - '0');
            if (tid > 0) {
                fn(tid, ctx);
                count++;
            }
            off += reclen;
        }
    }
    close(fd);
    return count;
}

bool shim_proc_thread_name(int tid, char out[16]) {
    char path[64], buf[32];
    snprintf(path, sizeof path, "/proc/self/task/%d/comm", tid);
    ssize_t n = read_file(path, buf, sizeof buf);
    if (n <= 0)
        return false;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == 0))
        n--;
    if (n > 15)
        n = 15; /* the kernel's limit anyway */
    memcpy(out, buf, (size_t)n);
    out[n] = 0;
    return true;
}

bool shim_proc_status_mask(int tid, const char *field, uint64_t *mask) {
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/self/task/%d/status", tid);
    if (read_file(path, buf, sizeof buf) <= 0)
        return false;
    char key[32];
    snprintf(key, sizeof key, "\n%s", field);
    const char *p = strstr(buf, key);
    if (!p)
        return false;
    uint64_t m = 0;
    for (p += strlen(key); *p == ' ' || *p == '\t'; p++)
        ;
    for (; (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'); p++)
        m = m << 4 | (uint64_t)(*p <= '9' ? *p - '0' : *p - 'a' + 10);
    *mask = m;
    return true;
}

static uint64_t hex(const char **p) {
    const char *s = *p;
    while (*s == ' ')
        s++;
    if (s[0] == '0' && s[1] == 'x')
        s += 2;
    uint64_t v = 0;
    for (;; s++) {
        int d = *s >= '0' && *s <= '9' ? *s - '0' : *s >= 'a' && *s <= 'f' ? *s - 'a' + 10 : -1;
        if (d < 0)
            break;
        v = v << 4 | (uint64_t)d;
    }
    *p = s;
    return v;
}

/*
 * /proc/self/task/<tid>/syscall: "running", or the syscall number, six
 * argument registers, the stack pointer and the program counter of a
 * thread blocked in a syscall. 1: blocked (filled), 0: running, -1: not
 * readable.
 */
int shim_proc_syscall(int tid, long *nr, uint64_t *pc) {
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
    if (read_file(path, buf, sizeof buf) <= 0)
        return -1;
    if (!strncmp(buf, "running", 7))
        return 0;
    const char *p = buf;
    long n = 0;
    bool neg = *p == '-';
    for (p += neg; *p >= '0' && *p <= '9'; p++)
        n = n * 10 + (*p - '0');
    *nr = neg ? -n : n;
    uint64_t last = 0;
    for (int i = 0; i < 8 && *p; i++) /* 6 arguments, the stack pointer, the pc */
        last = hex(&p);
    *pc = last;
    return 1;
}
