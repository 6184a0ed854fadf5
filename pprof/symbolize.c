/*
 * symbolize.c — in-process symbolization with libdw (dwfl API): address ->
 * function, source file, line and inline frames, cached per address.
 *
 * Modules: every mapped file gets its own Dwfl session (dwfl_report_elf at
 * the load bias recorded by mappings.c), created on first use and kept, so
 * a library that was dlclose'd, or whose range was later reused, still
 * resolves from its file on disk. Separate debug info is found by
 * dwfl_standard_find_debuginfo (build-id and .debug paths). Its DWARF is
 * only loaded when separate_debug is on: libdw decompresses every debug
 * section of a file it opens, which for Debian's libc6-dbg alone is ~17 MiB
 * and ~30 ms; with it off such modules are named from their symbol tables
 * (the separate file's .symtab still serves, so internal functions keep
 * their names) and get no lines.
 *
 * Per address: the CU's DWARF scopes at the address (dwarf_getscopes, then
 * dwarf_getscopes_die for the concrete parents) give the chain of
 * DW_TAG_inlined_subroutine DIEs up to the DW_TAG_subprogram:
 * the innermost frame gets the line-table line, each outer frame the
 * call_line/call_file of the inlined DIE below it. Without DWARF the ELF
 * symbol table names the function (dwfl_module_addrinfo) and the line table
 * still gives file:line when present. Names: system_name is the linkage
 * (mangled) name, name its demangled form.
 *
 * Demangling uses __cxa_demangle looked up with dlsym(RTLD_DEFAULT) once:
 * every C++ program has libstdc++ (or libc++abi, same symbol) loaded, and
 * C programs have nothing to demangle, so the library needs no link
 * dependency on a C++ runtime. When no demangler is loaded, names stay
 * mangled (pprof's own demangler can still handle them).
 *
 * Cache: a libgomap map[uint64]uint64 from address to its result record,
 * which also names the mappings entry it was resolved against: a record is
 * only reused while the address still resolves to that entry (a dump may
 * meet an address of a library loaded after its mappings refresh, and a
 * later dump the same address with the library known). Records and
 * strings live in the symbolizer's arena until it is freed.
 * libdw allocates with libc malloc internally (see pprof.h).
 * Non-goals: JIT code, kernel addresses, symbolizing other processes.
 */
#include "pprof/internal.h"

#include <dlfcn.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>

typedef struct module {
    const char *path; /* in the arena */
    uint64_t bias;
    Dwfl *dwfl;     /* NULL when the file could not be opened */
    bool use_dwarf; /* DWARF may be loaded (see pprof_symbolizer_separate_debug) */
} module;

typedef struct result {
    pprof_frame *frames;
    size_t n;
    unsigned flags;
    size_t mapping; /* 1 + the mappings entry resolved against; 0: none */
} result;

struct pprof_symbolizer {
    pprof_allocator a;
    gomap_alloc ga;
    pprof__arena ar;
    gomap *cache; /* address -> (result *) */
    module *mods;
    size_t nmods, capmods;
    size_t last;         /* index of the last module used (lookup shortcut) */
    bool separate_debug; /* load DWARF from separate debug files too */
};

static char *debuginfo_path;
static const Dwfl_Callbacks callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .debuginfo_path = &debuginfo_path,
};

int pprof_symbolizer_new(const pprof_allocator *a, pprof_symbolizer **out, pprof_error *err) {
    pprof_allocator al = pprof__allocator(a);
    pprof_symbolizer *s = pprof__alloc(&al, sizeof *s);
    if (!s)
        return pprof__err(err, -ENOMEM, "symbolizer: out of memory");
    s->a = al;
    pprof__gomap_alloc(&s->ga, &s->a);
    pprof__arena_init(&s->ar, &s->a);
    int rc = pprof__gomap_new(&gomap_type_u64_u64, 1024, &s->ga, &s->cache);
    if (rc < 0) {
        pprof__release(&al, s, sizeof *s);
        return pprof__err(err, rc, "symbolizer: cannot create the address cache");
    }
    s->separate_debug = true;
    *out = s;
    return 0;
}

void pprof_symbolizer_separate_debug(pprof_symbolizer *s, bool on) {
    s->separate_debug = on;
}

/* Does the file itself carry DWARF (as opposed to a separate debug file)?
 * Only section headers are read: no DWARF is loaded or decompressed. */
static bool has_own_dwarf(Dwfl_Module *mod) {
    GElf_Addr bias;
    Elf *elf = dwfl_module_getelf(mod, &bias);
    size_t shstrndx;
    if (!elf || elf_getshdrstrndx(elf, &shstrndx) != 0)
        return false;
    for (Elf_Scn *scn = NULL; (scn = elf_nextscn(elf, scn));) {
        GElf_Shdr sh;
        const char *name = gelf_getshdr(scn, &sh) ? elf_strptr(elf, shstrndx, sh.sh_name) : NULL;
        if (name && (!strcmp(name, ".debug_info") || !strcmp(name, ".zdebug_info")))
            return sh.sh_type != SHT_NOBITS;
    }
    return false;
}

void pprof_symbolizer_free(pprof_symbolizer *s) {
    if (!s)
        return;
    for (size_t i = 0; i < s->nmods; i++)
        if (s->mods[i].dwfl)
            dwfl_end(s->mods[i].dwfl);
    pprof__release(&s->a, s->mods, s->capmods * sizeof *s->mods);
    gomap_free(s->cache);
    pprof__arena_free(&s->ar);
    pprof_allocator a = s->a;
    pprof__release(&a, s, sizeof *s);
}

typedef char *(*cxa_demangle_fn)(const char *, char *, size_t *, int *);

char *pprof_demangle(const char *name) {
    static cxa_demangle_fn fn;
    if (!name || name[0] != '_' || name[1] != 'Z')
        return NULL;
    cxa_demangle_fn f = __atomic_load_n(&fn, __ATOMIC_ACQUIRE);
    if (!f) {
        /* Looked up until found: a C++ runtime may be dlopen'ed later. */
        void *sym = dlsym(RTLD_DEFAULT, "__cxa_demangle");
        if (!sym)
            return NULL;
        memcpy(&f, &sym, sizeof f);
        __atomic_store_n(&fn, f, __ATOMIC_RELEASE);
    }
    int status = -1;
    char *r = f(name, NULL, NULL, &status);
    if (status != 0) {
        free(r);
        return NULL;
    }
    return r;
}

/* The Dwfl session for a mapping's file, created on first use. */
static int module_for(pprof_symbolizer *s, const pprof_mapping_info *mi, module **out,
                      pprof_error *err) {
    if (s->last < s->nmods && s->mods[s->last].bias == mi->bias &&
        strcmp(s->mods[s->last].path, mi->path) == 0) {
        *out = &s->mods[s->last];
        return 0;
    }
    for (size_t i = 0; i < s->nmods; i++)
        if (s->mods[i].bias == mi->bias && strcmp(s->mods[i].path, mi->path) == 0) {
            s->last = i;
            *out = &s->mods[i];
            return 0;
        }
    if (s->nmods == s->capmods) {
        size_t nc = s->capmods ? 2 * s->capmods : 16;
        module *nm = pprof__alloc(&s->a, nc * sizeof *nm);
        if (!nm)
            return pprof__err(err, -ENOMEM, "symbolizer: out of memory");
        if (s->nmods)
            memcpy(nm, s->mods, s->nmods * sizeof *nm);
        pprof__release(&s->a, s->mods, s->capmods * sizeof *s->mods);
        s->mods = nm;
        s->capmods = nc;
    }
    module *m = &s->mods[s->nmods];
    m->path = pprof__arena_strndup(&s->ar, mi->path, strlen(mi->path));
    if (!m->path)
        return pprof__err(err, -ENOMEM, "symbolizer: out of memory");
    m->bias = mi->bias;
    m->dwfl = NULL;
    m->use_dwarf = false;
    if (mi->path[0] == '/') {
        Dwfl *d = dwfl_begin(&callbacks);
        if (d) {
            dwfl_report_begin(d);
            Dwfl_Module *mod = dwfl_report_elf(d, mi->path, mi->path, -1, mi->bias, true);
            if (dwfl_report_end(d, NULL, NULL) == 0 && mod) {
                m->dwfl = d;
                m->use_dwarf = s->separate_debug || has_own_dwarf(mod);
            } else
                dwfl_end(d);
        }
    }
    s->last = s->nmods++;
    *out = m;
    return 0;
}

static const char *attr_string(Dwarf_Die *die, int name) {
    Dwarf_Attribute at;
    return dwarf_attr_integrate(die, name, &at) ? dwarf_formstring(&at) : NULL;
}

static const char *die_linkage_name(Dwarf_Die *die) {
    const char *n = attr_string(die, DW_AT_linkage_name);
    return n ? n : attr_string(die, DW_AT_MIPS_linkage_name);
}

static const char *copy(pprof_symbolizer *s, const char *str) {
    if (!str)
        return "";
    return pprof__arena_strndup(&s->ar, str, strlen(str));
}

/* Fill f's names from a linkage name and/or plain name. */
static int set_names(pprof_symbolizer *s, pprof_frame *f, const char *linkage, const char *plain) {
    const char *sys = linkage ? linkage : plain;
    f->system_name = copy(s, sys);
    char *dm = linkage ? pprof_demangle(linkage) : NULL;
    f->name = dm ? copy(s, dm) : (linkage || !plain ? f->system_name : copy(s, plain));
    free(dm);
    return f->name && f->system_name ? 0 : -ENOMEM;
}

/* The CU containing addr. dwfl_module_addrdie relies on .debug_aranges,
 * which clang does not emit (and libdw 0.188 does not synthesize), so fall
 * back to asking every CU for its ranges; results are cached per address. */
static Dwarf_Die *find_cu(Dwfl_Module *mod, Dwarf_Addr addr, Dwarf_Addr *bias) {
    Dwarf_Die *cu = dwfl_module_addrdie(mod, addr, bias);
    if (cu)
        return cu;
    while ((cu = dwfl_module_nextcu(mod, cu, bias)))
        if (dwarf_haspc(cu, addr - *bias) == 1)
            return cu;
    return NULL;
}

/* Resolve addr in module m into a new result (frames in the arena). */
static int resolve(pprof_symbolizer *s, module *m, uint64_t addr, result *r) {
    Dwfl_Module *mod = m->dwfl ? dwfl_addrmodule(m->dwfl, addr) : NULL;
    if (!mod)
        return 0;
    const char *lfile = NULL;
    int lline = 0;
    Dwarf_Addr bias = 0;
    Dwarf_Die *cu = m->use_dwarf ? find_cu(mod, addr, &bias) : NULL;
    Dwfl_Line *dl = m->use_dwarf ? dwfl_module_getsrc(mod, addr) : NULL;
    if (dl) {
        lfile = dwfl_lineinfo(dl, NULL, &lline, NULL, NULL, NULL);
    } else if (cu) {
        Dwarf_Line *ln = dwarf_getsrc_die(cu, addr - bias);
        if (ln && (lfile = dwarf_linesrc(ln, NULL, NULL)) && dwarf_lineno(ln, &lline) != 0)
            lline = 0;
    }
    Dwarf_Die *scopes = NULL;
    int nsc = cu ? dwarf_getscopes(cu, addr - bias, &scopes) : 0;
    /* dwarf_getscopes continues an inlined instance with the scopes of its
     * abstract definition; the concrete chain of callers comes from
     * dwarf_getscopes_die on the innermost function-like scope. */
    for (int i = 0; i < nsc; i++) {
        int tag = dwarf_tag(&scopes[i]);
        if (tag == DW_TAG_inlined_subroutine || tag == DW_TAG_subprogram) {
            Dwarf_Die *chain = NULL;
            int nch = dwarf_getscopes_die(&scopes[i], &chain);
            free(scopes);
            scopes = chain;
            nsc = nch > 0 ? nch : 0;
            break;
        }
    }
    size_t nfn = 0;
    for (int i = 0; i < nsc; i++) {
        int tag = dwarf_tag(&scopes[i]);
        if (tag == DW_TAG_inlined_subroutine || tag == DW_TAG_subprogram)
            nfn++;
        if (tag == DW_TAG_subprogram)
            break;
    }
    int rc = 0;
    if (nfn > 0) {
        Dwarf_Files *files = NULL;
        size_t nfiles = 0;
        if (dwarf_getsrcfiles(cu, &files, &nfiles) != 0)
            files = NULL;
        r->frames = pprof__arena_alloc(&s->ar, nfn * sizeof *r->frames);
        if (!r->frames) {
            rc = -ENOMEM;
            goto out;
        }
        const char *file = lfile;
        int64_t line = lline;
        for (int i = 0; i < nsc && r->n < nfn; i++) {
            Dwarf_Die *d = &scopes[i];
            int tag = dwarf_tag(d);
            if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram)
                continue;
            pprof_frame *f = &r->frames[r->n++];
            if ((rc = set_names(s, f, die_linkage_name(d), attr_string(d, DW_AT_name))) < 0)
                goto out;
            const char *decl = dwarf_decl_file(d);
            f->file = copy(s, decl ? decl : file);
            f->line = line;
            int dl_line = 0;
            if (dwarf_decl_line(d, &dl_line) == 0)
                f->start_line = dl_line;
            if (!f->file) {
                rc = -ENOMEM;
                goto out;
            }
            if (tag == DW_TAG_inlined_subroutine) {
                /* The caller continues at the call site of this inlined copy. */
                Dwarf_Attribute at;
                Dwarf_Word w;
                line = dwarf_attr(d, DW_AT_call_line, &at) && dwarf_formudata(&at, &w) == 0
                           ? (int64_t)w
                           : 0;
                file = NULL;
                if (files && dwarf_attr(d, DW_AT_call_file, &at) && dwarf_formudata(&at, &w) == 0 &&
                    w < nfiles)
                    file = dwarf_filesrc(files, w, NULL, NULL);
            }
        }
        r->flags |= PPROF_SYM_DWARF;
        goto out;
    }
    /* No DWARF subprogram: the ELF symbol table, plus the line table if any. */
    GElf_Off off;
    GElf_Sym sym;
    const char *name = dwfl_module_addrinfo(mod, addr, &off, &sym, NULL, NULL, NULL);
    if (!name && !lfile)
        goto out;
    r->frames = pprof__arena_alloc(&s->ar, sizeof *r->frames);
    if (!r->frames) {
        rc = -ENOMEM;
        goto out;
    }
    pprof_frame *f = &r->frames[0];
    /* Symbol versions ("memcpy@@GLIBC_2.14") are not part of the name. */
    char unversioned[256];
    const char *at = name ? strchr(name, '@') : NULL;
    if (at && (size_t)(at - name) < sizeof unversioned) {
        memcpy(unversioned, name, (size_t)(at - name));
        unversioned[at - name] = 0;
        name = unversioned;
    }
    if (name && (rc = set_names(s, f, name[0] == '_' && name[1] == 'Z' ? name : NULL, name)) < 0)
        goto out;
    if (!name)
        f->name = f->system_name = "";
    f->file = copy(s, lfile);
    f->line = lfile ? lline : 0;
    if (!f->file) {
        rc = -ENOMEM;
        goto out;
    }
    r->n = 1;
out:
    free(scopes);
    return rc;
}

int pprof_symbolize(pprof_symbolizer *s, const pprof_mappings *maps, uint64_t addr,
                    const pprof_frame **frames, size_t *n, unsigned *flags, pprof_error *err) {
    /* A cached result holds only while addr still resolves to the same
     * mappings entry: an address first seen outside every known mapping
     * (a library loaded after the last refresh), or in a library that has
     * since been unloaded and replaced, is resolved again. Entries never
     * move, so an index names one library's life for good. */
    size_t idx = 0;
    const pprof_mapping_info *mi = pprof_mappings_find(maps, addr, &idx);
    size_t mapping = mi ? idx + 1 : 0;
    uint64_t *slot = gomap_lookup_u64(s->cache, addr);
    result *r = NULL;
    if (slot)
        memcpy(&r, slot, sizeof r);
    if (!r || r->mapping != mapping) {
        r = pprof__arena_alloc(&s->ar, sizeof *r);
        if (!r)
            return pprof__err(err, -ENOMEM, "symbolizer: out of memory");
        *r = (result){.mapping = mapping};
        if (mi) {
            module *m = NULL;
            int rc = module_for(s, mi, &m, err);
            if (rc == 0 && (rc = resolve(s, m, addr, r)) < 0)
                pprof__err(err, rc, "symbolizer: out of memory");
            if (rc < 0)
                return rc;
        }
        void *elem;
        int rc = gomap_assign_u64(s->cache, addr, &elem);
        if (rc < 0)
            return pprof__err(err, rc, "symbolizer: out of memory (address cache)");
        memcpy(elem, &r, sizeof r);
    }
    *frames = r->frames;
    *n = r->n;
    if (flags)
        *flags = r->flags;
    return 0;
}
