// Times Linear's two ways on the CPU, to choose what zoo's Linear runs in eval mode: dnnl_sgemm on
// PyTorch's (out_features, in_features) weights, as Linear did, against oneDNN's inner product
// with the weights reordered once into the layout its kernel picks (pre-packed). The shapes are
// the classifiers of the benchmark's models (simplecnn's 4096 -> 128 at batch 64, mobilenet_v2's
// and efficientnet_b0's 1280 -> 1000, resnet18's 512 -> 1000) at batch 1 and 8. Needs
// libdnnl-dev. Build and run by hand (OMP_NUM_THREADS sets the threads):
//   cc -O2 Tools/bench/inner_product.c -o /tmp/inner_product -ldnnl && /tmp/inner_product
// Prints the fastest of 300 calls per shape in microseconds.
//
// Then the same question for zoo's Flatten -> Linear step on a convolution's nChw16c output: the
// 4-d blocked source read as it is (oneDNN picks its GEMM kernel, weights reordered to match)
// against the same floats as rows (oneDNN picks brgemm; zoo puts the weights into the blocked
// order itself), fastest of 3 x 100 calls each. Shapes: net's 32 x 32 x 32 -> 10, simplecnn's
// 64 x 8 x 8 -> 128, and a few around them.
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHECK(call)                                                                            \
    do {                                                                                       \
        dnnl_status_t status_ = (call);                                                        \
        if (status_ != dnnl_success) {                                                         \
            fprintf(stderr, "%s failed: %d (line %d)\n", #call, status_, __LINE__);            \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

static double microseconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec * 1e6 + now.tv_nsec / 1e3;
}

static float *random_floats(long count) {
    float *values = malloc(sizeof(float) * count);
    for (long i = 0; i < count; i++) values[i] = (float)rand() / RAND_MAX - 0.5f;
    return values;
}

static void time_shape(dnnl_engine_t engine, dnnl_stream_t stream, int rows, int in, int out) {
    float *x = random_floats((long)rows * in), *w = random_floats((long)out * in), *b = random_floats(out);
    float *y = malloc(sizeof(float) * rows * out);
    double gemm = 1e9, packed = 1e9;
    for (int pass = 0; pass < 300; pass++) {
        for (int row = 0; row < rows; row++)
            for (int o = 0; o < out; o++) y[row * out + o] = b[o];
        double start = microseconds();
        CHECK(dnnl_sgemm('N', 'T', rows, out, in, 1, x, in, w, in, 1, y, out));
        double took = microseconds() - start;
        if (took < gemm) gemm = took;
    }
    dnnl_memory_desc_t source, weights_plain, weights_any, bias, destination;
    dnnl_dims_t source_dims = {rows, in}, weight_dims = {out, in}, bias_dims = {out}, destination_dims = {rows, out};
    CHECK(dnnl_memory_desc_init_by_tag(&source, 2, source_dims, dnnl_f32, dnnl_nc));
    CHECK(dnnl_memory_desc_init_by_tag(&weights_plain, 2, weight_dims, dnnl_f32, dnnl_oi));
    CHECK(dnnl_memory_desc_init_by_tag(&weights_any, 2, weight_dims, dnnl_f32, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&bias, 1, bias_dims, dnnl_f32, dnnl_x));
    CHECK(dnnl_memory_desc_init_by_tag(&destination, 2, destination_dims, dnnl_f32, dnnl_nc));
    dnnl_inner_product_desc_t operation;
    CHECK(dnnl_inner_product_forward_desc_init(&operation, dnnl_forward_inference, &source, &weights_any, &bias, &destination));
    dnnl_primitive_desc_t descriptor;
    CHECK(dnnl_primitive_desc_create(&descriptor, &operation, NULL, engine, NULL));
    const char *kernel;
    CHECK(dnnl_primitive_desc_query(descriptor, dnnl_query_impl_info_str, 0, &kernel));
    const dnnl_memory_desc_t *packed_layout = dnnl_primitive_desc_query_md(descriptor, dnnl_query_weights_md, 0);
    dnnl_memory_t x_memory, w_plain, w_packed, b_memory, y_memory, scratch;
    CHECK(dnnl_memory_create(&x_memory, &source, engine, x));
    CHECK(dnnl_memory_create(&w_plain, &weights_plain, engine, w));
    CHECK(dnnl_memory_create(&w_packed, packed_layout, engine, DNNL_MEMORY_ALLOCATE));
    CHECK(dnnl_memory_create(&b_memory, &bias, engine, b));
    CHECK(dnnl_memory_create(&y_memory, &destination, engine, y));
    CHECK(dnnl_memory_create(&scratch, dnnl_primitive_desc_query_md(descriptor, dnnl_query_scratchpad_md, 0), engine,
                             DNNL_MEMORY_ALLOCATE));
    dnnl_primitive_desc_t reorder_descriptor;
    dnnl_primitive_t reorder, product;
    CHECK(dnnl_reorder_primitive_desc_create(&reorder_descriptor, &weights_plain, engine, packed_layout, engine, NULL));
    CHECK(dnnl_primitive_create(&reorder, reorder_descriptor));
    dnnl_exec_arg_t reorder_arguments[] = {{DNNL_ARG_FROM, w_plain}, {DNNL_ARG_TO, w_packed}};
    CHECK(dnnl_primitive_execute(reorder, stream, 2, reorder_arguments));
    CHECK(dnnl_primitive_create(&product, descriptor));
    dnnl_exec_arg_t arguments[] = {{DNNL_ARG_SRC, x_memory}, {DNNL_ARG_WEIGHTS, w_packed}, {DNNL_ARG_BIAS, b_memory},
                                   {DNNL_ARG_DST, y_memory}, {DNNL_ARG_SCRATCHPAD, scratch}};
    for (int pass = 0; pass < 300; pass++) {
        double start = microseconds();
        CHECK(dnnl_primitive_execute(product, stream, 5, arguments));
        CHECK(dnnl_stream_wait(stream));
        double took = microseconds() - start;
        if (took < packed) packed = took;
    }
    printf("%3d x %4d -> %4d   sgemm %8.1f us   inner product (%s) %8.1f us\n", rows, in, out, gemm, kernel, packed);
    dnnl_primitive_destroy(product);
    dnnl_primitive_destroy(reorder);
    dnnl_primitive_desc_destroy(reorder_descriptor);
    dnnl_primitive_desc_destroy(descriptor);
    dnnl_memory_t memories[] = {x_memory, w_plain, w_packed, b_memory, y_memory, scratch};
    for (int i = 0; i < 6; i++) dnnl_memory_destroy(memories[i]);
    free(x), free(w), free(b), free(y);
}

// Fastest of 100 calls of the inner product from `source_dims` (`rank` 2 or 4) in `tag` to `out`.
static double time_kernel(dnnl_engine_t engine, dnnl_stream_t stream, int rank, const dnnl_dims_t source_dims,
                          dnnl_format_tag_t tag, int out, const char **kernel) {
    dnnl_memory_desc_t source, weights, bias, destination;
    dnnl_dims_t weight_dims = {out, source_dims[1], source_dims[2], source_dims[3]}, bias_dims = {out},
                destination_dims = {source_dims[0], out};
    CHECK(dnnl_memory_desc_init_by_tag(&source, rank, source_dims, dnnl_f32, tag));
    CHECK(dnnl_memory_desc_init_by_tag(&weights, rank, weight_dims, dnnl_f32, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&bias, 1, bias_dims, dnnl_f32, dnnl_x));
    CHECK(dnnl_memory_desc_init_by_tag(&destination, 2, destination_dims, dnnl_f32, dnnl_nc));
    dnnl_inner_product_desc_t operation;
    CHECK(dnnl_inner_product_forward_desc_init(&operation, dnnl_forward_inference, &source, &weights, &bias, &destination));
    dnnl_primitive_desc_t descriptor;
    CHECK(dnnl_primitive_desc_create(&descriptor, &operation, NULL, engine, NULL));
    CHECK(dnnl_primitive_desc_query(descriptor, dnnl_query_impl_info_str, 0, kernel));
    dnnl_memory_t memories[5];
    CHECK(dnnl_memory_create(&memories[0], &source, engine, DNNL_MEMORY_ALLOCATE));
    CHECK(dnnl_memory_create(&memories[1], dnnl_primitive_desc_query_md(descriptor, dnnl_query_weights_md, 0), engine,
                             DNNL_MEMORY_ALLOCATE));
    CHECK(dnnl_memory_create(&memories[2], &bias, engine, DNNL_MEMORY_ALLOCATE));
    CHECK(dnnl_memory_create(&memories[3], &destination, engine, DNNL_MEMORY_ALLOCATE));
    CHECK(dnnl_memory_create(&memories[4], dnnl_primitive_desc_query_md(descriptor, dnnl_query_scratchpad_md, 0), engine,
                             DNNL_MEMORY_ALLOCATE));
    dnnl_primitive_t product;
    CHECK(dnnl_primitive_create(&product, descriptor));
    dnnl_exec_arg_t arguments[] = {{DNNL_ARG_SRC, memories[0]}, {DNNL_ARG_WEIGHTS, memories[1]}, {DNNL_ARG_BIAS, memories[2]},
                                   {DNNL_ARG_DST, memories[3]}, {DNNL_ARG_SCRATCHPAD, memories[4]}};
    double best = 1e9;
    for (int pass = 0; pass < 100; pass++) {
        double start = microseconds();
        CHECK(dnnl_primitive_execute(product, stream, 5, arguments));
        CHECK(dnnl_stream_wait(stream));
        double took = microseconds() - start;
        if (took < best) best = took;
    }
    dnnl_primitive_destroy(product);
    dnnl_primitive_desc_destroy(descriptor);
    for (int i = 0; i < 5; i++) dnnl_memory_destroy(memories[i]);
    return best;
}

static void compare(dnnl_engine_t engine, dnnl_stream_t stream, int n, int c, int h, int w, int out) {
    const char *blocked_kernel, *rows_kernel;
    dnnl_dims_t blocked = {n, c, h, w}, rows = {n, c * h * w};
    double blocked_best = 1e9, rows_best = 1e9;
    for (int round = 0; round < 3; round++) {
        double took = time_kernel(engine, stream, 4, blocked, dnnl_nChw16c, out, &blocked_kernel);
        if (took < blocked_best) blocked_best = took;
        took = time_kernel(engine, stream, 2, rows, dnnl_nc, out, &rows_kernel);
        if (took < rows_best) rows_best = took;
    }
    printf("%3d x %3d x %2d x %2d -> %4d   blocked (%s) %8.1f us   rows (%s) %8.1f us\n", n, c, h, w, out, blocked_kernel,
           blocked_best, rows_kernel, rows_best);
}

int main(void) {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
    int shapes[][3] = {{1, 4096, 128}, {64, 4096, 128}, {64, 128, 10}, {1, 1280, 1000},
                       {8, 1280, 1000}, {1, 512, 1000},  {8, 512, 1000}};
    for (unsigned i = 0; i < sizeof shapes / sizeof shapes[0]; i++) time_shape(engine, stream, shapes[i][0], shapes[i][1], shapes[i][2]);
    int flattened[][5] = {{64, 32, 32, 32, 10}, {64, 32, 32, 32, 32}, {64, 32, 32, 32, 128}, {1, 32, 32, 32, 10},
                          {64, 64, 8, 8, 10},   {64, 64, 8, 8, 128},   {1, 64, 8, 8, 128},    {64, 16, 5, 5, 120},
                          {8, 512, 7, 7, 1000}, {8, 256, 6, 6, 4096}};
    for (unsigned i = 0; i < sizeof flattened / sizeof flattened[0]; i++)
        compare(engine, stream, flattened[i][0], flattened[i][1], flattened[i][2], flattened[i][3], flattened[i][4]);
    dnnl_stream_destroy(stream);
    dnnl_engine_destroy(engine);
    return 0;
}
