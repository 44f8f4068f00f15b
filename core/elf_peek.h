/* Reading a plugin's stamp from its ELF file, without loading it.
 *
 * dlopen runs a library's constructors before dlsym can say whether it is a
 * dlhost plugin at all.  This reader answers from the file's bytes instead:
 * it looks the dynamic symbols `dlh_plugin` and `dlh_plugin_init` up the way
 * the dynamic loader does (PT_DYNAMIC, then its GNU or SysV hash table) and
 * reads the first 8 bytes of dlh_plugin: struct_size, abi_major, abi_minor,
 * plain integers that no relocation touches.  The strings after them are
 * pointers that only the dynamic loader's relocations fill in, so the
 * plugin's name and the rest are read with dlsym after dlopen.
 *
 * Only objects of this host's kind are understood: ELF64 in the host's byte
 * order for the host's machine.  DLH_ELF_PEEK_HOST is 1 where that kind is
 * known (64-bit Linux machines); elsewhere the reader refuses everything and
 * the loader relies on its checks after dlopen alone.
 *
 * The file is untrusted: every offset, size and count in it is checked
 * against the buffer with overflow-safe arithmetic before it is used; nothing
 * is allocated and there is no global state. */
#ifndef DLHOST_CORE_ELF_PEEK_H
#define DLHOST_CORE_ELF_PEEK_H

#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__) && !defined(__ILP32__)
#define DLH_ELF_HOST_MACHINE 62         /* EM_X86_64 */
#elif defined(__aarch64__) && !defined(__ILP32__)
#define DLH_ELF_HOST_MACHINE 183        /* EM_AARCH64 */
#elif defined(__powerpc64__)
#define DLH_ELF_HOST_MACHINE 21         /* EM_PPC64 */
#elif defined(__s390x__)
#define DLH_ELF_HOST_MACHINE 22         /* EM_S390 */
#elif defined(__riscv) && defined(__riscv_xlen) && __riscv_xlen == 64
#define DLH_ELF_HOST_MACHINE 243        /* EM_RISCV */
#elif defined(__loongarch_lp64)
#define DLH_ELF_HOST_MACHINE 258        /* EM_LOONGARCH */
#endif

#if defined(DLH_ELF_HOST_MACHINE) && defined(__linux__)
#define DLH_ELF_PEEK_HOST 1
#else
#define DLH_ELF_PEEK_HOST 0
#endif

/* What the file says about itself. */
typedef struct dlh_elf_plugin {
    int has_info;               /* dlh_plugin is defined and exported */
    int has_init;               /* dlh_plugin_init is defined and exported */
    uint32_t struct_size;       /* dlh_plugin's first 8 bytes, when has_info */
    uint16_t abi_major, abi_minor;
} dlh_elf_plugin;

/* Reads the shared object in data[0..size).  Returns 0 when it is a shared
   object for this machine whose dynamic symbols could be looked up: *out
   says which of the two symbols it defines, and dlh_plugin's header.
   Otherwise returns DLH_EPLUGIN (*out zeroed) with one line in why[why_size]
   (why may be NULL): "not a shared object for this machine (...)" or
   "malformed ELF file: ...".  Safe on any input; the fuzz entry point. */
int dlh_elf_peek_plugin(const unsigned char *data, size_t size, dlh_elf_plugin *out,
                        char *why, size_t why_size);

/* The same for the file at `path`: opened O_RDONLY|O_NONBLOCK|O_CLOEXEC (a
   FIFO cannot block it), refused unless fstat says it is a regular file, and
   mapped read-only, so that only the pages the reader touches are read
   however large the file is.  Adds the reasons "cannot read: <errno text>"
   and "not a regular file". */
int dlh_elf_peek_plugin_file(const char *path, dlh_elf_plugin *out, char *why,
                             size_t why_size);

#endif
