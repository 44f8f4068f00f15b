/* Device memory: buffers, transfers, copies, fills and sync.
 *
 * Writes and reads block (the caller's host memory is free to change once
 * they return); copies and fills are queued.  Allocation is checked against
 * the device's limits before OpenCL is asked: drivers such as PoCL hand out
 * more than the device has and fail later, inside some kernel. */
#include <stdio.h>
#include <stdlib.h>

#include "opencl.h"

static size_t ocl_buffer_bytes(const dlh_buffer *buf)
{
    return buf->bytes;
}

/* The kernels index a window's taps with int. */
bchk_backend ocl_checks = { .name = "opencl", .buffer_bytes = ocl_buffer_bytes,
                            .max_taps = INT32_MAX };

static void format_size(cl_ulong b, char *buf, size_t size)
{
    if (b >= ((cl_ulong)1 << 30))
        snprintf(buf, size, "%.2f GiB", (double)b / (double)((cl_ulong)1 << 30));
    else
        snprintf(buf, size, "%.1f MiB", (double)b / (double)((cl_ulong)1 << 20));
}

int ocl_alloc(void *ctx, size_t bytes, dlh_buffer **out)
{
    ocl_ctx *c = ctx;
    *out = NULL;
    char a[32], b[32];
    if ((cl_ulong)bytes > c->max_alloc) {
        format_size(c->max_alloc, a, sizeof a);
        ocl_host->error("opencl alloc: %zu bytes is more than device '%s' allocates at "
                        "once (%s, CL_DEVICE_MAX_MEM_ALLOC_SIZE)", bytes, c->device_name, a);
        return DLH_ENOMEM;
    }
    if ((cl_ulong)bytes > c->global_mem - c->in_use) {
        format_size(c->global_mem, a, sizeof a);
        format_size(c->in_use, b, sizeof b);
        ocl_host->error("opencl alloc: out of device memory: %zu bytes more do not fit in "
                        "the %s of device '%s' (%s in use)", bytes, a, c->device_name, b);
        return DLH_ENOMEM;
    }
    dlh_buffer *buf = malloc(sizeof *buf);
    if (buf == NULL) {
        ocl_host->error("opencl alloc: out of host memory");
        return DLH_ENOMEM;
    }
    /* OpenCL has no empty buffers: give one float. */
    cl_int err;
    buf->mem = clCreateBuffer(c->context, CL_MEM_READ_WRITE, bytes ? bytes : sizeof(float),
                              NULL, &err);
    if (err != CL_SUCCESS) {
        free(buf);
        int rc = ocl_fail("clCreateBuffer", err, "for %zu bytes on device '%s'", bytes,
                          c->device_name);
        return err == CL_INVALID_BUFFER_SIZE ? DLH_ENOMEM : rc;
    }
    buf->bytes = bytes;
    c->in_use += bytes;
    *out = buf;
    return 0;
}

void ocl_free(void *ctx, dlh_buffer *buf)
{
    ocl_ctx *c = ctx;
    if (buf == NULL)
        return;
    /* Released now, deleted by OpenCL once queued work using it is done. */
    clReleaseMemObject(buf->mem);
    c->in_use -= buf->bytes;
    free(buf);
}

int ocl_write(void *ctx, dlh_buffer *dst, size_t dst_off, const void *src, size_t bytes)
{
    ocl_ctx *c = ctx;
    int rc = bchk_span(&ocl_checks, "write", "destination", dst, dst_off, bytes);
    if (rc != 0 || bytes == 0)
        return rc;
    cl_int err = clEnqueueWriteBuffer(c->queue, dst->mem, CL_TRUE, dst_off, bytes, src, 0,
                                      NULL, NULL);
    return err == CL_SUCCESS ? 0 : ocl_fail("clEnqueueWriteBuffer", err, "of %zu bytes",
                                            bytes);
}

int ocl_read(void *ctx, dlh_buffer *src, size_t src_off, void *dst, size_t bytes)
{
    ocl_ctx *c = ctx;
    int rc = bchk_span(&ocl_checks, "read", "source", src, src_off, bytes);
    if (rc != 0)
        return rc;
    cl_int err = bytes ? clEnqueueReadBuffer(c->queue, src->mem, CL_TRUE, src_off, bytes,
                                             dst, 0, NULL, NULL)
                       : clFinish(c->queue);
    return err == CL_SUCCESS ? 0 : ocl_fail(bytes ? "clEnqueueReadBuffer" : "clFinish", err,
                                            "reading %zu bytes", bytes);
}

int ocl_copy(void *ctx, dlh_buffer *dst, size_t dst_off, dlh_buffer *src, size_t src_off,
             size_t bytes)
{
    ocl_ctx *c = ctx;
    int rc = bchk_span(&ocl_checks, "copy", "destination", dst, dst_off, bytes);
    if (rc == 0)
        rc = bchk_span(&ocl_checks, "copy", "source", src, src_off, bytes);
    if (rc != 0 || bytes == 0)
        return rc;
    cl_int err;
    if (dst->mem == src->mem && (dst_off < src_off ? src_off - dst_off : dst_off - src_off)
                                    < bytes) {
        /* OpenCL refuses overlapping copies (CL_MEM_COPY_OVERLAP): go through a
           temporary buffer, as memmove would. */
        if (dst_off == src_off)
            return 0;
        cl_mem tmp = clCreateBuffer(c->context, CL_MEM_READ_WRITE, bytes, NULL, &err);
        if (err != CL_SUCCESS)
            return ocl_fail("clCreateBuffer", err, "for a %zu-byte overlapping copy", bytes);
        err = clEnqueueCopyBuffer(c->queue, src->mem, tmp, src_off, 0, bytes, 0, NULL, NULL);
        if (err == CL_SUCCESS)
            err = clEnqueueCopyBuffer(c->queue, tmp, dst->mem, 0, dst_off, bytes, 0, NULL,
                                      NULL);
        clReleaseMemObject(tmp);
    } else {
        err = clEnqueueCopyBuffer(c->queue, src->mem, dst->mem, src_off, dst_off, bytes, 0,
                                  NULL, NULL);
    }
    return err == CL_SUCCESS ? 0 : ocl_fail("clEnqueueCopyBuffer", err, "of %zu bytes",
                                            bytes);
}

int ocl_fill(void *ctx, dlh_mem dst, size_t n, float value)
{
    ocl_ctx *c = ctx;
    int rc = bchk_mem(&ocl_checks, "fill", "dst", dst, n, sizeof(float));
    if (rc != 0 || n == 0)
        return rc;
    cl_int err = clEnqueueFillBuffer(c->queue, dst.buf->mem, &value, sizeof value,
                                     dst.off * sizeof(float), n * sizeof(float), 0, NULL,
                                     NULL);
    return err == CL_SUCCESS ? 0 : ocl_fail("clEnqueueFillBuffer", err, "of %zu floats", n);
}

int ocl_sync(void *ctx)
{
    ocl_ctx *c = ctx;
    cl_int err = clFinish(c->queue);
    return err == CL_SUCCESS ? 0 : ocl_fail("clFinish", err, NULL);
}
