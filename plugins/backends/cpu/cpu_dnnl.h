/* oneDNN for the cpu backend, loaded by dlopen on first use instead of
 * linked: a run without convolutions or bf16 (most, and every `dlhost check`)
 * starts without loading libdnnl and the C++ runtime it pulls in, 7-12 ms of
 * a 20 ms start.  Built with oneDNN (HAVE_DNNL) only; its header gives the
 * types.  The calls go through cpu_dn, a table of the functions
 * cpu_conv.c and cpu_bf16.c use, filled once by cpu_dnnl_load. */
#ifndef DLHOST_CPU_DNNL_H
#define DLHOST_CPU_DNNL_H

#include <stddef.h>

#include <oneapi/dnnl/dnnl.h>

/* The file loaded: $DLHOST_LIBDNNL when set and not empty, else this soname
   (Debian's libdnnl2; oneDNN 3 is libdnnl.so.3 with another API). */
#define CPU_DNNL_SONAME "libdnnl.so.2"
#define CPU_DNNL_PACKAGE "libdnnl2"

/* X(name) for each dnnl_name the backend calls. */
#define CPU_DNNL_FUNCS(X)                                                            \
    X(dilated_convolution_backward_data_desc_init)                                 \
    X(dilated_convolution_backward_weights_desc_init)                              \
    X(dilated_convolution_forward_desc_init)                                       \
    X(engine_create) X(engine_destroy) X(get_effective_cpu_isa)                    \
    X(matmul_desc_init) X(memory_create) X(memory_desc_equal)                      \
    X(memory_desc_get_size) X(memory_desc_init_by_strides)                         \
    X(memory_desc_init_by_tag) X(memory_destroy) X(memory_set_data_handle)         \
    X(post_ops_append_sum) X(post_ops_create) X(post_ops_destroy)                  \
    X(primitive_attr_create) X(primitive_attr_destroy)                             \
    X(primitive_attr_set_output_scales) X(primitive_attr_set_post_ops)             \
    X(primitive_attr_set_scratchpad_mode) X(primitive_create)                      \
    X(primitive_desc_create) X(primitive_desc_destroy) X(primitive_desc_query)     \
    X(primitive_desc_query_md) X(primitive_destroy) X(primitive_execute)           \
    X(reorder_primitive_desc_create) X(stream_create) X(stream_destroy)

typedef struct cpu_dnnl_api {
#define CPU_DNNL_SLOT(f) __typeof__(dnnl_##f) *f;
    CPU_DNNL_FUNCS(CPU_DNNL_SLOT)
#undef CPU_DNNL_SLOT
} cpu_dnnl_api;

/* Valid once cpu_dnnl_load has returned 0. */
extern cpu_dnnl_api cpu_dn;

/* Loads oneDNN and fills cpu_dn, once: later calls return the first's
   answer.  0, or -1 with the reason (the file and dlerror's words, or the
   symbol it lacks) in *why, kept for the process's life.  The handle is
   never closed.  Called where the backend is created or a convolution
   planned, on the thread that runs the backend. */
int cpu_dnnl_load(const char **why);

#endif
