/* Reading a plugin's stamp from its ELF file, without loading it (see
 * elf_peek.h).  Fields are copied out of the buffer with memcpy (the file
 * need not be aligned) into <elf.h>'s types; the byte order is the host's,
 * checked first. */
#include "elf_peek.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dlhost/host.h>
#include <dlhost/status.h>

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_DATA ELFDATA2LSB
#else
#define HOST_DATA ELFDATA2MSB
#endif

#ifndef STB_GNU_UNIQUE
#define STB_GNU_UNIQUE 10
#endif

typedef struct peek {
    const unsigned char *data;
    size_t size;
    Elf64_Ehdr eh;
    char *why;
    size_t why_size;
} peek;

/* The dynamic symbol table, as file offsets. */
typedef struct dynsyms {
    uint64_t symtab, strtab, strsz;   /* strsz 0: unknown */
    uint64_t gnu_hash, sysv_hash;     /* file offsets; valid when has_ */
    int has_gnu, has_sysv;
} dynsyms;

static int fail(peek *p, const char *fmt, ...) DLH_PRINTF(2, 3);
static int fail(peek *p, const char *fmt, ...)
{
    if (p->why && p->why_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->why, p->why_size, fmt, ap);
        va_end(ap);
    }
    return DLH_EPLUGIN;
}

/* Copies n bytes at data[off + index * ent] to dst; 0 when any of them lies
   outside the buffer (or the position does not fit in 64 bits). */
static int get(const peek *p, uint64_t off, uint64_t index, uint64_t ent, void *dst, size_t n)
{
    if (ent != 0 && index > (UINT64_MAX - off) / ent)
        return 0;
    uint64_t pos = off + index * ent;
    if (pos > p->size || n > p->size - pos)
        return 0;
    memcpy(dst, p->data + pos, n);
    return 1;
}

static int phdr(const peek *p, unsigned i, Elf64_Phdr *ph)
{
    return get(p, p->eh.e_phoff, i, sizeof *ph, ph, sizeof *ph);
}

/* The file offset of virtual address v, which must lie in the file part of
   a loadable segment; 0 when it does not. */
static int vaddr_offset(const peek *p, uint64_t v, uint64_t *off)
{
    Elf64_Phdr ph;
    for (unsigned i = 0; i < p->eh.e_phnum && phdr(p, i, &ph); i++) {
        if (ph.p_type == PT_LOAD && v >= ph.p_vaddr && v - ph.p_vaddr < ph.p_filesz) {
            *off = ph.p_offset + (v - ph.p_vaddr);      /* < size: checked in peek_segments */
            return 1;
        }
    }
    return 0;
}

/* n bytes at virtual address v as the loaded object would hold them before
   relocation: the file's bytes, and zeros past a segment's file part (.bss). */
static int read_vaddr(const peek *p, uint64_t v, unsigned char *dst, size_t n)
{
    Elf64_Phdr ph;
    for (unsigned i = 0; i < p->eh.e_phnum && phdr(p, i, &ph); i++) {
        if (ph.p_type != PT_LOAD || v < ph.p_vaddr || v - ph.p_vaddr >= ph.p_memsz ||
            n > ph.p_memsz - (v - ph.p_vaddr))
            continue;
        uint64_t rel = v - ph.p_vaddr;
        for (size_t j = 0; j < n; j++) {
            dst[j] = 0;
            if (rel + j < ph.p_filesz && !get(p, ph.p_offset, rel + j, 1, &dst[j], 1))
                return 0;
        }
        return 1;
    }
    return 0;
}

/* The ELF header: this machine's kind of shared object, or a refusal. */
static int peek_header(peek *p)
{
    static const char not_ours[] = "not a shared object for this machine";
    const unsigned char *id = p->data;
    if (p->size < SELFMAG || memcmp(id, ELFMAG, SELFMAG) != 0)
        return fail(p, "%s (not an ELF file)", not_ours);
    if (p->size < EI_NIDENT || p->size < sizeof p->eh)
        return fail(p, "malformed ELF file: the %zu-byte file ends inside the ELF header",
                    p->size);
    if (id[EI_CLASS] != ELFCLASS64)
        return fail(p, "%s (%s ELF, this machine's are 64-bit)", not_ours,
                    id[EI_CLASS] == ELFCLASS32 ? "32-bit" : "unknown class of");
    if (id[EI_DATA] != HOST_DATA)
        return fail(p, "%s (the ELF file's byte order is not this machine's)", not_ours);
    memcpy(&p->eh, p->data, sizeof p->eh);
    if (p->eh.e_type != ET_DYN)
        return fail(p, "%s (%s, not a shared object)", not_ours,
                    p->eh.e_type == ET_REL    ? "an object file (.o)"
                    : p->eh.e_type == ET_EXEC ? "an executable"
                    : p->eh.e_type == ET_CORE ? "a core dump"
                                              : "an ELF file of unknown type");
#ifdef DLH_ELF_HOST_MACHINE
    if (p->eh.e_machine != DLH_ELF_HOST_MACHINE)
        return fail(p, "%s (built for ELF machine %u, this machine is %u)", not_ours,
                    (unsigned)p->eh.e_machine, (unsigned)DLH_ELF_HOST_MACHINE);
#else
    return fail(p, "%s (dlhost cannot read this machine's shared objects itself)", not_ours);
#endif
    if (id[EI_VERSION] != EV_CURRENT || p->eh.e_version != EV_CURRENT)
        return fail(p, "malformed ELF file: unknown ELF version");
    if (p->eh.e_phentsize != sizeof(Elf64_Phdr) || p->eh.e_phnum == 0)
        return fail(p, "malformed ELF file: no program header table (%u entries of %u bytes)",
                    (unsigned)p->eh.e_phnum, (unsigned)p->eh.e_phentsize);
    Elf64_Phdr last;
    if (!phdr(p, p->eh.e_phnum - 1u, &last))
        return fail(p, "malformed ELF file: the program header table runs past the end of "
                    "the file (%zu bytes)", p->size);
    return 0;
}

/* Every loadable segment lies in the file (a truncated file is refused, not
   mapped: touching a page past its end is SIGBUS); finds PT_DYNAMIC. */
static int peek_segments(peek *p, Elf64_Phdr *dyn, int *has_dyn)
{
    Elf64_Phdr ph;
    unsigned loads = 0;
    *has_dyn = 0;
    for (unsigned i = 0; i < p->eh.e_phnum; i++) {
        if (!phdr(p, i, &ph))
            return fail(p, "malformed ELF file: program header %u is outside the file", i);
        if (ph.p_type == PT_DYNAMIC && !*has_dyn) {
            *dyn = ph;
            *has_dyn = 1;
        }
        if (ph.p_type != PT_LOAD && ph.p_type != PT_DYNAMIC)
            continue;
        if (ph.p_offset > p->size || ph.p_filesz > p->size - ph.p_offset)
            return fail(p, "malformed ELF file: segment %u (bytes %llu + %llu) runs past the "
                        "end of the file (%zu bytes; truncated?)", i,
                        (unsigned long long)ph.p_offset, (unsigned long long)ph.p_filesz,
                        p->size);
        if (ph.p_type == PT_LOAD) {
            if (ph.p_filesz > ph.p_memsz || ph.p_memsz > UINT64_MAX - ph.p_vaddr)
                return fail(p, "malformed ELF file: segment %u has impossible sizes", i);
            loads++;
        }
    }
    if (loads == 0)
        return fail(p, "malformed ELF file: no loadable segment");
    return 0;
}

/* The dynamic symbol table and hash tables named by PT_DYNAMIC.  *found 0:
   the object has none, so no symbol can be looked up in it (dlsym finds
   nothing either). */
static int peek_dynamic(peek *p, const Elf64_Phdr *dyn, dynsyms *t, int *found)
{
    uint64_t symtab = 0, strtab = 0, gnu = 0, sysv = 0;
    int has_symtab = 0, has_strtab = 0;
    Elf64_Dyn d;
    memset(t, 0, sizeof *t);
    *found = 0;
    for (uint64_t i = 0; i < dyn->p_filesz / sizeof d; i++) {
        if (!get(p, dyn->p_offset, i, sizeof d, &d, sizeof d))
            return fail(p, "malformed ELF file: the dynamic section is outside the file");
        if (d.d_tag == DT_NULL)
            break;
        switch (d.d_tag) {
        case DT_SYMTAB: symtab = d.d_un.d_ptr; has_symtab = 1; break;
        case DT_STRTAB: strtab = d.d_un.d_ptr; has_strtab = 1; break;
        case DT_STRSZ: t->strsz = d.d_un.d_val; break;
        case DT_GNU_HASH: gnu = d.d_un.d_ptr; t->has_gnu = 1; break;
        case DT_HASH: sysv = d.d_un.d_ptr; t->has_sysv = 1; break;
        case DT_SYMENT:
            if (d.d_un.d_val != sizeof(Elf64_Sym))
                return fail(p, "malformed ELF file: dynamic symbols of %llu bytes",
                            (unsigned long long)d.d_un.d_val);
            break;
        default: break;
        }
    }
    if (!has_symtab || !has_strtab || (!t->has_gnu && !t->has_sysv))
        return 0;
    if (!vaddr_offset(p, symtab, &t->symtab) || !vaddr_offset(p, strtab, &t->strtab) ||
        (t->has_gnu && !vaddr_offset(p, gnu, &t->gnu_hash)) ||
        (t->has_sysv && !vaddr_offset(p, sysv, &t->sysv_hash)))
        return fail(p, "malformed ELF file: a dynamic symbol or hash table lies outside the "
                    "file's loadable segments");
    *found = 1;
    return 0;
}

/* Symbol idx, when it is `name`, defined and visible to dlsym: 1; not it: 0;
   outside the file: -1. */
static int sym_is(const peek *p, const dynsyms *t, uint64_t idx, const char *name,
                  Elf64_Sym *sym)
{
    char got[32];
    size_t len = strlen(name) + 1;          /* with the NUL: "dlh_plugin" is no prefix match */
    if (!get(p, t->symtab, idx, sizeof *sym, sym, sizeof *sym))
        return -1;
    if (len > sizeof got || (t->strsz && (sym->st_name >= t->strsz ||
                                          len > t->strsz - sym->st_name)))
        return 0;
    if (!get(p, t->strtab, sym->st_name, 1, got, len) || memcmp(got, name, len) != 0)
        return 0;
    unsigned bind = ELF64_ST_BIND(sym->st_info), vis = ELF64_ST_VISIBILITY(sym->st_other);
    return sym->st_shndx != SHN_UNDEF &&
           (bind == STB_GLOBAL || bind == STB_WEAK || bind == STB_GNU_UNIQUE) &&
           (vis == STV_DEFAULT || vis == STV_PROTECTED);
}

static uint32_t gnu_hash(const char *s)
{
    uint32_t h = 5381;
    for (; *s; s++)
        h = h * 33 + (unsigned char)*s;
    return h;
}

static uint32_t sysv_hash(const char *s)
{
    uint32_t h = 0;
    for (; *s; s++) {
        h = (h << 4) + (unsigned char)*s;
        uint32_t g = h & 0xf0000000u;
        if (g)
            h ^= g >> 24;
        h &= ~g;
    }
    return h;
}

/* Looks `name` up as the dynamic loader does, the GNU table first: 1 and
   *sym when found, 0 when absent, DLH_EPLUGIN when the tables are broken. */
static int lookup(peek *p, const dynsyms *t, const char *name, Elf64_Sym *sym)
{
    static const char broken[] = "malformed ELF file: broken %s hash table";
    uint32_t hdr[4];
    if (t->has_gnu) {
        /* nbuckets, symoffset, bloom words, bloom shift; bloom filter; buckets;
           chain (one hash per symbol from symoffset on, last bit: end). */
        if (!get(p, t->gnu_hash, 0, 0, hdr, sizeof hdr) || hdr[0] == 0)
            return fail(p, broken, "GNU");
        uint32_t h = gnu_hash(name), bucket, chain;
        uint64_t buckets = t->gnu_hash + sizeof hdr + (uint64_t)hdr[2] * 8;
        uint64_t chains = buckets + (uint64_t)hdr[0] * 4;
        if (!get(p, buckets, h % hdr[0], 4, &bucket, 4) || (bucket && bucket < hdr[1]))
            return fail(p, broken, "GNU");
        if (bucket == 0)
            return 0;
        /* Each step reads further into the file, so the walk ends. */
        for (uint64_t i = bucket;; i++) {
            if (!get(p, chains, i - hdr[1], 4, &chain, 4))
                return fail(p, broken, "GNU");
            if ((chain | 1u) == (h | 1u)) {
                int is = sym_is(p, t, i, name, sym);
                if (is != 0)
                    return is > 0 ? 1 : fail(p, broken, "GNU");
            }
            if (chain & 1u)
                break;
        }
        return 0;
    }
    /* SysV: nbucket, nchain; buckets; chain.  A chain may loop: at most
       nchain steps. */
    uint32_t idx;
    if (!get(p, t->sysv_hash, 0, 0, hdr, 2 * sizeof hdr[0]) || hdr[0] == 0 ||
        !get(p, t->sysv_hash + 8, sysv_hash(name) % hdr[0], 4, &idx, 4))
        return fail(p, broken, "SysV");
    uint64_t chains = t->sysv_hash + 8 + (uint64_t)hdr[0] * 4;
    /* The chain array must lie in the file, which bounds the walk by the
       file's size rather than by a count of up to 2^32 the file claims. */
    uint32_t last;
    if (hdr[1] > 0 && !get(p, chains, hdr[1] - 1, 4, &last, 4))
        return fail(p, broken, "SysV");
    for (uint64_t steps = 0; idx != STN_UNDEF; steps++) {
        if (idx >= hdr[1] || steps >= hdr[1])
            return fail(p, broken, "SysV");
        int is = sym_is(p, t, idx, name, sym);
        if (is != 0)
            return is > 0 ? 1 : fail(p, broken, "SysV");
        if (!get(p, chains, idx, 4, &idx, 4))
            return fail(p, broken, "SysV");
    }
    return 0;
}

int dlh_elf_peek_plugin(const unsigned char *data, size_t size, dlh_elf_plugin *out,
                        char *why, size_t why_size)
{
    peek p = { .data = data, .size = size, .why = why, .why_size = why_size };
    Elf64_Phdr dyn;
    dynsyms t;
    Elf64_Sym sym;
    int has_dyn = 0, has_syms = 0, rc;
    memset(out, 0, sizeof *out);
    if (why && why_size > 0)
        why[0] = '\0';
    if ((rc = peek_header(&p)) < 0 || (rc = peek_segments(&p, &dyn, &has_dyn)) < 0)
        return rc;
    if (has_dyn && (rc = peek_dynamic(&p, &dyn, &t, &has_syms)) < 0)
        return rc;
    if (!has_syms)
        return 0;

    if ((rc = lookup(&p, &t, "dlh_plugin_init", &sym)) < 0)
        return rc;
    int has_init = rc;
    if ((rc = lookup(&p, &t, "dlh_plugin", &sym)) < 0)
        return rc;
    if (rc) {
        unsigned char head[8];
        if (sym.st_size != 0 && sym.st_size < sizeof head)
            return fail(&p, "malformed ELF file: dlh_plugin is %llu bytes, less than its "
                        "8-byte header", (unsigned long long)sym.st_size);
        if (!read_vaddr(&p, sym.st_value, head, sizeof head))
            return fail(&p, "malformed ELF file: dlh_plugin lies outside the file's "
                        "loadable segments");
        /* struct_size (u32), abi_major, abi_minor (u16): see dlh_plugin_info. */
        memcpy(&out->struct_size, head, 4);
        memcpy(&out->abi_major, head + 4, 2);
        memcpy(&out->abi_minor, head + 6, 2);
        out->has_info = 1;
    }
    out->has_init = has_init;
    return 0;
}

int dlh_elf_peek_plugin_file(const char *path, dlh_elf_plugin *out, char *why,
                             size_t why_size)
{
    peek p = { .why = why, .why_size = why_size };
    struct stat st;
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return fail(&p, "cannot read: %s", strerror(errno));
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return fail(&p, "cannot read: %s", strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return fail(&p, "not a regular file");
    }
    if (st.st_size == 0) {
        close(fd);
        return dlh_elf_peek_plugin((const unsigned char *)"", 0, out, why, why_size);
    }
    if ((uintmax_t)st.st_size > SIZE_MAX) {
        close(fd);
        return fail(&p, "cannot read: the file is larger than this machine's address space");
    }
    /* Pages come in as the reader touches them: the headers, the dynamic and
       hash tables, two symbols and 8 bytes, whatever the file's size.  A file
       cut shorter while it is read would raise SIGBUS, as it would under
       dlopen; only root or this user can change a trusted plugin file. */
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    close(fd);
    if (map == MAP_FAILED)
        return fail(&p, "cannot read: %s", strerror(err));
    int rc = dlh_elf_peek_plugin(map, (size_t)st.st_size, out, why, why_size);
    munmap(map, (size_t)st.st_size);
    return rc;
}
