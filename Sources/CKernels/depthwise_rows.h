#ifndef ZOO_DEPTHWISE_ROWS_H
#define ZOO_DEPTHWISE_ROWS_H

// The output row of a depthwise convolution on nChw16c, shared by the kernel that reads whole
// input planes (blocked_depthwise.c) and the one that reads rows a pointwise convolution has
// just expanded into a ring of rows (pointwise_depthwise.c): a row is computed from the K input
// rows its window covers, wherever they lie.
//
// A depthwise convolution on nChw16c is one 16-channel vector a pixel: each tap multiplies the
// input pixel's vector by the tap's 16 weights, one lane a channel, with no broadcast and no
// reduction across lanes. Each step computes P output pixels of one row at once, so that a tap's
// weight vector is loaded once for P fused multiply-adds. The taps are added in row-major order
// onto the bias, each one a fused multiply-add; then the activation, SiLU as exponential.c
// computes it; then, when asked, each pixel's 16 results are added into 16 sums in pixel order,
// as a pooling of the output adds them (blockedChannelMeans).

#include <immintrin.h>

#include "CKernels.h"
#include "exp_vectors.h"

#define AVX512 __attribute__((target("avx512f,avx512dq")))

// `activation` as zoo_depthwise_shape has it: 0 none, 1 ReLU, 2 clamp to [low, high], 3 SiLU.
AVX512 static inline __attribute__((always_inline)) __m512 activate(__m512 value, int activation, float low, float high) {
    if (activation == 1) {
        // ReLU: 0 where value <= 0, so NaN stays NaN.
        return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(value, _mm512_setzero_ps(), _CMP_NLE_UQ), value);
    }
    if (activation == 2) {
        // vmaxps and vminps return their second operand when one is NaN: the value's NaN stays.
        return _mm512_min_ps(_mm512_set1_ps(high), _mm512_max_ps(_mm512_set1_ps(low), value));
    }
    if (activation == 3) return apply16(SILU, value);
    return value;
}

// P consecutive output pixels of one row from `ow`: `rows[kh]` is the input row of tap row kh,
// for kh in [kh_low, kh_high) (the ones inside the input), and taps kw in [kw_low, kw_high) (the
// ones inside the input; the same for all P pixels).
AVX512 static inline __attribute__((always_inline)) void pixels(
    const float *const *rows, const float *weights, __m512 bias, float *destination, const struct zoo_depthwise_shape *g, int kh_low,
    int kh_high, long ow, const int K, const int S, const int P, int kw_low, int kw_high, __m512 *total) {
    __m512 sums[P];
    for (int p = 0; p < P; p++) sums[p] = bias;
    for (int kh = kh_low; kh < kh_high; kh++) {
        const float *row = rows[kh] + (ow * S - g->padding) * 16;
        for (int kw = 0; kw < K; kw++) {
            if (kw < kw_low || kw >= kw_high) continue;
            __m512 tap = _mm512_loadu_ps(weights + (kh * K + kw) * 16);
            for (int p = 0; p < P; p++) sums[p] = _mm512_fmadd_ps(_mm512_loadu_ps(row + (p * S + kw) * 16), tap, sums[p]);
        }
    }
    for (int p = 0; p < P; p++) {
        __m512 value = activate(sums[p], g->activation, g->low, g->high);
        _mm512_storeu_ps(destination + (ow + p) * 16, value);
        if (total) *total = _mm512_add_ps(*total, value);
    }
}

// Output row `oh` of one block from its input rows (`rows` as `pixels` takes them): the border
// pixels with their taps clipped, the inner ones P at a time.
AVX512 static inline __attribute__((always_inline)) void output_row(
    const float *const *rows, const float *weights, __m512 bias, float *destination, const struct zoo_depthwise_shape *g, long oh,
    const int K, const int S, const int P, __m512 *total) {
    long ih0 = oh * S - g->padding;
    int kh_low = ih0 < 0 ? (int)-ih0 : 0, kh_high = ih0 + K > g->height ? (int)(g->height - ih0) : K;
    // Pixels [inner_low, inner_high) read no column outside the input.
    long inner_low = (g->padding + S - 1) / S, inner_high = (g->width - K + g->padding) / S + 1;
    if (inner_low > g->out_width) inner_low = g->out_width;
    if (inner_high > g->out_width) inner_high = g->out_width;
    if (inner_high < inner_low) inner_high = inner_low;
    long ow = 0;
    for (; ow < g->out_width; ow++) {
        if (ow == inner_low) {
            for (; ow + P <= inner_high; ow += P) pixels(rows, weights, bias, destination, g, kh_low, kh_high, ow, K, S, P, 0, K, total);
            for (; ow + 4 <= inner_high; ow += 4) pixels(rows, weights, bias, destination, g, kh_low, kh_high, ow, K, S, 4, 0, K, total);
            for (; ow < inner_high; ow++) pixels(rows, weights, bias, destination, g, kh_low, kh_high, ow, K, S, 1, 0, K, total);
            if (ow == g->out_width) break;
        }
        long iw0 = ow * S - g->padding;
        int kw_low = iw0 < 0 ? (int)-iw0 : 0, kw_high = iw0 + K > g->width ? (int)(g->width - iw0) : K;
        pixels(rows, weights, bias, destination, g, kh_low, kh_high, ow, K, S, 1, kw_low, kw_high, total);
    }
}

#endif
