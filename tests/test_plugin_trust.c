/* Where plugins may be loaded from, and what runs before one is trusted:
 * the trust rule on files and folders (core/plugin_trust.h) on copies of the
 * good fixture with each unsafe mode, owner and link; fixtures whose
 * constructors must not run because the loader refuses them from the file;
 * and the ELF reader (core/elf_peek.h) on the fixtures and on truncated and
 * corrupted copies of one. */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture.h"
#include "elf_peek.h"
#include "error.h"
#include "plugin_trust.h"
#include "registry.h"
#include "tap.h"
#include "tmpdir.h"

#ifdef DLH_ELF_HOST_MACHINE
#define HOST_MACHINE DLH_ELF_HOST_MACHINE
#else
#define HOST_MACHINE 0
#endif

static char fixtures[4096];
static char base[4096];             /* this test's folder: 0700, ours */
static char path_buf[8][4400];

static int has(const char *haystack, const char *needle)
{
    return haystack && strstr(haystack, needle) != NULL;
}

/* base/rel; the last 8 results stay valid. */
static const char *at(const char *rel)
{
    static unsigned next;
    char *p = path_buf[next++ % 8];
    snprintf(p, sizeof path_buf[0], "%s/%s", base, rel);
    return p;
}

static const char *fixture(const char *name)
{
    static char p[4200];
    snprintf(p, sizeof p, "%s/%s.so", fixtures, name);
    return p;
}

static unsigned char *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    unsigned char *data = NULL;
    long n = -1;
    if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (data = malloc((size_t)n)) != NULL && fread(data, 1, (size_t)n, f) != (size_t)n) {
        free(data);
        data = NULL;
    }
    if (f)
        fclose(f);
    if (!data) {
        printf("Bail out! cannot read %s\n", path);
        exit(1);
    }
    *size = (size_t)n;
    return data;
}

static void set_mode(const char *path, mode_t mode)
{
    if (chmod(path, mode) != 0) {
        printf("Bail out! chmod %o %s: %s\n", (unsigned)mode, path, strerror(errno));
        exit(1);
    }
}

/* mkdir ignores bits the umask clears: chmod after it. */
static void folder(const char *rel, mode_t mode)
{
    const char *p = at(rel);
    if (mkdir(p, 0700) != 0) {
        printf("Bail out! mkdir %s: %s\n", p, strerror(errno));
        exit(1);
    }
    set_mode(p, mode);
}

/* A copy of fixture `name` at base/rel with `mode`. */
static const char *copy_fixture(const char *name, const char *rel, mode_t mode)
{
    size_t size;
    unsigned char *data = slurp(fixture(name), &size);
    const char *p = at(rel);
    tmpdir_write(p, data, size);
    free(data);
    set_mode(p, mode);
    return p;
}

static void link_to(const char *target, const char *rel)
{
    if (symlink(target, at(rel)) != 0) {
        printf("Bail out! symlink %s: %s\n", at(rel), strerror(errno));
        exit(1);
    }
}

/* ok() on a refusal of `path` whose message holds every needle (NULL-ended). */
static void refused(const char *path, const char *what, ...)
{
    dlh_registry_clear();
    int rc = dlh_registry_load_file(path);
    const char *msg = dlh_error_get();
    int all = rc == DLH_EPLUGIN && has(msg, path) && has(msg, ": refused: ");
    va_list ap;
    va_start(ap, what);
    for (const char *n = va_arg(ap, const char *); n; n = va_arg(ap, const char *))
        all &= has(msg, n);
    va_end(ap);
    if (!ok(all, "%s is refused", what))
        diag("rc %d, got: %s", rc, msg);
}

static void accepted(const char *path, const char *what)
{
    dlh_registry_clear();
    int rc = dlh_registry_load_file(path);
    ok(rc == 0 && dlh_registry_find(DLH_KIND_SCHEDULE, "fixture_const"), "%s loads (%s)", what,
       rc ? dlh_error_get() : "ok");
}

/* A group of ours that is not our private group (as root, any group). */
static int foreign_group(gid_t *gid)
{
    uid_t me = geteuid();
    gid_t groups[256];
    if (me == 0) {
        *gid = 65534;
        return !dlh_plugin_trust_private_group(me, *gid);
    }
    int n = getgroups(255, groups);
    if (n < 0)
        n = 0;
    groups[n++] = getegid();
    for (int i = 0; i < n; i++) {
        if (!dlh_plugin_trust_private_group(me, groups[i])) {
            *gid = groups[i];
            return 1;
        }
    }
    return 0;
}

static void set_group(const char *path, gid_t gid, mode_t mode)
{
    if (chown(path, (uid_t)-1, gid) != 0) {
        printf("Bail out! chgrp %u %s: %s\n", (unsigned)gid, path, strerror(errno));
        exit(1);
    }
    set_mode(path, mode);           /* chown may clear set-id bits */
}

static void test_trust_rule(void)
{
    folder("ok", 0755);
    accepted(copy_fixture("good", "ok/good.so", 0644), "a 0644 file in a 0755 folder of ours");

    folder("wfile", 0755);
    refused(copy_fixture("good", "wfile/good.so", 0646), "a world-writable file",
            "is writable by every user (mode 0646)", "chmod o-w ", NULL);
    set_mode(at("wfile/good.so"), 0666);
    refused(at("wfile/good.so"), "a file writable by all", "(mode 0666)", NULL);

    folder("wdir", 0777);
    copy_fixture("good", "wdir/good.so", 0644);
    refused(at("wdir/good.so"), "a 0644 file in a world-writable folder",
            "the folder ", "/wdir is writable by every user (mode 0777); chmod ", NULL);
    folder("sdir", 01777);
    refused(copy_fixture("good", "sdir/good.so", 0644),
            "a file in a sticky world-writable folder (the plugin's own folder)",
            "/sdir is writable by every user (mode 1777); move the plugin", NULL);

    folder("open", 0777);
    folder("open/x", 0755);
    refused(copy_fixture("good", "open/x/good.so", 0644),
            "a file under a world-writable folder without the sticky bit",
            "/open is writable by every user (mode 0777)", NULL);
    folder("sticky", 01777);
    folder("sticky/x", 0755);
    accepted(copy_fixture("good", "sticky/x/good.so", 0644),
             "a file in a 0755 folder of ours under a sticky 1777 one (like /tmp/x)");

    /* Links: the file's own folder and the folder of the name given both count. */
    folder("links", 0755);
    link_to(at("wdir/good.so"), "links/to_wdir.so");
    refused(at("links/to_wdir.so"), "a link in a safe folder to a file in a world-writable one",
            "/wdir is writable by every user", NULL);
    link_to(at("ok/good.so"), "wdir/to_ok.so");
    refused(at("wdir/to_ok.so"), "a link in a world-writable folder to a safe file",
            "/wdir is writable by every user", NULL);

    gid_t gid;
    if (foreign_group(&gid)) {
        folder("gfile", 0755);
        copy_fixture("good", "gfile/good.so", 0644);
        set_group(at("gfile/good.so"), gid, 0664);
        refused(at("gfile/good.so"), "a file writable by a group that is not its owner's own",
                "is writable by group ", "(mode 0664); chmod g-w ", NULL);
        folder("gdir", 0755);
        copy_fixture("good", "gdir/good.so", 0644);
        set_group(at("gdir"), gid, 0775);
        refused(at("gdir/good.so"), "a file in a folder writable by a group not its owner's own",
                "/gdir is writable by group ", NULL);
    } else {
        skip("every group of yours is your private group: no group-writable file to refuse");
        skip("every group of yours is your private group: no group-writable folder to refuse");
    }
    if (dlh_plugin_trust_private_group(geteuid(), getegid())) {
        folder("upg", 0755);
        copy_fixture("good", "upg/good.so", 0644);
        set_group(at("upg"), getegid(), 0775);
        set_group(at("upg/good.so"), getegid(), 0664);
        accepted(at("upg/good.so"), "umask 002: a 0664 file in a 0775 folder of our private group");
    } else {
        skip("your primary group is not private (it has other members)");
    }

    /* Given to nobody (65534): the file, then the folder. */
    static const struct {
        const char *dir, *chown, *what, *why;
    } others[] = {
        { "other", "other/good.so", "a file owned by another user", "/other/good.so belongs to " },
        { "otherdir", "otherdir", "a file in a folder owned by another user",
          "the folder " },
    };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        if (geteuid() != 0) {
            skip("not root: only root can give a file or folder to another user (uid 65534)");
            continue;
        }
        char rel[64];
        snprintf(rel, sizeof rel, "%s/good.so", others[i].dir);
        folder(others[i].dir, 0755);
        copy_fixture("good", rel, 0644);
        if (chown(at(others[i].chown), 65534, 65534) != 0)
            diag("chown 65534 %s failed: %s", others[i].chown, strerror(errno));
        refused(at(rel), others[i].what, others[i].why, "uid 65534", NULL);
    }

    /* Refusals that were never about trust. */
    tmpdir_put(at("ok"), "junk.so", "not an ELF file\n");
    set_mode(at("ok/junk.so"), 0644);
    dlh_registry_clear();
    int rc = dlh_registry_load_file(at("ok/junk.so"));
    ok(rc == DLH_EPLUGIN && has(dlh_error_get(), "/ok/junk.so: not a shared object for this "
                                "machine (not an ELF file)"),
       "a file that is not ELF is refused before dlopen: %s", dlh_error_get());
    if (mkfifo(at("ok/fifo.so"), 0644) == 0) {
        rc = dlh_registry_load_file(at("ok/fifo.so"));
        ok(rc == DLH_EPLUGIN && has(dlh_error_get(), "fifo.so: cannot load: not a regular file"),
           "a FIFO is refused without blocking: %s", dlh_error_get());
    } else {
        skip("mkfifo failed");
    }
    dlh_registry_clear();
}

/* What dlopen itself refuses still gets dlerror and the ldd hint: a copy of
   good.so with an ELF ABI version glibc does not know, which the ELF reader
   leaves to the dynamic loader. */
static void test_dlopen_failure(void)
{
#ifdef __GLIBC__
    size_t size;
    unsigned char *data = slurp(fixture("good"), &size);
    data[EI_ABIVERSION] = 0x7f;
    tmpdir_write(at("ok/abi_version.so"), data, size);
    set_mode(at("ok/abi_version.so"), 0644);
    free(data);
    dlh_registry_clear();
    int rc = dlh_registry_load_file(at("ok/abi_version.so"));
    const char *msg = dlh_error_get();
    ok(rc == DLH_EPLUGIN && has(msg, "abi_version.so: cannot load: ") &&
       has(msg, "(try: ldd "), "a file dlopen refuses: dlerror and the ldd hint: %s", msg);
#else
    skip("the C library is not glibc: which ELF headers its dlopen refuses is not known");
#endif
}

/* A folder scan from nothing: its status; what it wrote to stderr in *err. */
static int scan(int strict, char **err)
{
    dlh_registry_clear();
    capture_begin();
    int rc = dlh_registry_load_all(strict);
    *err = capture_end();           /* leaves the error message as it was */
    return rc;
}

static void test_folder_scan(void)
{
    folder("mixed", 0755);
    copy_fixture("good", "mixed/a_unsafe.so", 0666);
    copy_fixture("good", "mixed/b_fine.so", 0644);
    char path[9000];
    snprintf(path, sizeof path, "%s:%s", at("wdir"), at("mixed"));
    setenv("DLHOST_PLUGIN_PATH", path, 1);
    setenv("DLHOST_PLUGIN_PATH_ONLY", "1", 1);

    char *err;
    int rc = scan(0, &err);
    const dlh_component *c = dlh_registry_find(DLH_KIND_SCHEDULE, "fixture_const");
    ok(rc == 0 && c && c->plugin && has(c->plugin->path, "/mixed/b_fine.so"),
       "a lenient scan loads the safe file and skips the others");
    const char *first = strstr(err, "/wdir: refused: the folder ");
    ok(first && !strstr(first + 1, "/wdir: refused") && !has(err, "/wdir/good.so"),
       "an unsafe folder is reported once, not per file");
    ok(has(err, "warning: ") && has(err, "/mixed/a_unsafe.so: refused: the file "),
       "an unsafe file in a safe folder is reported and skipped");
    if (!ok(!has(err, "b_fine"), "the safe file loads without a word"))
        diag("%s", err);
    free(err);

    rc = scan(1, &err);
    ok(rc == DLH_EPLUGIN && has(dlh_error_get(), "/wdir: refused: the folder ") &&
       !has(err, "/wdir"), "a strict scan fails on the unsafe folder: %s", dlh_error_get());
    free(err);
    unsetenv("DLHOST_PLUGIN_PATH");
    dlh_registry_clear();
}

/* The marker fixtures' constructors append their name to $DLHOST_TEST_MARKER. */
static void test_constructors(void)
{
    static const struct {
        const char *name, *why;
    } cases[] = {
        { "marker_nostamp", "marker_nostamp.so: not a dlhost plugin (no dlh_plugin symbol)" },
        { "marker_abi99", "marker_abi99.so: plugin was built for ABI 99.0" },
        { "marker_noinit", "marker_noinit.so: plugin has no dlh_plugin_init function" },
    };
    const char *marker = at("marker.txt");
    char *marker_copy = strdup(marker);
    setenv("DLHOST_TEST_MARKER", marker_copy, 1);
    if (!DLH_ELF_PEEK_HOST) {
        for (size_t i = 0; i < 2 * sizeof cases / sizeof cases[0] + 1; i++)
            skip("no ELF reader for this machine: the loader relies on dlopen alone");
        free(marker_copy);
        return;
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dlh_registry_clear();
        int rc = dlh_registry_load_file(fixture(cases[i].name));
        ok(rc == DLH_EPLUGIN && has(dlh_error_get(), cases[i].why), "%s is refused: %s",
           cases[i].name, dlh_error_get());
        ok(access(marker_copy, F_OK) != 0, "%s: its constructor did not run", cases[i].name);
    }
    /* The marker works: opened directly, the constructor leaves it. */
    void *h = dlopen(fixture("marker_nostamp"), RTLD_NOW | RTLD_LOCAL);
    size_t size = 0;
    unsigned char *text = h && access(marker_copy, F_OK) == 0 ? slurp(marker_copy, &size) : NULL;
    ok(text && size >= 15 && memcmp(text, "marker_nostamp\n", 15) == 0,
       "control: dlopen runs marker_nostamp's constructor, which leaves the mark");
    free(text);
    unsetenv("DLHOST_TEST_MARKER");
    free(marker_copy);
    dlh_registry_clear();
}

/* ---- the ELF reader ---- */

/* Peeks at a malloc'd copy of exactly `size` bytes, so that valgrind sees
   any read past the end. */
static int peek_exact(const unsigned char *data, size_t size, dlh_elf_plugin *out,
                      char *why, size_t why_size)
{
    unsigned char *copy = calloc(size ? size : 1, 1);
    if (!copy) {
        printf("Bail out! out of memory\n");
        exit(1);
    }
    memcpy(copy, data, size);
    int rc = dlh_elf_peek_plugin(copy, size, out, why, why_size);
    free(copy);
    return rc;
}

static void test_elf_fixtures(void)
{
    static const struct {
        const char *name;
        int info, init, major, minor;
    } cases[] = {
        { "good", 1, 1, DLH_ABI_MAJOR, DLH_ABI_MINOR },
        { "bad_abi", 1, 1, 99, 0 },
        { "newer_minor", 1, 1, DLH_ABI_MAJOR, DLH_ABI_MINOR + 1 },
        { "no_info", 0, 1, 0, 0 },
        { "no_init", 1, 0, DLH_ABI_MAJOR, DLH_ABI_MINOR },
        { "marker_abi99", 1, 1, 99, 0 },     /* SysV hash table only */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dlh_elf_plugin e;
        char why[256];
        int rc = dlh_elf_peek_plugin_file(fixture(cases[i].name), &e, why, sizeof why);
        ok(rc == 0 && e.has_info == cases[i].info && e.has_init == cases[i].init &&
           e.abi_major == cases[i].major && e.abi_minor == cases[i].minor &&
           e.struct_size == (cases[i].info ? sizeof(dlh_plugin_info) : 0),
           "ELF reader: %s.so has dlh_plugin %d, dlh_plugin_init %d, ABI %d.%d (%s)",
           cases[i].name, e.has_info, e.has_init, e.abi_major, e.abi_minor,
           rc ? why : "read");
    }
    dlh_elf_plugin e;
    char why[256];
    int rc = dlh_elf_peek_plugin_file(fixtures, &e, why, sizeof why);
    ok(rc == DLH_EPLUGIN && strcmp(why, "not a regular file") == 0,
       "ELF reader: a folder is not read (%s)", why);
    rc = dlh_elf_peek_plugin_file(at("ok/absent.so"), &e, why, sizeof why);
    ok(rc == DLH_EPLUGIN && has(why, "cannot read: No such file"),
       "ELF reader: a missing file (%s)", why);
    rc = dlh_elf_peek_plugin((const unsigned char *)"", 0, &e, NULL, 0);
    ok(rc == DLH_EPLUGIN && !e.has_info && !e.has_init,
       "ELF reader: an empty buffer, and no room for the reason");
}

/* A refusal, in the reader's terms: an error with a reason, or a file that
   does not define both symbols. */
static int is_refusal(int rc, const dlh_elf_plugin *e, const char *why)
{
    if (rc < 0)
        return has(why, "not a shared object for this machine (") ||
               strncmp(why, "malformed ELF file: ", 20) == 0;
    return !e->has_info || !e->has_init;
}

static void test_elf_truncated(const unsigned char *data, size_t size)
{
    dlh_elf_plugin full, e;
    char why[256];
    int rc = peek_exact(data, size, &full, why, sizeof why);
    ok(rc == 0 && full.has_info && full.has_init, "ELF reader: good.so in memory (%s)",
       rc ? why : "read");
    size_t early_refused = 0, later_refused = 0, same = 0, other = 0;
    size_t early = size < 4096 ? size : 4096;
    for (size_t len = 0; len < size; len++) {
        rc = peek_exact(data, len, &e, why, sizeof why);
        if (rc < 0 && is_refusal(rc, &e, why))
            *(len < early ? &early_refused : &later_refused) += 1;
        else if (rc == 0 && memcmp(&e, &full, sizeof e) == 0)
            same++;
        else
            other++;
    }
    ok(early_refused == early, "ELF reader: every prefix shorter than %zu bytes is refused "
       "(%zu of %zu)", early, early_refused, early);
    ok(other == 0, "ELF reader: every longer prefix is refused (%zu) or, where the segments "
       "are all in it, reads as the whole file (%zu); %zu differ", later_refused, same, other);
}

/* Sets `n` bytes at data[off] to `v` (host order). */
static void poke(unsigned char *data, size_t off, uint64_t v, size_t n)
{
    if (n == 8) {
        memcpy(data + off, &v, 8);
    } else if (n == 4) {
        uint32_t w = (uint32_t)v;
        memcpy(data + off, &w, 4);
    } else if (n == 2) {
        uint16_t w = (uint16_t)v;
        memcpy(data + off, &w, 2);
    } else {
        data[off] = (unsigned char)v;
    }
}

/* The offset of the first program header of `type`, or 0. */
static size_t phdr_of(const unsigned char *data, uint32_t type)
{
    Elf64_Ehdr eh;
    memcpy(&eh, data, sizeof eh);
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        size_t off = (size_t)eh.e_phoff + i * sizeof ph;
        memcpy(&ph, data + off, sizeof ph);
        if (ph.p_type == type)
            return off;
    }
    return 0;
}

/* The file offset of virtual address v (in some PT_LOAD's file part), or 0. */
static size_t file_offset(const unsigned char *data, uint64_t v)
{
    Elf64_Ehdr eh;
    memcpy(&eh, data, sizeof eh);
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        memcpy(&ph, data + eh.e_phoff + i * sizeof ph, sizeof ph);
        if (ph.p_type == PT_LOAD && v >= ph.p_vaddr && v - ph.p_vaddr < ph.p_filesz)
            return (size_t)(ph.p_offset + (v - ph.p_vaddr));
    }
    return 0;
}

static void test_elf_corrupted(const unsigned char *data, size_t size)
{
    size_t load = phdr_of(data, PT_LOAD), dyn = phdr_of(data, PT_DYNAMIC);
    Elf64_Phdr dph;
    memcpy(&dph, data + dyn, sizeof dph);
    const struct {
        const char *what;
        size_t off, n;
        uint64_t value;
        const char *why;
    } flips[] = {
        { "bad magic", 0, 1, 0x7e, "(not an ELF file)" },
        { "32-bit class", EI_CLASS, 1, ELFCLASS32, "(32-bit ELF" },
        { "unknown class", EI_CLASS, 1, 7, "(unknown class of ELF" },
        { "other byte order", EI_DATA, 1,
          __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2MSB : ELFDATA2LSB, "byte order" },
        { "an executable", offsetof(Elf64_Ehdr, e_type), 2, ET_EXEC, "(an executable" },
        { "an object file", offsetof(Elf64_Ehdr, e_type), 2, ET_REL, "(an object file (.o)" },
        { "another machine", offsetof(Elf64_Ehdr, e_machine), 2,
          HOST_MACHINE == EM_AARCH64 ? EM_X86_64 : EM_AARCH64, "built for ELF machine" },
        { "ELF version 0", offsetof(Elf64_Ehdr, e_version), 4, 0, "unknown ELF version" },
        { "program headers past the end", offsetof(Elf64_Ehdr, e_phoff), 8, UINT64_MAX - 8,
          "program header table runs past" },
        { "no program headers", offsetof(Elf64_Ehdr, e_phnum), 2, 0, "no program header table" },
        { "65535 program headers", offsetof(Elf64_Ehdr, e_phnum), 2, 0xffff, "runs past" },
        { "program header entries of 32 bytes", offsetof(Elf64_Ehdr, e_phentsize), 2, 32,
          "no program header table" },
        { "a segment that starts at the last byte", load + offsetof(Elf64_Phdr, p_offset), 8,
          size - 1, "runs past the end of the file" },
        { "a segment at offset 2^64-1", load + offsetof(Elf64_Phdr, p_offset), 8, UINT64_MAX,
          "runs past the end of the file" },
        { "file part larger than memory", load + offsetof(Elf64_Phdr, p_memsz), 8, 0,
          "impossible sizes" },
        { "dynamic section past the end", dyn + offsetof(Elf64_Phdr, p_offset), 8,
          UINT64_MAX - 16, "runs past the end of the file" },
        { "dynamic section of 2^64-1 bytes", dyn + offsetof(Elf64_Phdr, p_filesz), 8, UINT64_MAX,
          "runs past the end of the file" },
    };
    unsigned char *work = malloc(size);
    if (!work || !load || !dyn) {
        printf("Bail out! good.so has no PT_LOAD or PT_DYNAMIC, or out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        dlh_elf_plugin e;
        char why[256];
        memcpy(work, data, size);
        poke(work, flips[i].off, flips[i].value, flips[i].n);
        int rc = dlh_elf_peek_plugin(work, size, &e, why, sizeof why);
        ok(rc == DLH_EPLUGIN && is_refusal(rc, &e, why) && has(why, flips[i].why),
           "ELF reader refuses %s: %s", flips[i].what, rc ? why : "(read)");
    }

    /* The dynamic entries: each pointer moved out of every segment, each
       hash table emptied. */
    size_t bad_tables = 0, tables = 0;
    for (size_t off = (size_t)dph.p_offset; off + sizeof(Elf64_Dyn) <= dph.p_offset + dph.p_filesz;
         off += sizeof(Elf64_Dyn)) {
        Elf64_Dyn d;
        memcpy(&d, data + off, sizeof d);
        if (d.d_tag == DT_NULL)
            break;
        if (d.d_tag != DT_SYMTAB && d.d_tag != DT_STRTAB && d.d_tag != DT_GNU_HASH &&
            d.d_tag != DT_HASH)
            continue;
        for (int how = 0; how < 2; how++) {
            dlh_elf_plugin e;
            char why[256];
            memcpy(work, data, size);
            if (how == 0) {
                poke(work, off + offsetof(Elf64_Dyn, d_un), UINT64_MAX - 3, 8);
            } else if (d.d_tag == DT_GNU_HASH || d.d_tag == DT_HASH) {
                uint64_t to;
                memcpy(&to, data + off + offsetof(Elf64_Dyn, d_un), 8);
                poke(work, file_offset(data, to), 0, 4);    /* nbuckets or nbucket */
            } else {
                continue;
            }
            tables++;
            int rc = dlh_elf_peek_plugin(work, size, &e, why, sizeof why);
            bad_tables += rc == DLH_EPLUGIN && is_refusal(rc, &e, why);
        }
    }
    ok(tables >= 4 && bad_tables == tables, "ELF reader refuses symbol, string and hash tables "
       "out of the file or empty (%zu of %zu)", bad_tables, tables);

    /* Every byte of the first 4 KB and of the dynamic section, flipped
       three ways: never a crash or a read outside the buffer (valgrind). */
    size_t runs = 0, refusals = 0;
    static const unsigned char xors[] = { 0xff, 0x80, 0x01 };
    memcpy(work, data, size);
    for (size_t off = 0; off < size; off++) {
        if (off >= 4096 && (off < dph.p_offset || off >= dph.p_offset + dph.p_filesz))
            continue;
        for (size_t k = 0; k < sizeof xors; k++) {
            dlh_elf_plugin e;
            char why[256];
            work[off] ^= xors[k];
            int rc = dlh_elf_peek_plugin(work, size, &e, why, sizeof why);
            refusals += is_refusal(rc, &e, why);
            work[off] = data[off];
            runs++;
        }
    }
    ok(runs > 3 * 4096, "ELF reader: %zu single-byte corruptions read without a crash "
       "(%zu refused)", runs, refusals);
    free(work);
}

static void test_elf_reader(void)
{
    if (!DLH_ELF_PEEK_HOST) {
        skip("no ELF reader for this machine (not a known 64-bit Linux machine)");
        return;
    }
    test_elf_fixtures();
    size_t size;
    unsigned char *data = slurp(fixture("good"), &size);
    test_elf_truncated(data, size);
    test_elf_corrupted(data, size);
    free(data);
}

int main(void)
{
    const char *f = getenv("DLHOST_FIXTURES");
    if (!f || f[0] != '/')
        skip_all("DLHOST_FIXTURES is unset (run through make check)");
    snprintf(fixtures, sizeof fixtures, "%s", f);
    tmpdir_make(base, sizeof base, NULL, "test-plugin-trust");

    test_trust_rule();
    test_dlopen_failure();
    test_folder_scan();
    test_constructors();
    test_elf_reader();

    dlh_registry_clear();
    if (tmpdir_remove(base) != 0)
        diag("cannot remove %s: %s", base, strerror(errno));
    return done_testing();
}
