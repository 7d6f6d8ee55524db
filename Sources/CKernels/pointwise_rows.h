#ifndef ZOO_POINTWISE_ROWS_H
#define ZOO_POINTWISE_ROWS_H

// The 1x1 convolution of one row of pixels on nChw16c, shared by the kernel that expands rows
// for a depthwise convolution (pointwise_depthwise.c) and the one that normalizes its input
// first (normalized_pointwise.c).
//
// P pixels into G blocks of 16 output channels keep G x P vectors of sums in registers: for
// each input channel, G weight vectors and P broadcast input values give G x P fused
// multiply-adds. The sums start from the bias and add the input channels in order; then the
// activation. With a `scale`, each input block of the P pixels is first mapped as
// `relu(x * scale + shift)` (a BatchNorm and ReLU before the convolution), a multiply and an
// add as zoo's channel map does them, or as `x * scale` alone when there is no `shift` (a
// squeeze-and-excitation block's scale), into a tile the broadcasts read. With a `residual`
// (laid out as the output), it is added to the sums before the activation. The input blocks follow
// one another `in_plane` floats apart, or, with a table of `blocks`, each lies where its entry
// points (the parts of a channel concatenation, read where they are): the pixels are then
// `offset` floats into each block.

#include "depthwise_rows.h"

// Where the weights of a block of 16 output channels start: 16 floats (a lane a channel) for
// each input channel, the padding channels included.
#define WEIGHT_BLOCK(in_blocks) ((in_blocks) * 256)

struct pointwise {
    const float *weights, *bias, *scale, *shift;
    long in_channels, in_plane;
    int activation;
    float low, high;
    const float *const *blocks;
};

AVX512 static inline __attribute__((always_inline)) void pointwise_pixels(const float *input, long offset, const struct pointwise *c,
    long first_block, float *output, const float *residual, long output_block, const int G, const int P) {
    long in_blocks = (c->in_channels + 15) / 16;
    const float *weights = c->weights + first_block * WEIGHT_BLOCK(in_blocks);
    __m512 sums[G][P];
    for (int g = 0; g < G; g++) {
        __m512 b = _mm512_loadu_ps(c->bias + (first_block + g) * 16);
        for (int p = 0; p < P; p++) sums[g][p] = b;
    }
    __attribute__((aligned(64))) float tile[P * 16];
    for (long block = 0; block < in_blocks; block++) {
        const float *x = c->blocks ? c->blocks[block] + offset : input + block * c->in_plane;
        if (c->scale && c->shift) {
            __m512 scale = _mm512_loadu_ps(c->scale + block * 16), shift = _mm512_loadu_ps(c->shift + block * 16);
            for (int p = 0; p < P; p++) {
                __m512 value = _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(x + p * 16), scale), shift);
                _mm512_store_ps(tile + p * 16, activate(value, 1, 0, 0));
            }
            x = tile;
        } else if (c->scale) {
            __m512 scale = _mm512_loadu_ps(c->scale + block * 16);
            for (int p = 0; p < P; p++) _mm512_store_ps(tile + p * 16, _mm512_mul_ps(_mm512_loadu_ps(x + p * 16), scale));
            x = tile;
        }
        const float *w = weights + block * 256;
        // The last block's padding channels are zero: their products are left out.
        int lanes = block == in_blocks - 1 ? (int)(c->in_channels - block * 16) : 16;
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
            __m512 value = sums[g][p];
            if (residual) value = _mm512_add_ps(value, _mm512_loadu_ps(residual + g * output_block + p * 16));
            _mm512_storeu_ps(output + g * output_block + p * 16, activate(value, c->activation, c->low, c->high));
        }
    }
}

// `width` pixels of one input row into G output blocks from `first_block`: P = 6 pixels a step
// (G x 6 sums, G weights and a broadcast value fit AVX-512's 32 registers for G up to 4), then
// the rest. (12 pixels a step for 1 or 2 blocks and 8 for 3 measured slower: efficientnet_b0 b8
// 38.8 -> 43.1 ms, mobilenet_v2 b8 25.6 -> 26.8.)
#define POINTWISE_PIXELS(G, P)                                                                                                 \
    pointwise_pixels(input + w * 16, offset + w * 16, c, first_block, output + w * 16, residual ? residual + w * 16 : 0, output_block, \
        G, P)
#define POINTWISE_ROW(G)                                                                                                     \
    AVX512 static void pointwise_row_##G(const float *input, long offset, long width, const struct pointwise *c,             \
        long first_block, float *output, const float *residual, long output_block) {                                         \
        long w = 0;                                                                                                          \
        for (; w + 6 <= width; w += 6) POINTWISE_PIXELS(G, 6);                                                               \
        switch (width - w) {                                                                                                 \
        case 5: POINTWISE_PIXELS(G, 5); break;                                                                               \
        case 4: POINTWISE_PIXELS(G, 4); break;                                                                               \
        case 3: POINTWISE_PIXELS(G, 3); break;                                                                               \
        case 2: POINTWISE_PIXELS(G, 2); break;                                                                               \
        case 1: POINTWISE_PIXELS(G, 1); break;                                                                               \
        default: break;                                                                                                      \
        }                                                                                                                    \
    }
POINTWISE_ROW(1)
POINTWISE_ROW(2)
POINTWISE_ROW(3)
POINTWISE_ROW(4)

// `width` pixels of one input row into output blocks [first_block, end_block), four at a time
// (each input value broadcast once for four blocks), then the rest.
AVX512 static inline void pointwise_row(const float *input, long offset, long width, const struct pointwise *c, long first_block,
    long end_block, float *output, const float *residual, long output_block) {
    long block = first_block;
    for (; block + 4 <= end_block; block += 4) {
        long skip = (block - first_block) * output_block;
        pointwise_row_4(input, offset, width, c, block, output + skip, residual ? residual + skip : 0, output_block);
    }
    long skip = (block - first_block) * output_block;
    float *rest = output + skip;
    const float *rest_residual = residual ? residual + skip : 0;
    switch (end_block - block) {
    case 3: pointwise_row_3(input, offset, width, c, block, rest, rest_residual, output_block); break;
    case 2: pointwise_row_2(input, offset, width, c, block, rest, rest_residual, output_block); break;
    case 1: pointwise_row_1(input, offset, width, c, block, rest, rest_residual, output_block); break;
    default: break;
    }
}

#endif
