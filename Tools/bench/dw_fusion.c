// Times a pointwise (1x1) convolution followed by a 3x3 depthwise one, each with its activation
// (MobileNetV2's ReLU6, EfficientNet's SiLU), two ways in oneDNN's blocked layout (nChw16c):
// as two primitives, the 1x1's whole output written and read back, and as one primitive with
// the depthwise convolution fused in as a post-op (dnnl_post_ops_append_dw), which computes a
// few rows of the 1x1's output at a time and never writes it out. Build and run by hand:
//   cc -O2 -fopenmp Tools/bench/dw_fusion.c -o /tmp/dw_fusion -ldnnl && /tmp/dw_fusion 2
// Prints the fastest of 50 passes per layer pair in microseconds.
#include "dnnl_bench.h"
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>


typedef struct {
    const char *name;
    int batch, in, mid, size, stride;
    dnnl_alg_kind_t activation;
    float alpha, beta;
} Pair;

static const Pair pairs[] = {
    {"mobilenet_v2 16->96 112, dw/2", 1, 16, 96, 112, 2, dnnl_eltwise_clip, 0, 6},
    {"mobilenet_v2 24->144 56, dw", 1, 24, 144, 56, 1, dnnl_eltwise_clip, 0, 6},
    {"mobilenet_v2 24->144 56, dw/2", 1, 24, 144, 56, 2, dnnl_eltwise_clip, 0, 6},
    {"mobilenet_v2 32->192 28, dw", 1, 32, 192, 28, 1, dnnl_eltwise_clip, 0, 6},
    {"mobilenet_v2 64->384 14, dw", 1, 64, 384, 14, 1, dnnl_eltwise_clip, 0, 6},
    {"mobilenet_v2 96->576 14, dw", 1, 96, 576, 14, 1, dnnl_eltwise_clip, 0, 6},
    {"mobilenet_v2 160->960 7, dw", 1, 160, 960, 7, 1, dnnl_eltwise_clip, 0, 6},
    {"efficientnet_b0 16->96 112, dw/2", 1, 16, 96, 112, 2, dnnl_eltwise_swish, 1, 0},
    {"efficientnet_b0 24->144 56, dw", 1, 24, 144, 56, 1, dnnl_eltwise_swish, 1, 0},
    {"efficientnet_b0 80->480 14, dw", 1, 80, 480, 14, 1, dnnl_eltwise_swish, 1, 0},
    {"efficientnet_b0 192->1152 7, dw", 1, 192, 1152, 7, 1, dnnl_eltwise_swish, 1, 0},
    {"mobilenet_v2 16->96 112, dw/2 b8", 8, 16, 96, 112, 2, dnnl_eltwise_clip, 0, 6},
    {"mobilenet_v2 24->144 56, dw b8", 8, 24, 144, 56, 1, dnnl_eltwise_clip, 0, 6},
    {"mobilenet_v2 96->576 14, dw b8", 8, 96, 576, 14, 1, dnnl_eltwise_clip, 0, 6},
};

static dnnl_engine_t engine;
static dnnl_stream_t stream;

static double now_us(void) { return now_ns() / 1e3; }

static dnnl_memory_t filled(const dnnl_memory_desc_t *md) { return filled_memory(engine, md, -0.5f, 1.0f); }

static dnnl_primitive_desc_t convolution(dnnl_memory_desc_t *src, dnnl_memory_desc_t *dst, int in, int out, int kernel,
                                         int stride, int groups, dnnl_primitive_attr_t attr) {
    dnnl_memory_desc_t weights, bias;
    dnnl_dims_t bias_dims = {out};
    CHECK(dnnl_memory_desc_init_by_tag(&bias, 1, bias_dims, dnnl_f32, dnnl_x));
    if (groups == 1) {
        dnnl_dims_t dims = {out, in, kernel, kernel};
        CHECK(dnnl_memory_desc_init_by_tag(&weights, 4, dims, dnnl_f32, dnnl_format_tag_any));
    } else {
        dnnl_dims_t dims = {groups, 1, 1, kernel, kernel};
        CHECK(dnnl_memory_desc_init_by_tag(&weights, 5, dims, dnnl_f32, dnnl_format_tag_any));
    }
    dnnl_dims_t strides = {stride, stride}, padding = {kernel / 2, kernel / 2};
    dnnl_convolution_desc_t desc;
    CHECK(dnnl_convolution_forward_desc_init(&desc, dnnl_forward_inference, dnnl_convolution_direct, src, &weights, &bias, dst,
                                             strides, padding, padding));
    dnnl_primitive_desc_t pd;
    CHECK(dnnl_primitive_desc_create(&pd, &desc, attr, engine, NULL));
    return pd;
}

static dnnl_primitive_attr_t activations(const Pair *p, int fuse_dw) {
    dnnl_primitive_attr_t attr;
    dnnl_post_ops_t ops;
    CHECK(dnnl_primitive_attr_create(&attr));
    CHECK(dnnl_post_ops_create(&ops));
    CHECK(dnnl_post_ops_append_eltwise(ops, 1, p->activation, p->alpha, p->beta));
    if (fuse_dw) {
        CHECK(dnnl_post_ops_append_dw(ops, dnnl_f32, dnnl_f32, dnnl_f32, 3, p->stride, 1, 0, 0, NULL));
        CHECK(dnnl_post_ops_append_eltwise(ops, 1, p->activation, p->alpha, p->beta));
    }
    CHECK(dnnl_primitive_attr_set_post_ops(attr, ops));
    dnnl_post_ops_destroy(ops);
    return attr;
}

static dnnl_memory_t arg_memory(dnnl_primitive_desc_t pd, int arg) {
    return filled(dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, 0 + arg));
}

static const char *implementation(dnnl_primitive_desc_t pd) {
    const char *name;
    CHECK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name));
    return name;
}

static double best_of(int passes, dnnl_primitive_t *primitives, int count, dnnl_exec_arg_t **args, int *arg_counts) {
    double best = 1e30;
    for (int pass = 0; pass < passes; pass++) {
        double start = now_us();
        for (int i = 0; i < count; i++) CHECK(dnnl_primitive_execute(primitives[i], stream, arg_counts[i], args[i]));
        CHECK(dnnl_stream_wait(stream));
        double elapsed = now_us() - start;
        if (elapsed < best) best = elapsed;
    }
    return best;
}

int main(int argc, char **argv) {
    omp_set_num_threads(argc > 1 ? atoi(argv[1]) : 1);
    CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
    printf("%-36s %10s %10s %7s  %s\n", "1x1 then 3x3 depthwise", "two (us)", "fused (us)", "ratio", "fused implementation");
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        const Pair *p = &pairs[i];
        int out_size = (p->size + p->stride - 1) / p->stride;
        dnnl_memory_desc_t src, mid, dst;
        dnnl_dims_t src_dims = {p->batch, p->in, p->size, p->size}, mid_dims = {p->batch, p->mid, p->size, p->size},
                    dst_dims = {p->batch, p->mid, out_size, out_size};
        CHECK(dnnl_memory_desc_init_by_tag(&src, 4, src_dims, dnnl_f32, dnnl_aBcd16b));
        CHECK(dnnl_memory_desc_init_by_tag(&mid, 4, mid_dims, dnnl_f32, dnnl_aBcd16b));
        CHECK(dnnl_memory_desc_init_by_tag(&dst, 4, dst_dims, dnnl_f32, dnnl_aBcd16b));

        dnnl_primitive_attr_t plain_attr = activations(p, 0), fused_attr = activations(p, 1);
        dnnl_primitive_desc_t pointwise = convolution(&src, &mid, p->in, p->mid, 1, 1, 1, plain_attr);
        dnnl_primitive_desc_t depthwise = convolution(&mid, &dst, p->mid, p->mid, 3, p->stride, p->mid, plain_attr);
        dnnl_primitive_desc_t fused = convolution(&src, &mid, p->in, p->mid, 1, 1, 1, fused_attr);

        dnnl_memory_t source = filled(&src), middle = filled(&mid), target = filled(&dst);
        dnnl_exec_arg_t pointwise_args[] = {{DNNL_ARG_SRC, source}, {DNNL_ARG_WEIGHTS, arg_memory(pointwise, DNNL_ARG_WEIGHTS)},
                                            {DNNL_ARG_BIAS, arg_memory(pointwise, DNNL_ARG_BIAS)}, {DNNL_ARG_DST, middle}};
        dnnl_exec_arg_t depthwise_args[] = {{DNNL_ARG_SRC, middle}, {DNNL_ARG_WEIGHTS, arg_memory(depthwise, DNNL_ARG_WEIGHTS)},
                                            {DNNL_ARG_BIAS, arg_memory(depthwise, DNNL_ARG_BIAS)}, {DNNL_ARG_DST, target}};
        dnnl_exec_arg_t fused_args[] = {
            {DNNL_ARG_SRC, source},
            {DNNL_ARG_WEIGHTS, arg_memory(fused, DNNL_ARG_WEIGHTS)},
            {DNNL_ARG_BIAS, arg_memory(fused, DNNL_ARG_BIAS)},
            {DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_WEIGHTS, arg_memory(fused, DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_WEIGHTS)},
            {DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_BIAS, arg_memory(fused, DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_BIAS)},
            {DNNL_ARG_DST, target},
            {DNNL_ARG_SCRATCHPAD, arg_memory(fused, DNNL_ARG_SCRATCHPAD)}};

        dnnl_primitive_t two[2], one[1];
        CHECK(dnnl_primitive_create(&two[0], pointwise));
        CHECK(dnnl_primitive_create(&two[1], depthwise));
        CHECK(dnnl_primitive_create(&one[0], fused));
        dnnl_exec_arg_t *two_args[] = {pointwise_args, depthwise_args}, *one_args[] = {fused_args};
        int two_counts[] = {4, 4}, one_counts[] = {7};
        best_of(5, two, 2, two_args, two_counts);
        best_of(5, one, 1, one_args, one_counts);
        double separate = best_of(50, two, 2, two_args, two_counts);
        double together = best_of(50, one, 1, one_args, one_counts);
        printf("%-36s %10.1f %10.1f %7.2f  %s\n", p->name, separate, together, together / separate, implementation(fused));
    }
    return 0;
}
