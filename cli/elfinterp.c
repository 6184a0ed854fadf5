/*
 * elfinterp.c — is an executable dynamically linked? LD_PRELOAD only
 * works when the dynamic loader runs, i.e. when the ELF file has a
 * PT_INTERP program header. Static and static-pie binaries have none and
 * would silently produce no profile, so `mapprof run` refuses them.
 *
 * Reads the ELF header and program header table directly (32- and 64-bit,
 * either byte order) with bounds checks on every offset: the file is
 * untrusted input. Anything that is not ELF (a #! script, ...) is reported
 * as such and left to the kernel. Non-goals: following a script's
 * interpreter, checking the interpreter exists.
 */
#include "cli/cli.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static uint64_t get(const unsigned char *p, int size, bool big) {
    uint64_t v = 0;
    for (int i = 0; i < size; i++)
        v |= (uint64_t)p[big ? size - 1 - i : i] << (8 * i);
    return v;
}

int cli_elf_has_interp(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    unsigned char eh[64];
    ssize_t n = pread(fd, eh, sizeof eh, 0);
    int rc = 2;
    if (n < 0) {
        rc = -errno;
        goto out;
    }
    if (n < 52 || memcmp(eh, ELFMAG, SELFMAG) != 0)
        goto out; /* not ELF */
    bool is64 = eh[EI_CLASS] == ELFCLASS64, big = eh[EI_DATA] == ELFDATA2MSB;
    if ((!is64 && eh[EI_CLASS] != ELFCLASS32) || (is64 && n < 64)) {
        rc = -ENOEXEC;
        goto out;
    }
    uint64_t phoff = is64 ? get(eh + 32, 8, big) : get(eh + 28, 4, big);
    uint64_t phentsize = is64 ? get(eh + 54, 2, big) : get(eh + 42, 2, big);
    uint64_t phnum = is64 ? get(eh + 56, 2, big) : get(eh + 44, 2, big);
    if (phentsize < (is64 ? 56u : 32u) || phnum > 4096) {
        rc = -ENOEXEC;
        goto out;
    }
    rc = 0;
    for (uint64_t i = 0; i < phnum; i++) {
        unsigned char ph[4];
        if (pread(fd, ph, sizeof ph, (off_t)(phoff + i * phentsize)) != (ssize_t)sizeof ph) {
            rc = -ENOEXEC;
            break;
        }
        if (get(ph, 4, big) == PT_INTERP) {
            rc = 1;
            break;
        }
    }
out:
    close(fd);
    return rc;
}
