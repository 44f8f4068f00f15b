/* An LD_PRELOAD library for tests/test_noalloc.sh: counts calls to the
 * allocation functions and writes the total to the file named by
 * $DLHOST_MALLOC_COUNT_FILE at exit.  glibc only (__libc_* entry points). */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_long count;

void *malloc(size_t size)
{
    count++;
    return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
    count++;
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
    count++;
    return __libc_realloc(p, size);
}

int posix_memalign(void **out, size_t align, size_t size)
{
    count++;
    void *p = __libc_memalign(align, size);
    if (!p && size)
        return 12; /* ENOMEM */
    *out = p;
    return 0;
}

void *aligned_alloc(size_t align, size_t size)
{
    count++;
    return __libc_memalign(align, size);
}

__attribute__((destructor)) static void malloc_count_report(void)
{
    const char *path = getenv("DLHOST_MALLOC_COUNT_FILE");
    if (!path)
        return;
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    fprintf(f, "%ld\n", (long)count);
    fclose(f);
}
