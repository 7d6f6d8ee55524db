#include "pointwise_rows.h"

// A 1x1 convolution and the depthwise convolution that alone reads its output, row by row: each
// input row is expanded (the 1x1 convolution and its activation) into a ring of K rows as the
// depthwise window first needs it, and each output row is computed from the ring
// (depthwise_rows.h). The expanded tensor, the largest of an inverted residual block (six times
// its input's channels), never leaves the cache; oneDNN 2.6 runs such a pair (its depthwise
// post-op, on f32) as two kernels with the whole expanded tensor between them. The expansion
// is pointwise_rows.h's.

struct operands {
    const float *source, *pointwise_weights, *pointwise_bias, *depthwise_weights, *depthwise_bias;
    float *destination, *ring, *sums;
};

// Output rows [first_row, end_row) of blocks [first_block, end_block); the ring holds K rows of
// those blocks ([slot][block][width][16]), input row ih in slot ih % K. With sums (16 a block),
// each block's outputs are added onto its sums in pixel order.
#define SEGMENT(name, K, S, P)                                                                                                 \
    AVX512 static void name(const struct operands *o, const struct zoo_pointwise_depthwise_shape *shape, long first_block,      \
        long end_block, long first_row, long end_row) {                                                                       \
        const struct zoo_depthwise_shape *g = &shape->depthwise;                                                               \
        long ring_block = g->width * 16, ring_slot = (end_block - first_block) * ring_block;                                   \
        long next = first_row * S - g->padding;                                                                                \
        struct pointwise expansion = {o->pointwise_weights, o->pointwise_bias, 0, 0, shape->in_channels,                       \
            g->height * g->width * 16, shape->activation, shape->low, shape->high};                                          \
        if (next < 0) next = 0;                                                                                                 \
        for (long oh = first_row; oh < end_row; oh++) {                                                                         \
            long ih0 = oh * S - g->padding, needed = ih0 + K < g->height ? ih0 + K : g->height;                               \
            for (; next < needed; next++) {                                                                                     \
                pointwise_row(o->source + next * g->width * 16, 0, g->width, &expansion, first_block, end_block,                  \
                    o->ring + (next % K) * ring_slot, 0, ring_block);                                                              \
            }                                                                                                                   \
            for (long block = first_block; block < end_block; block++) {                                                        \
                const float *rows[K];                                                                                           \
                for (int kh = 0; kh < K; kh++) {                                                                                \
                    long ih = ih0 + kh;                                                                                         \
                    rows[kh] = ih >= 0 && ih < g->height ? o->ring + (ih % K) * ring_slot + (block - first_block) * ring_block \
                                                         : o->ring;                                                             \
                }                                                                                                               \
                float *sums = o->sums ? o->sums + (block - first_block) * 16 : 0;                                              \
                __m512 total = sums ? _mm512_loadu_ps(sums) : _mm512_setzero_ps();                                             \
                output_row(rows, o->depthwise_weights + block * K * K * 16,                                                     \
                    o->depthwise_bias ? _mm512_loadu_ps(o->depthwise_bias + block * 16) : _mm512_setzero_ps(),                 \
                    o->destination + (block * g->out_height + oh) * g->out_width * 16, g, oh, K, S, P, sums ? &total : 0);     \
                if (sums) _mm512_storeu_ps(sums, total);                                                                        \
            }                                                                                                                   \
        }                                                                                                                       \
    }
SEGMENT(segment_3x3_stride1, 3, 1, 8)
SEGMENT(segment_3x3_stride2, 3, 2, 6)
SEGMENT(segment_5x5_stride1, 5, 1, 8)
SEGMENT(segment_5x5_stride2, 5, 2, 4)

static void segment(const struct operands *o, const struct zoo_pointwise_depthwise_shape *shape, long first_block, long end_block,
    long first_row, long end_row) {
    const struct zoo_depthwise_shape *g = &shape->depthwise;
    if (g->kernel == 3 && g->stride == 1) segment_3x3_stride1(o, shape, first_block, end_block, first_row, end_row);
    else if (g->kernel == 3) segment_3x3_stride2(o, shape, first_block, end_block, first_row, end_row);
    else if (g->stride == 1) segment_5x5_stride1(o, shape, first_block, end_block, first_row, end_row);
    else segment_5x5_stride2(o, shape, first_block, end_block, first_row, end_row);
}

int zoo_pointwise_depthwise_is_vectorised(long kernel, long stride) { return zoo_blocked_depthwise_is_vectorised(kernel, stride); }

size_t zoo_pointwise_depthwise_ring_floats(const struct zoo_pointwise_depthwise_shape *shape, size_t first, size_t end) {
    size_t rows = (size_t)shape->depthwise.out_height;
    size_t blocks = end > first ? (end - 1) / rows - first / rows + 1 : 0;
    return (size_t)shape->depthwise.kernel * blocks * (size_t)shape->depthwise.width * 16;
}

void zoo_pointwise_depthwise_f32(
    const float *source, const float *pointwise_weights, const float *pointwise_bias, const float *depthwise_weights,
    const float *depthwise_bias, float *destination, const struct zoo_pointwise_depthwise_shape *shape, size_t first, size_t end,
    float *ring, float *sums) {
    if (!zoo_pointwise_depthwise_is_vectorised(shape->depthwise.kernel, shape->depthwise.stride) || end <= first) return;
    long rows = shape->depthwise.out_height;
    long first_block = (long)first / rows, first_row = (long)first % rows;
    long end_block = (long)end / rows, end_row = (long)end % rows;
    struct operands o = {source, pointwise_weights, pointwise_bias, depthwise_weights, depthwise_bias, destination, ring, sums};
    if (sums) {
        long touched = ((long)end - 1) / rows - first_block + 1;
        for (long index = 0; index < touched * 16; index++) sums[index] = 0.0f;
    }
    if (first_block == end_block) return segment(&o, shape, first_block, first_block + 1, first_row, end_row);
    if (first_row > 0) {
        segment(&o, shape, first_block, first_block + 1, first_row, rows);
        first_block++;
        if (o.sums) o.sums += 16;
    }
    if (end_block > first_block) segment(&o, shape, first_block, end_block, 0, rows);
    if (o.sums) o.sums += (end_block - first_block) * 16;
    if (end_row > 0) segment(&o, shape, end_block, end_block + 1, 0, end_row);
}
