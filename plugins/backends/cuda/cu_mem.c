/* Device memory: the caching pool, transfers, copies, fills and sync.
 *
 * The pool keeps freed blocks on one free list per size class (cu_pool_class:
 * powers of two from 256 bytes to 1 MiB, then whole MiB) and hands them out
 * again, so a training loop that frees and allocates the same sizes calls
 * cuMemAlloc only in its first step; finding a free block of a class takes
 * no search.  A freed block may still be in use by
 * queued work: the instance has one stream, so any later use of the block
 * is queued after that work.  When cuMemAlloc runs out of memory the pool
 * waits for the stream, gives its free blocks back and tries once more.
 * Everything is returned at destroy.
 *
 * write copies into pinned staging memory and queues the upload; when the
 * staging memory is full it waits for the stream first (a write larger
 * than all of it is uploaded and waited for).  read and sync wait. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_backend.h"

static size_t cu_buffer_bytes(const dlh_buffer *buf)
{
    return buf->bytes;
}

/* The kernels index a window's taps with int. */
bchk_backend cu_checks = { .name = "cuda", .buffer_bytes = cu_buffer_bytes,
                           .max_taps = INT32_MAX };

#define MIB ((size_t)1 << 20)

size_t cu_pool_class(size_t bytes)
{
    if (bytes > MIB)
        return bytes > SIZE_MAX - MIB ? bytes : (bytes + MIB - 1) / MIB * MIB;
    size_t c = 256;
    while (c < bytes)
        c *= 2;
    return c;
}

static void format_size(size_t b, char *buf, size_t size)
{
    if (b >= ((size_t)1 << 30))
        snprintf(buf, size, "%.2f GiB", (double)b / (double)((size_t)1 << 30));
    else
        snprintf(buf, size, "%.1f MiB", (double)b / (double)MIB);
}

/* The free list of size class cap: 0 to 12 for 256 bytes to 1 MiB, then
   one a MiB (2 MiB is 13). */
static size_t pool_list(size_t cap)
{
    if (cap > MIB)
        return 12 + cap / MIB - 1;
    return (size_t)__builtin_ctzll(cap) - 8;
}

/* Gives every free block back to the driver. */
static void pool_trim(cu_ctx *c)
{
    for (size_t i = 0; i < c->n_pool; i++) {
        while (c->pool[i] != NULL) {
            dlh_buffer *b = c->pool[i];
            c->pool[i] = b->next;
            c->d->mem_free(b->ptr);
            c->pool_bytes -= b->cap;
            free(b);
        }
    }
}

int cu_alloc(void *ctx, size_t bytes, dlh_buffer **out)
{
    cu_ctx *c = ctx;
    *out = NULL;
    size_t cap = cu_pool_class(bytes), list = pool_list(cap);
    if (list < c->n_pool && c->pool[list] != NULL) {
        dlh_buffer *b = c->pool[list];
        c->pool[list] = b->next;
        b->next = NULL;
        b->bytes = bytes;
        c->pool_bytes -= cap;
        c->live_bytes += cap;
        *out = b;
        return 0;
    }
    int rc = cu_current(c);
    if (rc != 0)
        return rc;
    dlh_buffer *b = calloc(1, sizeof *b);
    if (b == NULL) {
        cu_host->error("cuda alloc: out of host memory");
        return DLH_ENOMEM;
    }
    int err = c->d->mem_alloc(&b->ptr, cap);
    if (err == CU_ERROR_OUT_OF_MEMORY && c->pool_bytes != 0) {
        /* The free blocks are idle once the stream is. */
        c->d->stream_sync(c->stream);
        pool_trim(c);
        err = c->d->mem_alloc(&b->ptr, cap);
    }
    if (err != 0) {
        free(b);
        char a[32], l[32];
        format_size(c->total_mem, a, sizeof a);
        format_size(c->live_bytes, l, sizeof l);
        return cu_fail(c, "cuMemAlloc", err, "for %zu bytes on device '%s' (%s; %s in use "
                       "by this instance)", bytes, c->name, a, l);
    }
    /* Its class's list made now, so that cu_free cannot fail. */
    if (list >= c->n_pool) {
        size_t n = list + 1 > 2 * c->n_pool ? list + 1 : 2 * c->n_pool;
        dlh_buffer **lists = realloc(c->pool, n * sizeof *lists);
        if (lists == NULL) {
            c->d->mem_free(b->ptr);
            free(b);
            cu_host->error("cuda alloc: out of host memory");
            return DLH_ENOMEM;
        }
        memset(lists + c->n_pool, 0, (n - c->n_pool) * sizeof *lists);
        c->pool = lists;
        c->n_pool = n;
    }
    b->bytes = bytes;
    b->cap = cap;
    c->live_bytes += cap;
    *out = b;
    return 0;
}

void cu_free(void *ctx, dlh_buffer *buf)
{
    cu_ctx *c = ctx;
    if (buf == NULL)
        return;
    c->live_bytes -= buf->cap;
    c->pool_bytes += buf->cap;
    dlh_buffer **list = &c->pool[pool_list(buf->cap)];
    buf->next = *list;
    *list = buf;
}

void cu_pool_release(cu_ctx *c)
{
    pool_trim(c);
    free(c->pool);
    c->pool = NULL;
    c->n_pool = 0;
    if (c->staging != NULL)
        c->d->mem_free_host(c->staging);
    c->staging = NULL;
}

/* Waits for the stream; the staging memory is free again. */
static int wait_stream(cu_ctx *c, const char *prim)
{
    int err = c->d->stream_sync(c->stream);
    c->staged = 0;
    if (err != 0) {
        char what[64];
        snprintf(what, sizeof what, "cuStreamSynchronize(%s)", prim);
        return cu_fail(c, what, err, "(an earlier queued call failed, or this one)");
    }
    return 0;
}

int cu_write(void *ctx, dlh_buffer *dst, size_t dst_off, const void *src, size_t bytes)
{
    cu_ctx *c = ctx;
    int rc = bchk_span(&cu_checks, "write", "destination", dst, dst_off, bytes);
    if (rc != 0 || bytes == 0 || (rc = cu_current(c)) != 0)
        return rc;
    if (bytes > CU_STAGING_BYTES || c->staging == NULL) {
        int err = c->d->htod_async(dst->ptr + dst_off, src, bytes, c->stream);
        if (err != 0)
            return cu_fail(c, "cuMemcpyHtoDAsync", err, "of %zu bytes", bytes);
        return wait_stream(c, "write");
    }
    if (c->staged + bytes > CU_STAGING_BYTES && (rc = wait_stream(c, "write")) != 0)
        return rc;
    unsigned char *stage = c->staging + c->staged;
    memcpy(stage, src, bytes);
    c->staged += (bytes + 255) / 256 * 256;
    int err = c->d->htod_async(dst->ptr + dst_off, stage, bytes, c->stream);
    return err == 0 ? 0 : cu_fail(c, "cuMemcpyHtoDAsync", err, "of %zu bytes", bytes);
}

int cu_read(void *ctx, dlh_buffer *src, size_t src_off, void *dst, size_t bytes)
{
    cu_ctx *c = ctx;
    int rc = bchk_span(&cu_checks, "read", "source", src, src_off, bytes);
    if (rc != 0 || (rc = cu_current(c)) != 0)
        return rc;
    if (bytes > 0) {
        int err = c->d->dtoh_async(dst, src->ptr + src_off, bytes, c->stream);
        if (err != 0)
            return cu_fail(c, "cuMemcpyDtoHAsync", err, "reading %zu bytes", bytes);
    }
    return wait_stream(c, "read");
}

int cu_copy(void *ctx, dlh_buffer *dst, size_t dst_off, dlh_buffer *src, size_t src_off,
            size_t bytes)
{
    cu_ctx *c = ctx;
    int rc = bchk_span(&cu_checks, "copy", "destination", dst, dst_off, bytes);
    if (rc == 0)
        rc = bchk_span(&cu_checks, "copy", "source", src, src_off, bytes);
    if (rc != 0 || bytes == 0 || (rc = cu_current(c)) != 0)
        return rc;
    int err;
    if (dst == src && (dst_off < src_off ? src_off - dst_off : dst_off - src_off) < bytes) {
        /* Overlapping device copies are undefined: go through a pool block,
           as memmove would. */
        if (dst_off == src_off)
            return 0;
        dlh_buffer *tmp;
        if ((rc = cu_alloc(c, bytes, &tmp)) != 0)
            return rc;
        err = c->d->dtod_async(tmp->ptr, src->ptr + src_off, bytes, c->stream);
        if (err == 0)
            err = c->d->dtod_async(dst->ptr + dst_off, tmp->ptr, bytes, c->stream);
        cu_free(c, tmp);
    } else {
        err = c->d->dtod_async(dst->ptr + dst_off, src->ptr + src_off, bytes, c->stream);
    }
    return err == 0 ? 0 : cu_fail(c, "cuMemcpyDtoDAsync", err, "of %zu bytes", bytes);
}

int cu_fill(void *ctx, dlh_mem dst, size_t n, float value)
{
    cu_ctx *c = ctx;
    int rc = bchk_mem(&cu_checks, "fill", "dst", dst, n, sizeof(float));
    if (rc != 0 || n == 0 || (rc = cu_current(c)) != 0)
        return rc;
    unsigned bits;
    memcpy(&bits, &value, sizeof bits);
    int err = c->d->memset_d32_async(dst.buf->ptr + dst.off * sizeof(float), bits, n,
                                     c->stream);
    return err == 0 ? 0 : cu_fail(c, "cuMemsetD32Async", err, "of %zu floats", n);
}

int cu_sync(void *ctx)
{
    cu_ctx *c = ctx;
    int rc = cu_current(c);
    return rc ? rc : wait_stream(c, "sync");
}
