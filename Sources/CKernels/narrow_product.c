#include <immintrin.h>
#include <string.h>

#include "CKernels.h"
#include "exp_vectors.h"

// A matrix product with many inputs and few outputs (net's Linear(32768, 10) over a flattened
// activation). A GEMM kernel vectorises along the outputs, and 10 outputs fill under two thirds
// of a 16-lane vector, so oneDNN's GEMM ran it at under half the multiply-add rate of its
// convolutions. Here the vectors run along the inputs instead: each step takes 16 inputs of S
// rows and of G outputs' weights and makes S x G vectors of partial products, which are added
// across their lanes once, at the end of a chunk of inputs. The weights are packed a chunk at a
// time (`NARROW_CHUNK` inputs), the chunk's 16-input steps in order and in each step the G
// outputs' 16 weights one after the other, so a chunk streams in order from the cache while
// every row passes over it.

#define AVX512 __attribute__((target("avx512f,avx512dq")))

// Outputs are taken G at a time, rows S at a time: S x G accumulators of 16 lanes, at most 30 of
// the 32 vector registers, and S + G loads a step for S x G multiply-adds.
#define MAX_GROUP 10
#define MAX_ROWS 3

int zoo_narrow_product_is_vectorised(void) { return widest() == WIDTH_AVX512; }

static size_t group_count(size_t outputs) { return (outputs + MAX_GROUP - 1) / MAX_GROUP; }

// Group g's first output and size: the outputs shared as evenly as they go.
static void group_span(size_t outputs, size_t g, size_t *first, size_t *size) {
    size_t groups = group_count(outputs);
    *first = outputs * g / groups;
    *size = outputs * (g + 1) / groups - *first;
}

size_t zoo_narrow_product_chunks(size_t inputs) { return (inputs + ZOO_NARROW_CHUNK - 1) / ZOO_NARROW_CHUNK; }

size_t zoo_narrow_product_packed_count(size_t inputs, size_t outputs) {
    return zoo_narrow_product_chunks(inputs) * ZOO_NARROW_CHUNK * outputs;
}

// Chunk c of group g starts at `(c * outputs + first) * NARROW_CHUNK`: the chunk's steps, each
// the group's `size` outputs' 16 weights (zero past the last input).
void zoo_pack_narrow_product_f32(const float *weight, float *packed, size_t inputs, size_t outputs) {
    memset(packed, 0, zoo_narrow_product_packed_count(inputs, outputs) * sizeof(float));
    for (size_t g = 0; g < group_count(outputs); g++) {
        size_t first, size;
        group_span(outputs, g, &first, &size);
        for (size_t i = 0; i < inputs; i++) {
            size_t chunk = i / ZOO_NARROW_CHUNK, step = i % ZOO_NARROW_CHUNK / 16, lane = i % 16;
            float *target = packed + (chunk * outputs + first) * ZOO_NARROW_CHUNK + step * size * 16 + lane;
            for (size_t o = 0; o < size; o++) target[o * 16] = weight[(first + o) * inputs + i];
        }
    }
}

// S rows (a row every `stride` floats) times G outputs over `count` inputs (`count` a multiple
// of 16 but for the chunk that ends the row, whose last step is masked), into
// `partial[row * outputs + o]`.
AVX512 static inline __attribute__((always_inline)) void tile(
    const float *weights, const float *rows, size_t stride, size_t count, float *partial, size_t outputs, const int S,
    const int G) {
    __m512 sums[MAX_ROWS][MAX_GROUP];
    for (int s = 0; s < S; s++)
        for (int o = 0; o < G; o++) sums[s][o] = _mm512_setzero_ps();
    for (size_t i = 0; i < count; i += 16) {
        __mmask16 mask = count - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (count - i)) - 1);
        __m512 x[MAX_ROWS];
        for (int s = 0; s < S; s++) x[s] = _mm512_maskz_loadu_ps(mask, rows + s * stride + i);
        const float *w = weights + i * G;
        for (int o = 0; o < G; o++) {
            __m512 weight = _mm512_loadu_ps(w + o * 16);
            for (int s = 0; s < S; s++) sums[s][o] = _mm512_fmadd_ps(x[s], weight, sums[s][o]);
        }
    }
    for (int s = 0; s < S; s++)
        for (int o = 0; o < G; o++) partial[s * outputs + o] = _mm512_reduce_add_ps(sums[s][o]);
}

#define TILE_ROWS(S)                                                                                        \
    switch (G) {                                                                                            \
    case 1: tile(weights, rows, stride, count, partial, outputs, S, 1); break;                              \
    case 2: tile(weights, rows, stride, count, partial, outputs, S, 2); break;                              \
    case 3: tile(weights, rows, stride, count, partial, outputs, S, 3); break;                              \
    case 4: tile(weights, rows, stride, count, partial, outputs, S, 4); break;                              \
    case 5: tile(weights, rows, stride, count, partial, outputs, S, 5); break;                              \
    case 6: tile(weights, rows, stride, count, partial, outputs, S, 6); break;                              \
    case 7: tile(weights, rows, stride, count, partial, outputs, S, 7); break;                              \
    case 8: tile(weights, rows, stride, count, partial, outputs, S, 8); break;                              \
    case 9: tile(weights, rows, stride, count, partial, outputs, S, 9); break;                              \
    default: tile(weights, rows, stride, count, partial, outputs, S, 10); break;                            \
    }

AVX512 static void any_tile(
    const float *weights, const float *rows, size_t stride, size_t count, float *partial, size_t outputs, int S, int G) {
    if (S == 3) {
        TILE_ROWS(3)
    } else if (S == 2) {
        TILE_ROWS(2)
    } else {
        TILE_ROWS(1)
    }
}

AVX512 static void chunks(
    const float *packed, const float *input, size_t rows, size_t inputs, size_t outputs, size_t first_chunk, size_t end_chunk,
    float *partials) {
    for (size_t c = first_chunk; c < end_chunk; c++) {
        size_t start = c * ZOO_NARROW_CHUNK, count = inputs - start < ZOO_NARROW_CHUNK ? inputs - start : ZOO_NARROW_CHUNK;
        for (size_t g = 0; g < group_count(outputs); g++) {
            size_t first, size;
            group_span(outputs, g, &first, &size);
            const float *weights = packed + (c * outputs + first) * ZOO_NARROW_CHUNK;
            for (size_t row = 0; row < rows; row += MAX_ROWS) {
                int S = rows - row < MAX_ROWS ? (int)(rows - row) : MAX_ROWS;
                any_tile(
                    weights, input + row * inputs + start, inputs, count, partials + (c * rows + row) * outputs + first, outputs, S,
                    (int)size);
            }
        }
    }
}

void zoo_narrow_product_chunks_f32(
    const float *packed, const float *input, size_t rows, size_t inputs, size_t outputs, size_t first_chunk, size_t end_chunk,
    float *partials) {
    if (zoo_narrow_product_is_vectorised()) chunks(packed, input, rows, inputs, outputs, first_chunk, end_chunk, partials);
}

void zoo_narrow_product_sum_f32(const float *partials, const float *bias, float *output, size_t rows, size_t inputs, size_t outputs) {
    size_t count = zoo_narrow_product_chunks(inputs);
    for (size_t i = 0; i < rows * outputs; i++) {
        float sum = bias ? bias[i % outputs] : 0.0f;
        for (size_t c = 0; c < count; c++) sum += partials[c * rows * outputs + i];
        output[i] = sum;
    }
}
