#include "depthwise_rows.h"

// A 1x1 convolution and the depthwise convolution that alone reads its output, row by row: each
// input row is expanded (the 1x1 convolution and its activation) into a ring of K rows as the
// depthwise window first needs it, and each output row is computed from the ring
// (depthwise_rows.h). The expanded tensor, the largest of an inverted residual block (six times
// its input's channels), never leaves the cache; oneDNN 2.6 runs such a pair (its depthwise
// post-op, on f32) as two kernels with the whole expanded tensor between them.
//
// The expansion of P pixels into G blocks of 16 channels keeps G x P vectors of sums in
// registers: for each input channel, G weight vectors and P broadcast input values give G x P
// fused multiply-adds. The sums start from the bias and add the input channels in order.

#define WEIGHT_BLOCK(in_blocks) ((in_blocks) * 256)

AVX512 static inline __attribute__((always_inline)) void expand(
    const float *input, long in_plane, long in_blocks, const float *weights, const float *bias, float *ring, long ring_block,
    const struct zoo_pointwise_depthwise_shape *shape, const int G, const int P) {
    __m512 sums[G][P];
    for (int g = 0; g < G; g++) {
        __m512 b = _mm512_loadu_ps(bias + g * 16);
        for (int p = 0; p < P; p++) sums[g][p] = b;
    }
    for (long block = 0; block < in_blocks; block++) {
        const float *x = input + block * in_plane;
        const float *w = weights + block * 256;
        // The last block's padding channels are zero: their products are left out.
        int lanes = block == in_blocks - 1 ? (int)(shape->in_channels - block * 16) : 16;
        for (int lane = 0; lane < lanes; lane++) {
            __m512 tap[G];
            for (int g = 0; g < G; g++) tap[g] = _mm512_loadu_ps(w + g * WEIGHT_BLOCK(in_blocks) + lane * 16);
            for (int p = 0; p < P; p++) {
                __m512 value = _mm512_set1_ps(x[p * 16 + lane]);
                for (int g = 0; g < G; g++) sums[g][p] = _mm512_fmadd_ps(value, tap[g], sums[g][p]);
            }
        }
    }
    for (int g = 0; g < G; g++) {
        for (int p = 0; p < P; p++) {
            _mm512_storeu_ps(ring + g * ring_block + p * 16, activate(sums[g][p], shape->activation, shape->low, shape->high));
        }
    }
}

// One input row expanded into G blocks: P = 6 pixels a step (G x 6 sums, G weights and a
// broadcast value fit AVX-512's 32 registers for G up to 4), then the rest.
#define EXPAND_ROW(G)                                                                                                          \
    AVX512 static void expand_row_##G(const float *input, long in_plane, const float *weights, const float *bias, float *ring,  \
        long ring_block, const struct zoo_pointwise_depthwise_shape *shape) {                                                 \
        long width = shape->depthwise.width, in_blocks = (shape->in_channels + 15) / 16, w = 0;                                               \
        for (; w + 6 <= width; w += 6)                                                                                          \
            expand(input + w * 16, in_plane, in_blocks, weights, bias, ring + w * 16, ring_block, shape, G, 6);                 \
        switch (width - w) {                                                                                                    \
        case 5: expand(input + w * 16, in_plane, in_blocks, weights, bias, ring + w * 16, ring_block, shape, G, 5); break;      \
        case 4: expand(input + w * 16, in_plane, in_blocks, weights, bias, ring + w * 16, ring_block, shape, G, 4); break;      \
        case 3: expand(input + w * 16, in_plane, in_blocks, weights, bias, ring + w * 16, ring_block, shape, G, 3); break;      \
        case 2: expand(input + w * 16, in_plane, in_blocks, weights, bias, ring + w * 16, ring_block, shape, G, 2); break;      \
        case 1: expand(input + w * 16, in_plane, in_blocks, weights, bias, ring + w * 16, ring_block, shape, G, 1); break;      \
        default: break;                                                                                                         \
        }                                                                                                                       \
    }
EXPAND_ROW(1)
EXPAND_ROW(2)
EXPAND_ROW(3)
EXPAND_ROW(4)

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
        long in_plane = g->height * g->width * 16, next = first_row * S - g->padding, in_blocks = (shape->in_channels + 15) / 16;                                          \
        if (next < 0) next = 0;                                                                                                 \
        for (long oh = first_row; oh < end_row; oh++) {                                                                         \
            long ih0 = oh * S - g->padding, needed = ih0 + K < g->height ? ih0 + K : g->height;                               \
            for (; next < needed; next++) {                                                                                     \
                const float *input = o->source + next * g->width * 16;                                                         \
                float *slot = o->ring + (next % K) * ring_slot;                                                                 \
                long block = first_block;                                                                                       \
                for (; block + 4 <= end_block; block += 4)                                                                      \
                    expand_row_4(input, in_plane, o->pointwise_weights + block * WEIGHT_BLOCK(in_blocks),                \
                        o->pointwise_bias + block * 16, slot + (block - first_block) * ring_block, ring_block, shape);          \
                const float *weights = o->pointwise_weights + block * WEIGHT_BLOCK(in_blocks);                           \
                const float *bias = o->pointwise_bias + block * 16;                                                             \
                float *rest = slot + (block - first_block) * ring_block;                                                        \
                switch (end_block - block) {                                                                                    \
                case 3: expand_row_3(input, in_plane, weights, bias, rest, ring_block, shape); break;                          \
                case 2: expand_row_2(input, in_plane, weights, bias, rest, ring_block, shape); break;                          \
                case 1: expand_row_1(input, in_plane, weights, bias, rest, ring_block, shape); break;                          \
                default: break;                                                                                                 \
                }                                                                                                               \
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
