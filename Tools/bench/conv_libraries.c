// Times resnet18's and encdec's convolution layers several ways on the CPU, to choose what zoo's
// Conv2d runs: im2col + OpenBLAS sgemm (zoo's own path before oneDNN), oneDNN with plain NCHW
// tensors in and out (reorders included, what a drop-in layer pays), oneDNN kept in its blocked
// layout (no reorders), oneDNN's kernel for plain NCHW, oneDNN's Winograd (3x3 stride 1; -1 where
// it does not apply) and XNNPACK in NHWC. Needs libdnnl-dev, libxnnpack-dev, libpthreadpool-dev
// and libopenblas-dev. Build and run by hand:
//   cc -O2 -fopenmp Tools/bench/conv_libraries.c -o /tmp/conv_libraries \
//      -ldnnl -lXNNPACK -lpthreadpool -lopenblas && /tmp/conv_libraries 2
// Prints the fastest of 20 passes per layer in milliseconds.
#include <cblas.h>
#include <dnnl.h>
#include <omp.h>
#include <pthreadpool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xnnpack.h>
#include <math.h>

static int r_verbose = 0;

typedef struct {
    const char *name;
    int n, c, h, w, k, kh, stride, pad, transposed;
} Layer;

static const Layer layers[] = {
    {"resnet18 conv1 7x7/2 3->64 224", 1, 3, 224, 224, 64, 7, 2, 3, 0},
    {"resnet18 3x3 64->64 56", 1, 64, 56, 56, 64, 3, 1, 1, 0},
    {"resnet18 3x3/2 64->128 56", 1, 64, 56, 56, 128, 3, 2, 1, 0},
    {"resnet18 1x1/2 64->128 56", 1, 64, 56, 56, 128, 1, 2, 0, 0},
    {"resnet18 3x3 128->128 28", 1, 128, 28, 28, 128, 3, 1, 1, 0},
    {"resnet18 3x3 256->256 14", 1, 256, 14, 14, 256, 3, 1, 1, 0},
    {"resnet18 3x3 512->512 7", 1, 512, 7, 7, 512, 3, 1, 1, 0},
    {"resnet18 conv1 b8", 8, 3, 224, 224, 64, 7, 2, 3, 0},
    {"resnet18 3x3 64->64 56 b8", 8, 64, 56, 56, 64, 3, 1, 1, 0},
    {"resnet18 3x3 128->128 28 b8", 8, 128, 28, 28, 128, 3, 1, 1, 0},
    {"resnet18 3x3 256->256 14 b8", 8, 256, 14, 14, 256, 3, 1, 1, 0},
    {"resnet18 3x3 512->512 7 b8", 8, 512, 7, 7, 512, 3, 1, 1, 0},
    {"encdec conv 4x4/2 3->32 64 b16", 16, 3, 64, 64, 32, 4, 2, 1, 0},
    {"encdec conv 4x4/2 32->64 32 b16", 16, 32, 32, 32, 64, 4, 2, 1, 0},
    {"encdec deconv 4x4/2 64->32 16 b16", 16, 64, 16, 16, 32, 4, 2, 1, 1},
    {"encdec deconv 4x4/2 32->3 32 b16", 16, 32, 32, 32, 3, 4, 2, 1, 1},
};

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static float *random_floats(size_t count) {
    float *values = aligned_alloc(64, ((count * 4 + 63) / 64) * 64);
    for (size_t i = 0; i < count; i++) values[i] = (float)rand() / RAND_MAX - 0.5f;
    return values;
}

static int out_size(const Layer *l) {
    return l->transposed ? (l->h - 1) * l->stride - 2 * l->pad + l->kh : (l->h + 2 * l->pad - l->kh) / l->stride + 1;
}

#define CHECK(call)                                                                                  \
    do {                                                                                             \
        dnnl_status_t s_ = (call);                                                                   \
        if (s_ != dnnl_success) { fprintf(stderr, "%s failed: %d\n", #call, s_); exit(1); }          \
    } while (0)

// im2col + sgemm per sample (the transposed case: sgemm then col2im), as zoo's Conv2d does.
static double time_im2col(const Layer *l, const float *x, const float *wt, float *y, int repeats) {
    int oh = out_size(l), patch = l->c * l->kh * l->kh;
    double best = 1e30;
    if (!l->transposed) {
        float *cols = random_floats((size_t)patch * oh * oh);
        for (int r = 0; r < repeats; r++) {
            double t0 = now_ms();
            for (int s = 0; s < l->n; s++) {
                const float *image = x + (size_t)s * l->c * l->h * l->w;
                #pragma omp parallel for
                for (int row = 0; row < patch; row++) {
                    int ch = row / (l->kh * l->kh), ky = row / l->kh % l->kh, kx = row % l->kh;
                    for (int oy = 0; oy < oh; oy++)
                        for (int ox = 0; ox < oh; ox++) {
                            int iy = oy * l->stride - l->pad + ky, ix = ox * l->stride - l->pad + kx;
                            cols[(size_t)row * oh * oh + oy * oh + ox] =
                                (iy >= 0 && iy < l->h && ix >= 0 && ix < l->w) ? image[(ch * l->h + iy) * l->w + ix] : 0;
                        }
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, l->k, oh * oh, patch, 1, wt, patch, cols, oh * oh, 0,
                            y + (size_t)s * l->k * oh * oh, oh * oh);
            }
            double t = now_ms() - t0;
            if (t < best) best = t;
        }
        free(cols);
    } else {
        int rows = l->k * l->kh * l->kh;
        float *cols = random_floats((size_t)rows * l->h * l->w);
        for (int r = 0; r < repeats; r++) {
            double t0 = now_ms();
            for (int s = 0; s < l->n; s++) {
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, rows, l->h * l->w, l->c, 1, wt, rows,
                            x + (size_t)s * l->c * l->h * l->w, l->h * l->w, 0, cols, l->h * l->w);
                float *out = y + (size_t)s * l->k * oh * oh;
                memset(out, 0, sizeof(float) * l->k * oh * oh);
                #pragma omp parallel for
                for (int ch = 0; ch < l->k; ch++)
                    for (int ky = 0; ky < l->kh; ky++)
                        for (int kx = 0; kx < l->kh; kx++) {
                            const float *col = cols + (size_t)((ch * l->kh + ky) * l->kh + kx) * l->h * l->w;
                            for (int iy = 0; iy < l->h; iy++) {
                                int oy = iy * l->stride - l->pad + ky;
                                if (oy < 0 || oy >= oh) continue;
                                for (int ix = 0; ix < l->w; ix++) {
                                    int ox = ix * l->stride - l->pad + kx;
                                    if (ox >= 0 && ox < oh) out[(ch * oh + oy) * oh + ox] += col[iy * l->w + ix];
                                }
                            }
                        }
            }
            double t = now_ms() - t0;
            if (t < best) best = t;
        }
        free(cols);
    }
    return best;
}

static dnnl_engine_t engine;
static dnnl_stream_t stream;

static void reorder(dnnl_memory_t from, dnnl_memory_t to) {
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t p;
    const dnnl_memory_desc_t *a, *b;
    CHECK(dnnl_memory_get_memory_desc(from, &a));
    CHECK(dnnl_memory_get_memory_desc(to, &b));
    CHECK(dnnl_reorder_primitive_desc_create(&pd, a, engine, b, engine, NULL));
    CHECK(dnnl_primitive_create(&p, pd));
    dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    CHECK(dnnl_primitive_execute(p, stream, 2, args));
    CHECK(dnnl_stream_wait(stream));
    dnnl_primitive_destroy(p);
    dnnl_primitive_desc_destroy(pd);
}

// oneDNN; `blocked` lets it choose the activations' layout and times only the convolution.
static double time_onednn(const Layer *l, float *x, float *wt, float *y, int repeats, int blocked, int plain_kernel, int winograd) {
    int oh = out_size(l);
    dnnl_dims_t src_dims = {l->n, l->c, l->h, l->w}, dst_dims = {l->n, l->k, oh, oh};
    dnnl_dims_t w_dims = {l->k, l->c, l->kh, l->kh};
    dnnl_dims_t strides = {l->stride, l->stride}, dil = {0, 0}, pad = {l->pad, l->pad};
    dnnl_memory_desc_t src_plain, dst_plain, w_plain, src_any, dst_any, w_any;
    CHECK(dnnl_memory_desc_init_by_tag(&src_plain, 4, src_dims, dnnl_f32, dnnl_nchw));
    CHECK(dnnl_memory_desc_init_by_tag(&dst_plain, 4, dst_dims, dnnl_f32, dnnl_nchw));
    CHECK(dnnl_memory_desc_init_by_tag(&w_plain, 4, w_dims, dnnl_f32, l->transposed ? dnnl_iohw : dnnl_oihw));
    CHECK(dnnl_memory_desc_init_by_tag(&src_any, 4, src_dims, dnnl_f32, plain_kernel ? dnnl_nchw : dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&dst_any, 4, dst_dims, dnnl_f32, plain_kernel ? dnnl_nchw : dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&w_any, 4, w_dims, dnnl_f32, dnnl_format_tag_any));
    dnnl_primitive_desc_t pd;
    if (l->transposed) {
        dnnl_deconvolution_desc_t d;
        CHECK(dnnl_dilated_deconvolution_forward_desc_init(&d, dnnl_forward_inference, dnnl_deconvolution_direct, &src_any,
                                                            &w_any, NULL, &dst_any, strides, dil, pad, pad));
        CHECK(dnnl_primitive_desc_create(&pd, &d, NULL, engine, NULL));
    } else {
        dnnl_convolution_desc_t d;
        CHECK(dnnl_dilated_convolution_forward_desc_init(&d, dnnl_forward_inference,
                                                          winograd ? dnnl_convolution_winograd : dnnl_convolution_direct,
                                                          &src_any, &w_any, NULL, &dst_any, strides, dil, pad, pad));
        if (dnnl_primitive_desc_create(&pd, &d, NULL, engine, NULL) != dnnl_success) return -1;
    }
    const char *impl;
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
    const dnnl_memory_desc_t *src_md = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *dst_md = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    const dnnl_memory_desc_t *w_md = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    dnnl_memory_t x_user, y_user, w_user, x_mem, y_mem, w_mem;
    CHECK(dnnl_memory_create(&x_user, &src_plain, engine, x));
    CHECK(dnnl_memory_create(&y_user, &dst_plain, engine, y));
    CHECK(dnnl_memory_create(&w_user, &w_plain, engine, wt));
    CHECK(dnnl_memory_create(&x_mem, src_md, engine, DNNL_MEMORY_ALLOCATE));
    CHECK(dnnl_memory_create(&y_mem, dst_md, engine, DNNL_MEMORY_ALLOCATE));
    CHECK(dnnl_memory_create(&w_mem, w_md, engine, DNNL_MEMORY_ALLOCATE));
    reorder(w_user, w_mem);
    int src_same = dnnl_memory_desc_equal(src_md, &src_plain), dst_same = dnnl_memory_desc_equal(dst_md, &dst_plain);
    dnnl_primitive_t conv;
    CHECK(dnnl_primitive_create(&conv, pd));
    dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, x_mem}, {DNNL_ARG_WEIGHTS, w_mem}, {DNNL_ARG_DST, y_mem}};
    double best = 1e30;
    for (int r = 0; r < repeats; r++) {
        double t0 = now_ms();
        if (!blocked && !src_same) reorder(x_user, x_mem);
        CHECK(dnnl_primitive_execute(conv, stream, 3, args));
        CHECK(dnnl_stream_wait(stream));
        if (!blocked && !dst_same) reorder(y_mem, y_user);
        double t = now_ms() - t0;
        if (t < best) best = t;
    }
    if (r_verbose) fprintf(stderr, "  %s: %s\n", l->name, impl);
    dnnl_primitive_destroy(conv);
    dnnl_primitive_desc_destroy(pd);
    dnnl_memory_destroy(x_user); dnnl_memory_destroy(y_user); dnnl_memory_destroy(w_user);
    dnnl_memory_destroy(x_mem); dnnl_memory_destroy(y_mem); dnnl_memory_destroy(w_mem);
    return best;
}

static double time_xnnpack(const Layer *l, const float *x, const float *wt, float *y, int repeats, pthreadpool_t pool) {
    int oh = out_size(l);
    xnn_operator_t op = NULL;
    enum xnn_status s;
    if (l->transposed)
        s = xnn_create_deconvolution2d_nhwc_f32(l->pad, l->pad, l->pad, l->pad, l->kh, l->kh, l->stride, l->stride, 1, 1, 1,
                                                l->c, l->k, l->c, l->k, wt, NULL, -INFINITY, INFINITY, 0, &op);
    else
        s = xnn_create_convolution2d_nhwc_f32(l->pad, l->pad, l->pad, l->pad, l->kh, l->kh, l->stride, l->stride, 1, 1, 1, l->c,
                                              l->k, l->c, l->k, wt, NULL, -INFINITY, INFINITY, 0, &op);
    if (s != xnn_status_success) return -1;
    if (l->transposed)
        s = xnn_setup_deconvolution2d_nhwc_f32(op, l->n, l->h, l->w, 0, 0, x, y, pool);
    else
        s = xnn_setup_convolution2d_nhwc_f32(op, l->n, l->h, l->w, x, y, pool);
    if (s != xnn_status_success) return -1;
    double best = 1e30;
    for (int r = 0; r < repeats; r++) {
        double t0 = now_ms();
        xnn_run_operator(op, pool);
        double t = now_ms() - t0;
        if (t < best) best = t;
    }
    xnn_delete_operator(op);
    (void)oh;
    return best;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2, repeats = 20;
    r_verbose = getenv("VERBOSE") != NULL;
    openblas_set_num_threads(threads);
    omp_set_num_threads(threads);
    CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
    if (xnn_initialize(NULL) != xnn_status_success) { fprintf(stderr, "xnn_initialize failed\n"); return 1; }
    pthreadpool_t pool = threads > 1 ? pthreadpool_create(threads) : NULL;
    printf("| layer | im2col+OpenBLAS | oneDNN, NCHW in/out | oneDNN, blocked | oneDNN, NCHW kernel | oneDNN Winograd, NCHW in/out | XNNPACK, NHWC |\n|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++) {
        const Layer *l = &layers[i];
        int oh = out_size(l);
        size_t xs = (size_t)l->n * l->c * l->h * l->w, ys = (size_t)l->n * l->k * oh * oh, ws = (size_t)l->k * l->c * l->kh * l->kh;
        float *x = random_floats(xs), *y = random_floats(ys), *wt = random_floats(ws);
        double a = time_im2col(l, x, wt, y, repeats);
        double b = time_onednn(l, x, wt, y, repeats, 0, 0, 0);
        double c = time_onednn(l, x, wt, y, repeats, 1, 0, 0);
        double p = time_onednn(l, x, wt, y, repeats, 0, 1, 0);
        int winograd_applies = !l->transposed && l->kh == 3 && l->stride == 1;
        double g = winograd_applies ? time_onednn(l, x, wt, y, repeats, 0, 0, 1) : -1;
        double d = time_xnnpack(l, x, wt, y, repeats, pool);
        printf("| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", l->name, a, b, c, p, g, d);
        fflush(stdout);
        free(x); free(y); free(wt);
    }
    return 0;
}
