/* The backends' shared argument checks (plugins/backends/common/), on their
 * own: a mock backend "mock" whose buffers are a byte count, reporting
 * through the real host table.  Each check's refusals with their code and
 * message (prefixed with the backend's name), its edge cases that must pass
 * (empty operands, exact fits, k == 0 without A and B), the sizes it hands
 * back, and the max_taps limit that only some backends set.  The cpu and
 * opencl tests run the same checks through their primitives. */
#include <stdint.h>
#include <string.h>

#include <dlhost/dlhost.h>

#include "error.h"
#include "registry.h"
#include "tap.h"
#include "../plugins/backends/common/backend_checks.h"

/* A mock buffer: the checks learn its size only from mock_bytes. */
struct dlh_buffer {
    size_t bytes;
};

static size_t mock_bytes(const dlh_buffer *buf)
{
    return buf->bytes;
}

static bchk_backend bk = { .name = "mock", .buffer_bytes = mock_bytes };

/* dlh_mem over a buffer of `bytes` bytes at element `off`. */
static dlh_mem mem(dlh_buffer *b, size_t off)
{
    return (dlh_mem){ .buf = b, .off = off };
}

static const dlh_mem none = { NULL, 0 };

/* rc is DLH_EINVAL and the message holds `want`. */
static void refused(int rc, const char *want, const char *what)
{
    const char *msg = dlh_error_get();
    ok(rc == DLH_EINVAL && strstr(msg, want) != NULL, "%s: %s", what, msg);
}

static void test_memory(void)
{
    dlh_buffer b = { 50 };      /* 12 floats and 2 bytes */
    ok(bchk_mem(&bk, "fill", "dst", none, 0, 4) == 0, "no elements need no buffer");
    refused(bchk_mem(&bk, "fill", "dst", none, 3, 4),
            "mock fill: dst: no buffer (NULL) for 3 elements", "a NULL buffer");
    ok(bchk_mem(&bk, "fill", "dst", mem(&b, 9), 3, 4) == 0, "an exact fit passes");
    refused(bchk_mem(&bk, "fill", "dst", mem(&b, 10), 3, 4),
            "mock fill: dst: elements [10, 10 + 3) lie outside its buffer of 12 elements",
            "one element past the end");
    refused(bchk_mem(&bk, "fill", "dst", mem(&b, 13), 1, 4), "[13, 13 + 1)",
            "an offset past the end");
    refused(bchk_mem(&bk, "fill", "dst", mem(&b, 1), SIZE_MAX, 4), "lie outside",
            "a count that would wrap around");

    ok(bchk_span(&bk, "read", "source", &b, 50, 0) == 0, "an empty span at the end passes");
    refused(bchk_span(&bk, "write", "destination", NULL, 0, 0),
            "mock write: destination buffer is NULL", "a NULL buffer for write");
    refused(bchk_span(&bk, "copy", "source", &b, 40, 11),
            "mock copy: bytes [40, 40 + 11) lie outside the source buffer of 50 bytes",
            "a span past the end");
    refused(bchk_span(&bk, "read", "source", &b, 51, 0), "[51, 51 + 0)",
            "an offset past the end");
}

static void test_gemm(void)
{
    dlh_buffer a = { 6 * 4 }, b = { 12 * 4 }, c = { 8 * 4 };
    /* A 2x3, B 3x4, C 2x4 */
    ok(bchk_gemm(&bk, 0, 0, 2, 4, 3, mem(&a, 0), 3, mem(&b, 0), 4, mem(&c, 0), 4) == 0,
       "gemm: a 2x3 by 3x4 product that fits");
    ok(bchk_gemm(&bk, 1, 1, 2, 4, 3, mem(&a, 0), 2, mem(&b, 0), 3, mem(&c, 0), 4) == 0,
       "gemm: both transposed (A stored 3x2, B 4x3)");
    refused(bchk_gemm(&bk, 0, 0, -1, 4, 3, mem(&a, 0), 3, mem(&b, 0), 4, mem(&c, 0), 4),
            "mock gemm: sizes must be >= 0 (m=-1, n=4, k=3)", "gemm: a negative size");
    refused(bchk_gemm(&bk, 1, 0, 2, 4, 3, mem(&a, 0), 1, mem(&b, 0), 4, mem(&c, 0), 4),
            "mock gemm: lda=1 is less than the 2 columns of A as stored (transposed)",
            "gemm: lda");
    refused(bchk_gemm(&bk, 0, 0, 2, 4, 3, mem(&a, 0), 3, mem(&b, 0), 3, mem(&c, 0), 4),
            "ldb=3 is less than the 4 columns of B as stored (not transposed)", "gemm: ldb");
    refused(bchk_gemm(&bk, 0, 0, 2, 4, 3, mem(&a, 0), 3, mem(&b, 0), 4, mem(&c, 0), 0),
            "ldc=0 is less than the 4 columns of C", "gemm: ldc");
    refused(bchk_gemm(&bk, 0, 0, 2, 4, 3, mem(&a, 0), 3, mem(&b, 0), 4, mem(&c, 1), 4),
            "mock gemm: C: elements [1, 1 + 8)", "gemm: C past the end");
    refused(bchk_gemm(&bk, 0, 0, 2, 4, 3, mem(&a, 0), 3, none, 4, mem(&c, 0), 4),
            "mock gemm: B: no buffer", "gemm: no B");
    ok(bchk_gemm(&bk, 0, 0, 2, 4, 0, none, 1, none, 4, mem(&c, 0), 4) == 0,
       "gemm: k == 0 reads neither A nor B");

    /* Three 2x4 C matrices, 10 apart: 28 elements. */
    dlh_buffer cb = { 28 * 4 };
    size_t ec = 0;
    ok(bchk_gemm_batched(&bk, 0, 0, 2, 4, 3, mem(&a, 0), 3, 0, mem(&b, 0), 4, 0,
                         mem(&cb, 0), 4, 10, 3, &ec) == 0 && ec == 8,
       "gemm_batched: 3 problems sharing A and B fit; one C spans 8 (%zu)", ec);
    refused(bchk_gemm_batched(&bk, 0, 0, 2, 4, 3, mem(&a, 0), 3, 0, mem(&b, 0), 4, 0,
                              mem(&cb, 1), 4, 10, 3, &ec),
            "mock gemm_batched: C: elements [1, 1 + 28)", "gemm_batched: the last C past the end");
    refused(bchk_gemm_batched(&bk, 0, 0, 2, 4, 3, mem(&a, 0), 3, -1, mem(&b, 0), 4, 0,
                              mem(&cb, 0), 4, 10, 3, &ec),
            "mock gemm_batched: batch and strides must be >= 0 (batch=3, stride_a=-1",
            "gemm_batched: a negative stride");
    refused(bchk_gemm_batched(&bk, 0, 0, 2, 4, 3, mem(&a, 0), 3, INT64_MAX, mem(&b, 0), 4,
                              0, mem(&cb, 0), 4, 10, 3, &ec),
            "mock gemm_batched: 3 matrices at these strides overflow the address space",
            "gemm_batched: strides that overflow");
    refused(bchk_gemm_batched(&bk, 0, 0, 2, 4, 3, mem(&a, 0), 2, 0, mem(&b, 0), 4, 0,
                              mem(&cb, 0), 4, 10, 3, &ec),
            "mock gemm_batched: lda=2", "gemm_batched: gemm's own checks");
}

/* y = x * k0 + 2 as r0 = x * k0; y = r0 + c0 (x in, y out). */
static const dlh_ew_instr ew_base[2] = {
    { .op = DLH_EW_MUL, .dst = { .src = DLH_EW_REG, .index = 0 },
      .a = { .src = DLH_EW_ARRAY, .index = 0 }, .b = { .src = DLH_EW_SCALAR, .index = 0 } },
    { .op = DLH_EW_ADD, .dst = { .src = DLH_EW_ARRAY, .index = 1 },
      .a = { .src = DLH_EW_REG, .index = 0 }, .b = { .src = DLH_EW_CONST, .index = 0 } },
};
static dlh_ew_instr ew_code[2];

/* The program above, its instructions fresh in ew_code for a test to spoil. */
static dlh_ew_program ew_program(void)
{
    static const uint8_t access[2] = { DLH_EW_IN, DLH_EW_OUT };
    static const float consts[1] = { 2.0f };
    memcpy(ew_code, ew_base, sizeof ew_code);
    return (dlh_ew_program){ .struct_size = sizeof(dlh_ew_program), .n_arrays = 2,
                             .n_scalars = 1, .n_regs = 1, .n_consts = 1, .n_instrs = 2,
                             .instrs = ew_code, .consts = consts, .access = access };
}

static void test_ew(void)
{
    int arity = 1;
    for (int op = 0; op < DLH_EW_OPCODE_COUNT; op++)
        arity &= (bchk_ew_n_src[op] >= 1 || op == DLH_EW_INDEX) && bchk_ew_n_src[op] <= 3;
    ok(arity && bchk_ew_n_src[DLH_EW_NEG] == 1 && bchk_ew_n_src[DLH_EW_POW] == 2 &&
       bchk_ew_n_src[DLH_EW_SELECT] == 3 && bchk_ew_n_src[DLH_EW_INDEX] == 0 &&
       bchk_ew_n_src[DLH_EW_ATAN2] == 2 && bchk_ew_n_src[DLH_EW_UNIFORM] == 1,
       "ew: every opcode reads 1 to 3 operands (the element index none)");

    dlh_ew_program p = ew_program();
    ok(bchk_ew_program(&bk, &p) == 0, "ew: a well-formed program passes");
    refused(bchk_ew_program(&bk, NULL),
            "mock ew: malformed program (counts out of range or missing tables)",
            "ew: no program");
    p.access = NULL;
    refused(bchk_ew_program(&bk, &p), "malformed program", "ew: arrays without access");
    p = ew_program();
    p.n_regs = DLH_EW_MAX_REGS + 1;
    refused(bchk_ew_program(&bk, &p), "malformed program", "ew: too many registers");

    static const struct {
        int instr, slot;            /* slot 0: dst, 1..3: a, b, c; -1: the opcode */
        dlh_ew_ref ref;
        const char *why;
    } bad[] = {
        { 1, -1, { 0, 0, 0 },
          "instruction 1 of the program: unknown opcode" },
        { 0, 1, { DLH_EW_ARRAY, 0, 2 },
          "instruction 0 of the program: array operand out of range" },
        { 0, 2, { DLH_EW_SCALAR, 0, 1 },
          "instruction 0 of the program: scalar operand out of range" },
        { 1, 2, { DLH_EW_CONST, 0, 1 },
          "instruction 1 of the program: constant out of range" },
        { 0, 1, { DLH_EW_REG, 0, 0 },
          "instruction 0 of the program: register read before it is written" },
        { 1, 1, { DLH_EW_REG, 0, 1 },
          "instruction 1 of the program: register read before it is written" },
        { 0, 2, { DLH_EW_NONE, 0, 0 },
          "instruction 0 of the program: missing operand" },
        { 1, 0, { DLH_EW_ARRAY, 0, 0 },
          "instruction 1 of the program: destination is not a register or a written array" },
        { 0, 0, { DLH_EW_REG, 0, 1 },
          "instruction 0 of the program: destination is not a register or a written array" },
        { 1, 0, { DLH_EW_CONST, 0, 0 },
          "instruction 1 of the program: destination is not a register or a written array" },
    };
    for (size_t t = 0; t < sizeof bad / sizeof bad[0]; t++) {
        p = ew_program();
        dlh_ew_instr *in = &ew_code[bad[t].instr];
        dlh_ew_ref *slot[4] = { &in->dst, &in->a, &in->b, &in->c };
        if (bad[t].slot < 0)
            in->op = DLH_EW_OPCODE_COUNT;
        else
            *slot[bad[t].slot] = bad[t].ref;
        refused(bchk_ew_program(&bk, &p), bad[t].why, "ew: a bad instruction");
    }
    p = ew_program();
    ew_code[1].c = (dlh_ew_ref){ .src = DLH_EW_ARRAY, .index = 9 };
    ok(bchk_ew_program(&bk, &p) == 0, "ew: slots an opcode does not read are not checked");

    /* A random draw reads DLH_EW_KEY_WORDS scalars from its operand on. */
    p = ew_program();
    ew_code[0] = (dlh_ew_instr){ .op = DLH_EW_UNIFORM, .dst = { DLH_EW_REG, 0, 0 },
                                 .a = { DLH_EW_SCALAR, 0, 0 } };
    refused(bchk_ew_program(&bk, &p),
            "instruction 0 of the program: a random draw whose key is not scalars in range",
            "ew: a key running past the scalars");
    p.n_scalars = DLH_EW_KEY_WORDS;
    ok(bchk_ew_program(&bk, &p) == 0, "ew: a key of %d scalars passes", DLH_EW_KEY_WORDS);
    ew_code[0].a = (dlh_ew_ref){ DLH_EW_CONST, 0, 0 };
    refused(bchk_ew_program(&bk, &p), "a random draw whose key is not scalars in range",
            "ew: a key that is a constant");
    ew_code[0] = (dlh_ew_instr){ .op = DLH_EW_INDEX, .dst = { DLH_EW_REG, 0, 0 } };
    ok(bchk_ew_program(&bk, &p) == 0, "ew: the element index reads no operand");

    dlh_buffer b3 = { 3 * 4 }, b2 = { 2 * 4 };
    /* n = 10, stride 4, length 5: elements 0..9 read x[0..2]. */
    dlh_ew_arg bias = { mem(&b3, 0), 5, 4 };
    ok(bchk_ew_operand(&bk, 1, 10, &bias, 0) == 0,
       "ew: a broadcast operand needs min(L, (n-1)/s + 1) = 3 floats");
    bias.mem = mem(&b2, 0);
    refused(bchk_ew_operand(&bk, 1, 10, &bias, 0),
            "mock ew: operand 1: elements [0, 0 + 3) lie outside its buffer of 2 elements",
            "ew: the broadcast operand's buffer too short");
    dlh_ew_arg small = { mem(&b2, 0), 2, 1 };
    ok(bchk_ew_operand(&bk, 0, 10, &small, 0) == 0, "ew: a repeating operand reads its L");
    refused(bchk_ew_operand(&bk, 0, 10, &small, 1),
            "mock ew: operand 0 has length 2 and stride 1 for n=10",
            "ew: a written operand must be full length");
    dlh_ew_arg zero = { mem(&b2, 0), 1, 0 };
    refused(bchk_ew_operand(&bk, 2, 10, &zero, 0), "operand 2 has length 1 and stride 0",
            "ew: stride 0");
}

static void test_reduce(void)
{
    dlh_buffer x = { 6 * 4 }, o = { 3 * 4 }, ix = { 2 * 4 };
    size_t nout = 0, len = 0;
    int want = -1;
    ok(bchk_reduce(&bk, DLH_REDUCE_MAX, 0, 2, 3, mem(&x, 0), mem(&o, 0), none, &nout, &len,
                   &want) == 0 && nout == 3 && len == 2 && want == 0,
       "reduce: axis 0 gives cols outputs over rows, no idx without a buffer");
    refused(bchk_reduce(&bk, DLH_REDUCE_MAX, 1, 3, 2, mem(&x, 0), mem(&o, 0), mem(&ix, 0),
                        &nout, &len, &want),
            "mock reduce: idx: elements [0, 0 + 3)", "reduce: idx checked for max");
    ok(bchk_reduce(&bk, DLH_REDUCE_SUM, 1, 3, 2, mem(&x, 0), mem(&o, 0), mem(&ix, 0),
                   &nout, &len, &want) == 0 && want == 0,
       "reduce: idx ignored for a sum");
    refused(bchk_reduce(&bk, (dlh_reduce_op)7, 1, 1, 1, mem(&x, 0), mem(&o, 0), none, &nout,
                        &len, &want),
            "mock reduce: unknown op 7 (expected sum 0, max 1, sumsq 2)", "reduce: bad op");
    refused(bchk_reduce(&bk, DLH_REDUCE_SUM, 2, 1, 1, mem(&x, 0), mem(&o, 0), none, &nout,
                        &len, &want),
            "mock reduce: axis 2 (expected 0: per column, 1: per row)", "reduce: bad axis");
    refused(bchk_reduce(&bk, DLH_REDUCE_SUM, 1, 1, -2, mem(&x, 0), mem(&o, 0), none, &nout,
                        &len, &want),
            "mock reduce: sizes must be >= 0 (rows=1, cols=-2)", "reduce: negative size");
    refused(bchk_reduce(&bk, DLH_REDUCE_MAX, 1, 2, 0, none, mem(&o, 0), none, &nout, &len,
                        &want),
            "mock reduce: max over an empty axis (rows=2, cols=0, axis 1)",
            "reduce: max over nothing");
    ok(bchk_reduce(&bk, DLH_REDUCE_SUMSQ, 1, 2, 0, none, mem(&o, 0), none, &nout, &len,
                   &want) == 0 && nout == 2 && len == 0,
       "reduce: a sum over an empty axis passes (len 0)");
    ok(bchk_reduce(&bk, DLH_REDUCE_MAX, 1, 0, 0, none, none, none, &nout, &len, &want) == 0 &&
       nout == 0, "reduce: no rows, no output, nothing to refuse");

    ok(bchk_softmax(&bk, 2, 3, mem(&x, 0), mem(&x, 0)) == 0, "softmax in place fits");
    refused(bchk_softmax(&bk, -1, 3, mem(&x, 0), mem(&x, 0)),
            "mock softmax: sizes must be >= 0 (rows=-1, cols=3)", "softmax: negative size");
    refused(bchk_softmax(&bk, 2, 3, mem(&x, 0), mem(&o, 0)), "mock softmax: y: elements",
            "softmax: y too short");
}

/* 2 channels of 5x5, 3x3 window, stride 2, padding 1: 3x3 out. */
static dlh_window2d window(void)
{
    return (dlh_window2d){ .struct_size = sizeof(dlh_window2d), .c = 2, .h = 5, .w = 5,
                           .kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1, .dh = 1,
                           .dw = 1, .oh = 3, .ow = 3 };
}

static void test_window(void)
{
    dlh_window2d g = window();
    bchk_image_sizes s;
    ok(bchk_window(&bk, "im2col", &g, 4, &s) == 0 && s.plane == 25 && s.oplane == 9 &&
       s.img == 200 && s.out == 72 && s.col == 648,
       "window: sizes of 4 images (plane 25, out plane 9, img 200, out 72, col 648)");
    refused(bchk_window(&bk, "pool2d", NULL, 1, &s),
            "mock pool2d: no window geometry (NULL)", "window: NULL");
    g.struct_size = 8;
    refused(bchk_window(&bk, "pool2d", &g, 1, &s),
            "mock pool2d: dlh_window2d.struct_size is 8, expected at least", "window: old struct");
    g = window();
    g.dw = 0;
    refused(bchk_window(&bk, "col2im", &g, 1, &s),
            "mock col2im: bad window: n=1 c=2 h=5 w=5 kernel 3x3 stride 2x2 padding 1x1 "
            "dilation 1x0", "window: dilation 0");
    g = window();
    g.dh = 4;
    refused(bchk_window(&bk, "im2col", &g, 1, &s),
            "mock im2col: the dilated 9x3 window is larger than the padded 7x7 input",
            "window: dilated window too large");
    g = window();
    g.ow = 2;
    refused(bchk_window(&bk, "im2col", &g, 1, &s),
            "mock im2col: output size 3x2 does not match the window (expected 3x3",
            "window: wrong ow");
    g = window();
    g.h = g.w = 65536;
    g.oh = g.ow = 32768;
    refused(bchk_window(&bk, "im2col", &g, 1, &s),
            "mock im2col: sizes overflow (n=1 c=2 h=65536 w=65536)",
            "window: a plane over INT32_MAX elements");

    g = window();
    bk.max_taps = 8;
    refused(bchk_window(&bk, "im2col", &g, 1, &s), "mock im2col: sizes overflow",
            "window: 9 taps over a backend's max_taps of 8");
    bk.max_taps = 9;
    ok(bchk_window(&bk, "im2col", &g, 1, &s) == 0, "window: 9 taps within max_taps 9");
    bk.max_taps = 0;
}

static void test_image(void)
{
    dlh_window2d g = window();
    bchk_image_sizes s;
    dlh_buffer img = { 50 * 4 }, col = { 162 * 4 }, out = { 18 * 4 };
    ok(bchk_im2col(&bk, &g, 1, mem(&img, 0), mem(&col, 0), &s) == 0, "im2col fits");
    refused(bchk_im2col(&bk, &g, 1, mem(&img, 0), mem(&col, 1), &s),
            "mock im2col: col: elements [1, 1 + 162)", "im2col: col too short");
    refused(bchk_col2im(&bk, &g, 1, mem(&col, 0), mem(&img, 1), &s),
            "mock col2im: img: elements [1, 1 + 50)", "col2im: img too short");
    ok(bchk_im2col(&bk, &g, 0, none, none, &s) == 0, "im2col of no images needs no memory");

    int want = -1;
    ok(bchk_pool2d(&bk, DLH_POOL_MAX, &g, 1, mem(&img, 0), mem(&out, 0), none, &s, &want) == 0 &&
       want == 0, "pool2d max without idx skips the indices");
    ok(bchk_pool2d(&bk, DLH_POOL_MAX, &g, 1, mem(&img, 0), mem(&out, 0), mem(&out, 0), &s,
                   &want) == 0 && want == 1, "pool2d max with idx writes them");
    refused(bchk_pool2d(&bk, DLH_POOL_MAX, &g, 1, mem(&img, 0), mem(&out, 0), mem(&out, 1),
                        &s, &want),
            "mock pool2d: idx: elements [1, 1 + 18)", "pool2d: idx too short");
    refused(bchk_pool2d(&bk, (dlh_pool_op)3, &g, 1, mem(&img, 0), mem(&out, 0), none, &s,
                        &want),
            "mock pool2d: unknown op 3 (expected max 0, avg 1, avg_pad 2)", "pool2d: bad op");
    ok(bchk_pool2d(&bk, DLH_POOL_AVG_PAD, &g, 1, mem(&img, 0), mem(&out, 0), none, &s,
                   &want) == 0 && want == 0, "pool2d avg_pad (ABI 1.6) is known, no idx");
    /* ceil_mode (ABI 1.6): 6 + 2 padded, window 3, stride 2 gives 3 in floor
       mode and 4 in ceil mode; pooling takes both, im2col only the first. */
    dlh_window2d gc = g;
    gc.h = gc.w = 6;
    gc.oh = gc.ow = 4;
    dlh_buffer img6 = { 72 * 4 }, out4 = { 32 * 4 };
    ok(bchk_pool2d(&bk, DLH_POOL_AVG_PAD, &gc, 1, mem(&img6, 0), mem(&out4, 0), none, &s,
                   &want) == 0 && s.out == 32, "pool2d takes the ceil_mode size 4x4");
    ok(bchk_pool2d_backward(&bk, DLH_POOL_AVG, &gc, 1, mem(&out4, 0), none, mem(&img6, 0),
                            &s) == 0, "pool2d_backward takes the ceil_mode size 4x4");
    refused(bchk_window(&bk, "im2col", &gc, 1, &s),
            "mock im2col: output size 4x4 does not match the window (expected 3x3",
            "im2col: no ceil_mode size");
    gc.oh = 5;
    refused(bchk_pool2d(&bk, DLH_POOL_MAX, &gc, 1, mem(&img6, 0), mem(&out4, 0), none, &s,
                        &want),
            "mock pool2d: output size 5x4 does not match the window (expected 3x4",
            "pool2d: 5 is neither the floor nor the ceil_mode size");
    ok(dlh_pool2d_ceil_size(6, 1, 3, 2) == 4 && dlh_pool2d_ceil_size(5, 1, 3, 2) == 3 &&
       dlh_pool2d_ceil_size(5, 0, 2, 2) == 3 && dlh_pool2d_ceil_size(4, 0, 2, 2) == 2 &&
       dlh_pool2d_ceil_size(7, 1, 2, 3) == 3 && dlh_pool2d_ceil_size(2, 0, 3, 1) == 0,
       "dlh_pool2d_ceil_size: torch's pooling_output_shape with ceil_mode (4 3 3 2 3, "
       "0 when the window does not fit)");
    refused(bchk_pool2d_backward(&bk, DLH_POOL_MAX, &g, 1, mem(&out, 0), none, mem(&img, 0),
                                 &s),
            "mock pool2d_backward: idx: no buffer (NULL) for 18 elements",
            "pool2d_backward: max needs idx");
    ok(bchk_pool2d_backward(&bk, DLH_POOL_AVG, &g, 1, mem(&out, 0), none, mem(&img, 0),
                            &s) == 0, "pool2d_backward: avg needs no idx");
    refused(bchk_pool2d_backward(&bk, DLH_POOL_AVG, &g, 1, mem(&out, 0), none, mem(&out, 0),
                                 &s),
            "mock pool2d_backward: dx: elements [0, 0 + 50)", "pool2d_backward: dx too short");
}

static void test_index(void)
{
    dlh_buffer src = { 12 * 4 }, ib = { 3 * 4 }, dst = { 9 * 4 };
    /* gather of 3 rows of 3 from a 4-row src */
    ok(bchk_index_args(&bk, "gather", 3, 3, mem(&src, 0), mem(&ib, 0), mem(&dst, 0), 1) == 0,
       "gather: arguments that fit");
    refused(bchk_index_args(&bk, "gather", -3, 3, mem(&src, 0), mem(&ib, 0), mem(&dst, 0), 1),
            "mock gather: sizes must be >= 0 (n=-3, cols=3)", "gather: a negative n");
    refused(bchk_index_args(&bk, "gather", 3, 3, mem(&src, 0), mem(&ib, 1), mem(&dst, 0), 1),
            "mock gather: idx: elements [1, 1 + 3)", "gather: idx too short");
    refused(bchk_index_args(&bk, "gather", 3, 3, mem(&src, 0), mem(&ib, 0), mem(&dst, 1), 1),
            "mock gather: dst: elements [1, 1 + 9)", "gather: dst too short");
    refused(bchk_index_args(&bk, "scatter_add", 3, 3, mem(&dst, 1), mem(&ib, 0),
                            mem(&src, 0), 0),
            "mock scatter_add: src: elements [1, 1 + 9)", "scatter_add: src too short");

    const int32_t good[3] = { 3, 0, 2 }, neg[3] = { 0, -1, 2 }, far[3] = { 1, 4, 0 };
    ok(bchk_index_rows(&bk, "gather", good, 3, 3, mem(&src, 0), mem(&dst, 0), 1) == 0,
       "gather: indices up to the last row pass");
    refused(bchk_index_rows(&bk, "gather", neg, 3, 3, mem(&src, 0), mem(&dst, 0), 1),
            "mock gather: idx[1] = -1 is negative", "gather: a negative index");
    refused(bchk_index_rows(&bk, "gather", far, 3, 3, mem(&src, 0), mem(&dst, 0), 1),
            "mock gather: index 4 addresses a row of src past the end of its buffer "
            "(4 rows of 3 fit)", "gather: an index past the last row");
    refused(bchk_index_rows(&bk, "scatter_add", good, 3, 3, mem(&dst, 0), mem(&src, 4), 0),
            "mock scatter_add: index 3 addresses a row of dst past the end of its buffer "
            "(2 rows of 3 fit)", "scatter_add: the indexed dst is checked");
    refused(bchk_index_rows(&bk, "gather", good, 3, 3, none, mem(&dst, 0), 1),
            "mock gather: src: no buffer (NULL) for 3 elements", "gather: no src");
    ok(bchk_index_rows(&bk, "gather", good, 3, 0, none, none, 1) == 0,
       "gather: rows of no columns need no memory");
    ok(bchk_index_rows(&bk, "gather", NULL, 0, 3, none, none, 1) == 0,
       "gather: no indices, nothing to check");
}

static void test_rand(void)
{
    dlh_buffer b = { 4 * 4 };
    ok(bchk_rand(&bk, DLH_RAND_BERNOULLI, mem(&b, 0), 4) == 0, "rand: 4 floats fit");
    refused(bchk_rand(&bk, (dlh_rand_dist)3, mem(&b, 0), 4),
            "mock rand: unknown distribution 3 (expected uniform 0, normal 1, bernoulli 2)",
            "rand: bad distribution");
    refused(bchk_rand(&bk, DLH_RAND_NORMAL, mem(&b, 1), 4), "mock rand: dst: elements",
            "rand: dst too short");
}

int main(void)
{
    bk.host = dlh_host_table();
    test_memory();
    test_gemm();
    test_ew();
    test_reduce();
    test_window();
    test_image();
    test_index();
    test_rand();
    return done_testing();
}
