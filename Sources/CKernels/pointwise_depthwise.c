#include "pointwise_rows.h"

// A 1x1 convolution and the depthwise convolution that alone reads its output, row by row: each
// input row is expanded (the 1x1 convolution and its activation) into a ring of K rows as the
// depthwise window first needs it, and each output row is computed from the ring
// (depthwise_rows.h). The expanded tensor, the largest of an inverted residual block (six times
// its input's channels), never leaves the cache; oneDNN 2.6 runs such a pair (its depthwise
// post-op, on f32) as two kernels with the whole expanded tensor between them. The expansion
// is pointwise_rows.h's.

#define WHOLE_RING_BYTES (256 * 1024)

// The input rows output rows [first_row, end_row) read: [*first, *end).
static void input_rows(const struct zoo_depthwise_shape *g, long first_row, long end_row, long *first, long *end) {
    *first = first_row * g->stride - g->padding;
    if (*first < 0) *first = 0;
    *end = (end_row - 1) * g->stride - g->padding + g->kernel;
    if (*end > g->height) *end = g->height;
}

// The ring's rows for `blocks` blocks reading input rows [first, end): all of them (one slot a
// row, so slot ih % slots of each is its own) where they fit in WHOLE_RING_BYTES, else K.
static long ring_slots(const struct zoo_depthwise_shape *g, long blocks, long first, long end) {
    long rows = end - first;
    if (rows > g->kernel && rows * blocks * g->width * 16 * (long)sizeof(float) <= WHOLE_RING_BYTES) return g->height;
    return g->kernel;
}

struct operands {
    const float *source, *pointwise_weights, *pointwise_bias, *depthwise_weights, *depthwise_bias;
    float *destination, *ring, *sums;
};

// Output rows [first_row, end_row) of blocks [first_block, end_block); the ring holds, for each
// of those blocks, `slots` rows ([block][slot][width][16], input row ih in slot ih % slots). A
// ring of K slots is filled a row at a time as the window first needs it. Where the rows the
// segment reads fit in WHOLE_RING_BYTES, the ring holds them all (one slot a row) and they are
// expanded in one call over their pixels as one run: a 7-pixel row takes a step of 6 pixels and
// a step of 1, four times as slow a pixel, where 49 pixels take eight steps of 6 and one of 1.
// With sums (16 a block), each block's outputs are added onto its sums in pixel order.
#define SEGMENT(name, K, S, P)                                                                                                 \
    AVX512 static void name(const struct operands *o, const struct zoo_pointwise_depthwise_shape *shape, long first_block,      \
        long end_block, long first_row, long end_row) {                                                                       \
        const struct zoo_depthwise_shape *g = &shape->depthwise;                                                               \
        long first_input, end_input;                                                                                           \
        input_rows(g, first_row, end_row, &first_input, &end_input);                                                           \
        long slots = ring_slots(g, end_block - first_block, first_input, end_input);                                           \
        long ring_slot = g->width * 16, ring_block = slots * ring_slot;                                                        \
        struct pointwise expansion = {o->pointwise_weights, o->pointwise_bias, 0, 0, shape->in_channels,                       \
            g->height * g->width * 16, shape->activation, shape->low, shape->high, 0};                                        \
        long next = first_input;                                                                                               \
        if (slots > K) {                                                                                                        \
            pointwise_row(o->source + first_input * ring_slot, 0, (end_input - first_input) * g->width, &expansion, first_block, \
                end_block, o->ring + (first_input % slots) * ring_slot, 0, ring_block);                                        \
            next = end_input;                                                                                                   \
        }                                                                                                                       \
        for (long oh = first_row; oh < end_row; oh++) {                                                                         \
            long ih0 = oh * S - g->padding, needed = ih0 + K < g->height ? ih0 + K : g->height;                               \
            for (; next < needed; next++) {                                                                                     \
                pointwise_row(o->source + next * ring_slot, 0, g->width, &expansion, first_block, end_block,                    \
                    o->ring + (next % slots) * ring_slot, 0, ring_block);                                                       \
            }                                                                                                                   \
            for (long block = first_block; block < end_block; block++) {                                                        \
                const float *rows[K];                                                                                           \
                for (int kh = 0; kh < K; kh++) {                                                                                \
                    long ih = ih0 + kh;                                                                                         \
                    rows[kh] = ih >= 0 && ih < g->height ? o->ring + (block - first_block) * ring_block + (ih % slots) * ring_slot \
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

// The ring floats of a segment of `blocks` blocks and output rows [first_row, end_row).
static size_t segment_ring_floats(const struct zoo_depthwise_shape *g, long blocks, long first_row, long end_row) {
    long first_input, end_input;
    input_rows(g, first_row, end_row, &first_input, &end_input);
    return (size_t)(ring_slots(g, blocks, first_input, end_input) * blocks * g->width * 16);
}

size_t zoo_pointwise_depthwise_ring_floats(const struct zoo_pointwise_depthwise_shape *shape, size_t first, size_t end) {
    const struct zoo_depthwise_shape *g = &shape->depthwise;
    if (end <= first) return 0;
    // The largest of the segments zoo_pointwise_depthwise_f32 splits the rows into.
    long rows = g->out_height;
    long first_block = (long)first / rows, first_row = (long)first % rows;
    long end_block = (long)end / rows, end_row = (long)end % rows;
    if (first_block == end_block) return segment_ring_floats(g, 1, first_row, end_row);
    size_t most = 0, floats;
    if (first_row > 0) {
        most = segment_ring_floats(g, 1, first_row, rows);
        first_block++;
    }
    if (end_block > first_block && (floats = segment_ring_floats(g, end_block - first_block, 0, rows)) > most) most = floats;
    if (end_row > 0 && (floats = segment_ring_floats(g, 1, 0, end_row)) > most) most = floats;
    return most;
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
