// Times SiLU on efficientnet_b0's activations three ways, to choose how zoo runs it: oneDNN's
// swish as a post-op of the 1x1 convolution that makes the activation (the time over the same
// convolution without it), oneDNN's swish as an eltwise primitive of its own, and zoo's vector
// kernel (Sources/CKernels/exponential.c), both in place on the blocked (nChw16c) output. Build and run:
//   cc -O2 -fopenmp -ISources/CKernels/include Tools/bench/silu.c Sources/CKernels/exponential.c \
//      -o /tmp/silu_bench -ldnnl -lm && OMP_WAIT_POLICY=passive /tmp/silu_bench 1
// Prints the fastest of 50 passes, in nanoseconds per element.
#include "dnnl_bench.h"
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "CKernels.h"


typedef struct {
    int in, out, size;
} Layer;

// efficientnet_b0's expanding 1x1 convolutions at one sample, each followed by SiLU.
static const Layer layers[] = {{16, 96, 112}, {24, 144, 56}, {40, 240, 28}, {80, 480, 14}, {112, 672, 14}, {192, 1152, 7}};

static dnnl_engine_t engine;
static dnnl_stream_t stream;

static dnnl_memory_t filled(const dnnl_memory_desc_t *md) { return filled_memory(engine, md, -2.0f, 4.0f); }

static float *data_of(dnnl_memory_t memory) {
    void *data;
    CHECK(dnnl_memory_get_data_handle(memory, &data));
    return data;
}

static dnnl_primitive_t pointwise(const Layer *layer, const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *dst, int swish,
                                  dnnl_memory_t *weights, dnnl_memory_t *bias) {
    dnnl_memory_desc_t weights_md, bias_md;
    dnnl_dims_t weights_dims = {layer->out, layer->in, 1, 1}, bias_dims = {layer->out};
    CHECK(dnnl_memory_desc_init_by_tag(&weights_md, 4, weights_dims, dnnl_f32, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&bias_md, 1, bias_dims, dnnl_f32, dnnl_x));
    dnnl_dims_t strides = {1, 1}, padding = {0, 0};
    dnnl_convolution_desc_t desc;
    CHECK(dnnl_convolution_forward_desc_init(&desc, dnnl_forward_inference, dnnl_convolution_direct, src, &weights_md, &bias_md, dst,
                                             strides, padding, padding));
    dnnl_primitive_attr_t attr;
    dnnl_post_ops_t ops;
    CHECK(dnnl_primitive_attr_create(&attr));
    CHECK(dnnl_post_ops_create(&ops));
    if (swish) CHECK(dnnl_post_ops_append_eltwise(ops, 1, dnnl_eltwise_swish, 1, 0));
    CHECK(dnnl_primitive_attr_set_post_ops(attr, ops));
    dnnl_primitive_desc_t pd;
    CHECK(dnnl_primitive_desc_create(&pd, &desc, attr, engine, NULL));
    *weights = filled(dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0));
    *bias = filled(&bias_md);
    dnnl_primitive_t primitive;
    CHECK(dnnl_primitive_create(&primitive, pd));
    return primitive;
}

static double convolution_ns(dnnl_primitive_t primitive, dnnl_memory_t src, dnnl_memory_t weights, dnnl_memory_t bias, dnnl_memory_t dst) {
    dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_BIAS, bias}, {DNNL_ARG_DST, dst}};
    double best = 1e30;
    for (int pass = 0; pass < 55; pass++) {
        double start = now_ns();
        CHECK(dnnl_primitive_execute(primitive, stream, 4, args));
        CHECK(dnnl_stream_wait(stream));
        double elapsed = now_ns() - start;
        if (pass >= 5 && elapsed < best) best = elapsed;
    }
    return best;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    omp_set_num_threads(threads);
    CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
    printf("%d thread(s); ns per element of the activation\n", threads);
    printf("%-22s %10s %10s %10s\n", "1x1 conv then SiLU", "post-op", "primitive", "zoo");
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++) {
        const Layer *layer = &layers[i];
        dnnl_memory_desc_t src_md, dst_md;
        dnnl_dims_t src_dims = {1, layer->in, layer->size, layer->size}, dst_dims = {1, layer->out, layer->size, layer->size};
        CHECK(dnnl_memory_desc_init_by_tag(&src_md, 4, src_dims, dnnl_f32, dnnl_aBcd16b));
        CHECK(dnnl_memory_desc_init_by_tag(&dst_md, 4, dst_dims, dnnl_f32, dnnl_aBcd16b));
        dnnl_memory_t src = filled(&src_md), dst = filled(&dst_md), weights, bias, fused_weights, fused_bias;
        dnnl_primitive_t plain = pointwise(layer, &src_md, &dst_md, 0, &weights, &bias);
        dnnl_primitive_t fused = pointwise(layer, &src_md, &dst_md, 1, &fused_weights, &fused_bias);
        double elements = (double)layer->out * layer->size * layer->size;
        double post_op = (convolution_ns(fused, src, fused_weights, fused_bias, dst) - convolution_ns(plain, src, weights, bias, dst)) / elements;

        dnnl_eltwise_desc_t eltwise_desc;
        CHECK(dnnl_eltwise_forward_desc_init(&eltwise_desc, dnnl_forward_inference, dnnl_eltwise_swish, &dst_md, 1, 0));
        dnnl_primitive_desc_t eltwise_pd;
        CHECK(dnnl_primitive_desc_create(&eltwise_pd, &eltwise_desc, NULL, engine, NULL));
        dnnl_primitive_t eltwise;
        CHECK(dnnl_primitive_create(&eltwise, eltwise_pd));
        dnnl_exec_arg_t eltwise_args[] = {{DNNL_ARG_SRC, dst}, {DNNL_ARG_DST, dst}};
        double primitive = 1e30, own = 1e30;
        size_t count = dnnl_memory_desc_get_size(&dst_md) / sizeof(float);
        for (int pass = 0; pass < 55; pass++) {
            // The convolution first, so that each SiLU reads a fresh activation (repeated SiLUs
            // would shrink it to subnormals) from where the convolution left it.
            convolution_ns(plain, src, weights, bias, dst);
            double start = now_ns();
            CHECK(dnnl_primitive_execute(eltwise, stream, 2, eltwise_args));
            CHECK(dnnl_stream_wait(stream));
            double elapsed = now_ns() - start;
            if (pass >= 5 && elapsed < primitive) primitive = elapsed;
            convolution_ns(plain, src, weights, bias, dst);
            float *values = data_of(dst);
            start = now_ns();
#pragma omp parallel for
            for (size_t chunk = 0; chunk < (count + 16383) / 16384; chunk++) {
                size_t first = chunk * 16384, left = count - first;
                zoo_silu_f32(values + first, values + first, left < 16384 ? left : 16384);
            }
            elapsed = now_ns() - start;
            if (pass >= 5 && elapsed < own) own = elapsed;
        }
        char name[32];
        snprintf(name, sizeof name, "%d->%d %dx%d", layer->in, layer->out, layer->size, layer->size);
        printf("%-22s %10.3f %10.3f %10.3f\n", name, post_op, primitive / elements, own / elements);
    }
    return 0;
}
