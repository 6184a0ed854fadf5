/*
 * mappings.c — a snapshot of the process's executable mappings for pprof
 * Mapping messages, refreshable without forgetting unloaded libraries.
 *
 * Each refresh reads /proc/self/maps with open/read (no stdio) and keeps
 * only executable segments, as Go's runtime/pprof does: [start, limit),
 * the real file offset, the path (" (deleted)" stripped; anonymous
 * unnamed ranges skipped; [vdso] kept), and for files the lowercase hex GNU
 * build id and the load bias, both read from the ELF file with libelf
 * (dwelf_elf_gnu_build_id, program headers). A segment seen before is only
 * marked loaded again; a segment that vanished (dlclose) stays, marked
 * unloaded, so old frames still map to it (loaded again later, it gets a
 * new entry).
 *
 * Invariants: ents[] is in profile order — main executable entries first,
 * then discovery order — and never shrinks; `live` holds the indices of the
 * loaded entries sorted by start (they cannot overlap, being from one maps
 * read), for binary-search lookups. Unloaded entries are searched linearly
 * after a miss, newest first. Strings live in the snapshot's arena.
 *
 * Generations: entries carry [born, died) in the caller's numbering of the
 * periods between library unloads, so an address captured in one period
 * can be resolved against the library that held it then, even when
 * another library was loaded at the same place later; such an address is
 * moved into an alias entry (a copy of the old library's entry at a range
 * above 2^48), giving it its own locations, mapping and symbols.
 * Non-goals: non-executable mappings, other processes, kernel frames.
 */
#include "pprof/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <elfutils/libdwelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct entry {
    pprof_mapping_info info;
    uint64_t seq;         /* discovery order, for newest-first searches */
    uint64_t alias_start; /* its alias entry's start, 0 before one is needed */
} entry;

struct pprof_mappings {
    pprof_allocator a;
    pprof__arena ar; /* paths and build ids */
    entry *ents;
    size_t n, cap;
    size_t *live; /* indices of loaded entries, sorted by start */
    size_t nlive, livecap;
    uint64_t seq;
    uint64_t gen, last_death;
    uint64_t next_alias; /* start of the next alias range */
};

/* Aliases live above every user-space address (x86-64 and arm64 stop
 * below 2^48), 2^40 apart: any shared object fits. */
#define ALIAS_BASE ((uint64_t)1 << 48)
#define ALIAS_STEP ((uint64_t)1 << 40)

int pprof_mappings_new(const pprof_allocator *a, pprof_mappings **out, pprof_error *err) {
    pprof_allocator al = pprof__allocator(a);
    pprof_mappings *m = pprof__alloc(&al, sizeof *m);
    if (!m)
        return pprof__err(err, -ENOMEM, "mappings: out of memory");
    m->a = al;
    pprof__arena_init(&m->ar, &al);
    *out = m;
    return 0;
}

void pprof_mappings_free(pprof_mappings *m) {
    if (!m)
        return;
    pprof__release(&m->a, m->ents, m->cap * sizeof *m->ents);
    pprof__release(&m->a, m->live, m->livecap * sizeof *m->live);
    pprof__arena_free(&m->ar);
    pprof_allocator a = m->a;
    pprof__release(&a, m, sizeof *m);
}

void pprof_mappings_set_generation(pprof_mappings *m, uint64_t gen) {
    if (m)
        m->gen = gen;
}

uint64_t pprof_mappings_last_death(const pprof_mappings *m) {
    return m ? m->last_death : 0;
}

size_t pprof_mappings_count(const pprof_mappings *m) {
    return m ? m->n : 0;
}

const pprof_mapping_info *pprof_mappings_get(const pprof_mappings *m, size_t i) {
    return m && i < m->n ? &m->ents[i].info : NULL;
}

const pprof_mapping_info *pprof_mappings_find(const pprof_mappings *m, uint64_t addr,
                                              size_t *index) {
    if (!m)
        return NULL;
    size_t lo = 0, hi = m->nlive;
    while (lo < hi) { /* first live entry with start > addr */
        size_t mid = lo + (hi - lo) / 2;
        if (m->ents[m->live[mid]].info.start <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo > 0) {
        size_t i = m->live[lo - 1];
        if (addr < m->ents[i].info.limit) {
            if (index)
                *index = i;
            return &m->ents[i].info;
        }
    }
    const entry *best = NULL;
    for (size_t i = 0; i < m->n; i++) {
        const entry *e = &m->ents[i];
        if (!e->info.loaded && addr >= e->info.start && addr < e->info.limit &&
            (!best || e->seq > best->seq))
            best = e;
    }
    if (best && index)
        *index = (size_t)(best - m->ents);
    return best ? &best->info : NULL;
}

static int add_entry(pprof_mappings *m, const pprof_mapping_info *info, pprof_error *err);

uint64_t pprof_mappings_address_at(pprof_mappings *m, uint64_t addr, uint64_t gen) {
    if (!m)
        return addr;
    /* The entry alive at gen: newest discovered among those containing
     * addr whose [born, died) holds gen (an entry seen again after an
     * unload keeps its first birth; a newer one at its place wins). */
    entry *then = NULL;
    for (size_t i = 0; i < m->n; i++) {
        entry *e = &m->ents[i];
        if (addr >= e->info.start && addr < e->info.limit && e->info.born <= gen &&
            gen < e->info.died && (!then || e->seq > then->seq))
            then = e;
    }
    size_t now_i;
    const pprof_mapping_info *now = pprof_mappings_find(m, addr, &now_i);
    if (!then || (now && &m->ents[now_i] == then))
        return addr;
    if (!then->alias_start) {
        pprof_mapping_info alias = then->info;
        uint64_t delta = m->next_alias ? m->next_alias : ALIAS_BASE;
        if (alias.limit - alias.start > ALIAS_STEP)
            return addr;
        alias.start = delta;
        alias.limit = delta + (then->info.limit - then->info.start);
        alias.bias = then->info.bias + (delta - then->info.start);
        alias.loaded = false;
        alias.main = false;
        size_t at = (size_t)(then - m->ents);
        if (add_entry(m, &alias, NULL) < 0)
            return addr;
        then = &m->ents[at]; /* non-main entries are appended: indices hold */
        then->alias_start = delta;
        m->next_alias = delta + ALIAS_STEP;
    }
    return addr - then->info.start + then->alias_start;
}

/* Read a whole (proc) file into an allocator buffer: st_size is 0 there. */
static int slurp(const pprof_allocator *a, const char *path, char **out, size_t *len, size_t *cap,
                 pprof_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return pprof__err(err, -e, "mappings: open %s: %s", path, strerror(e));
    }
    size_t c = 16384, n = 0;
    char *buf = pprof__alloc(a, c);
    int rc = 0;
    while (buf) {
        if (n + 1 >= c) {
            char *nb = pprof__alloc(a, c * 2);
            if (nb)
                memcpy(nb, buf, n);
            pprof__release(a, buf, c);
            buf = nb;
            c *= 2;
            if (!buf)
                break;
        }
        ssize_t r = read(fd, buf + n, c - n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            rc = pprof__err(err, -e, "mappings: read %s: %s", path, strerror(e));
            pprof__release(a, buf, c);
            buf = NULL;
            break;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (!buf)
        return rc < 0 ? rc : pprof__err(err, -ENOMEM, "mappings: out of memory");
    buf[n] = 0;
    *out = buf;
    *len = n;
    *cap = c;
    return 0;
}

/* Build id (hex) and load bias of the ELF file at path, for the segment
 * mapped at start from file offset off. Unknown values stay "" / 0. */
static void elf_facts(pprof_mappings *m, const char *path, const char *alt, uint64_t start,
                      uint64_t off, const char **build_id, uint64_t *bias) {
    *build_id = "";
    *bias = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && alt)
        fd = open(alt, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    elf_version(EV_CURRENT);
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    if (elf) {
        const void *id;
        ssize_t n = dwelf_elf_gnu_build_id(elf, &id);
        if (n > 0 && n <= 256) {
            char *hex = pprof__arena_alloc(&m->ar, (size_t)n * 2 + 1);
            if (hex) {
                static const char digits[] = "0123456789abcdef";
                for (ssize_t i = 0; i < n; i++) {
                    hex[2 * i] = digits[((const uint8_t *)id)[i] >> 4];
                    hex[2 * i + 1] = digits[((const uint8_t *)id)[i] & 15];
                }
                *build_id = hex;
            }
        }
        size_t nph;
        if (elf_getphdrnum(elf, &nph) == 0) {
            for (size_t i = 0; i < nph; i++) {
                GElf_Phdr ph;
                if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
                    continue;
                uint64_t pg = ph.p_offset & ~(uint64_t)4095;
                if (off >= pg && off < ph.p_offset + ph.p_filesz) {
                    /* start maps file offset off, i.e. vaddr off + (vaddr - offset). */
                    *bias = start - off - (ph.p_vaddr - ph.p_offset);
                    break;
                }
            }
        }
        elf_end(elf);
    }
    close(fd);
}

static int add_entry(pprof_mappings *m, const pprof_mapping_info *info, pprof_error *err) {
    if (m->n == m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 32;
        entry *ne = pprof__alloc(&m->a, nc * sizeof *ne);
        if (!ne)
            return pprof__err(err, -ENOMEM, "mappings: out of memory");
        if (m->n)
            memcpy(ne, m->ents, m->n * sizeof *ne);
        pprof__release(&m->a, m->ents, m->cap * sizeof *m->ents);
        m->ents = ne;
        m->cap = nc;
    }
    size_t pos = m->n;
    if (info->main) /* keep main-executable entries first */
        for (pos = 0; pos < m->n && m->ents[pos].info.main; pos++)
            ;
    memmove(&m->ents[pos + 1], &m->ents[pos], (m->n - pos) * sizeof *m->ents);
    m->ents[pos] = (entry){*info, ++m->seq, 0};
    m->n++;
    return 0;
}

static int cmp_start(const void *x, const void *y, void *ctx) {
    const entry *ents = ctx;
    uint64_t a = ents[*(const size_t *)x].info.start, b = ents[*(const size_t *)y].info.start;
    return a < b ? -1 : a > b;
}

static int rebuild_live(pprof_mappings *m, pprof_error *err) {
    if (m->livecap < m->n) {
        size_t *nl = pprof__alloc(&m->a, m->cap * sizeof *nl);
        if (!nl)
            return pprof__err(err, -ENOMEM, "mappings: out of memory");
        pprof__release(&m->a, m->live, m->livecap * sizeof *m->live);
        m->live = nl;
        m->livecap = m->cap;
    }
    m->nlive = 0;
    for (size_t i = 0; i < m->n; i++)
        if (m->ents[i].info.loaded)
            m->live[m->nlive++] = i;
    qsort_r(m->live, m->nlive, sizeof *m->live, cmp_start, m->ents);
    return 0;
}

int pprof_mappings_refresh_from(pprof_mappings *m, const char *maps_path, const char *exe_path,
                                pprof_error *err) {
    char exe[4096] = "";
    if (exe_path) {
        ssize_t k = readlink(exe_path, exe, sizeof exe - 1);
        if (k > 0)
            exe[k] = 0;
        else
            snprintf(exe, sizeof exe, "%s", exe_path);
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = slurp(&m->a, maps_path, &buf, &len, &cap, err);
    if (rc < 0)
        return rc;
    /* `loaded` is recomputed; `died` is stamped below on entries that were
     * loaded and are missing now. */
    bool *was = pprof__alloc(&m->a, (m->n ? m->n : 1) * sizeof *was);
    if (!was) {
        pprof__release(&m->a, buf, cap);
        return pprof__err(err, -ENOMEM, "mappings: out of memory");
    }
    size_t nwas = m->n;
    for (size_t i = 0; i < m->n; i++) {
        was[i] = m->ents[i].info.loaded;
        m->ents[i].info.loaded = false;
    }

    for (char *line = buf, *next; line < buf + len; line = next) {
        char *nl = memchr(line, '\n', (size_t)(buf + len - line));
        next = nl ? nl + 1 : buf + len;
        if (nl)
            *nl = 0;
        unsigned long long start, limit, off, inode;
        char perms[8];
        int pathpos = 0;
        if (sscanf(line, "%llx-%llx %7s %llx %*s %llu %n", &start, &limit, perms, &off, &inode,
                   &pathpos) < 5 ||
            pathpos == 0)
            continue;
        if (strlen(perms) < 3 || perms[2] != 'x')
            continue;
        char *path = line + pathpos;
        size_t plen = strlen(path);
        static const char deleted[] = " (deleted)";
        if (plen >= sizeof deleted - 1 && strcmp(path + plen - (sizeof deleted - 1), deleted) == 0)
            path[plen -= sizeof deleted - 1] = 0;
        if (plen == 0 && inode == 0)
            continue; /* anonymous executable memory (JIT): nothing to name */

        bool found = false;
        for (size_t i = 0; i < m->n && !found; i++) {
            pprof_mapping_info *e = &m->ents[i].info;
            /* A segment loaded again after it vanished is a new life: a
             * new entry, so each life keeps its own [born, died). */
            if (e->died == UINT64_MAX && e->start == start && e->limit == limit &&
                e->offset == off && strcmp(e->path, path) == 0)
                found = e->loaded = true;
        }
        if (found)
            continue;
        pprof_mapping_info info = {.start = start,
                                   .limit = limit,
                                   .offset = off,
                                   .loaded = true,
                                   .born = m->gen,
                                   .died = UINT64_MAX};
        info.main = exe[0] && strcmp(path, exe) == 0;
        info.path = pprof__arena_strndup(&m->ar, path, plen);
        if (!info.path) {
            rc = pprof__err(err, -ENOMEM, "mappings: out of memory");
            break;
        }
        info.build_id = "";
        if (path[0] == '/') {
            char alt[96];
            snprintf(alt, sizeof alt, "/proc/self/map_files/%llx-%llx", start, limit);
            elf_facts(m, path, alt, start, off, &info.build_id, &info.bias);
        }
        if ((rc = add_entry(m, &info, err)) < 0)
            break;
    }
    pprof__release(&m->a, buf, cap);
    /* Entries only move when a main-executable entry is inserted, which
     * happens on the first refresh (nothing was loaded before it). */
    for (size_t i = 0; i < nwas && i < m->n; i++) {
        pprof_mapping_info *e = &m->ents[i].info;
        if (was[i] && !e->loaded && e->died == UINT64_MAX) {
            e->died = m->gen;
            if (m->gen > m->last_death)
                m->last_death = m->gen;
        }
    }
    pprof__release(&m->a, was, (nwas ? nwas : 1) * sizeof *was);
    if (rc == 0)
        rc = rebuild_live(m, err);
    return rc;
}

int pprof_mappings_refresh(pprof_mappings *m, pprof_error *err) {
    return pprof_mappings_refresh_from(m, "/proc/self/maps", "/proc/self/exe", err);
}
