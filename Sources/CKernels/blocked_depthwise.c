#include <immintrin.h>

#include "CKernels.h"
#include "exp_vectors.h"

// A depthwise convolution on nChw16c is one 16-channel vector a pixel: each tap multiplies the
// input pixel's vector by the tap's 16 weights, one lane a channel, with no broadcast and no
// reduction across lanes. oneDNN 2.6's depthwise kernel calls its JIT code once per few pixels
// and zero-fills a 528-byte argument block each time (about 100 000 times in one mobilenet_v2
// pass at batch 1); this runs a whole output row per call. Each step computes P output pixels
// of one row at once, so that a tap's weight vector is loaded once for P fused multiply-adds.
// The taps are added in row-major order onto the bias, each one a fused multiply-add; then the
// activation, SiLU as exponential.c computes it; then, when asked, each pixel's 16 results are
// added into 16 sums in pixel order, as a pooling of the output adds them
// (blockedChannelMeans), so that a squeeze-and-excitation block's pooling needs no pass of its own.

#define AVX512 __attribute__((target("avx512f,avx512dq")))

AVX512 static inline __attribute__((always_inline)) __m512 activate(__m512 value, const struct zoo_depthwise_shape *g) {
    if (g->activation == 1) {
        // ReLU: 0 where value <= 0, so NaN stays NaN.
        return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(value, _mm512_setzero_ps(), _CMP_NLE_UQ), value);
    }
    if (g->activation == 2) {
        // vmaxps and vminps return their second operand when one is NaN: the value's NaN stays.
        return _mm512_min_ps(_mm512_set1_ps(g->high), _mm512_max_ps(_mm512_set1_ps(g->low), value));
    }
    if (g->activation == 3) return apply16(SILU, value);
    return value;
}

// P consecutive output pixels of row `oh` from `ow`, taps kh in [kh_low, kh_high) and kw in
// [kw_low, kw_high) (the ones inside the input; the same for all P pixels).
AVX512 static inline __attribute__((always_inline)) void pixels(
    const float *source, const float *weights, __m512 bias, float *destination, const struct zoo_depthwise_shape *g, long ih0, int kh_low,
    int kh_high, long ow, const int K, const int S, const int P, int kw_low, int kw_high, __m512 *total) {
    __m512 sums[P];
    for (int p = 0; p < P; p++) sums[p] = bias;
    for (int kh = kh_low; kh < kh_high; kh++) {
        const float *row = source + ((ih0 + kh) * g->width + ow * S - g->padding) * 16;
        for (int kw = 0; kw < K; kw++) {
            if (kw < kw_low || kw >= kw_high) continue;
            __m512 tap = _mm512_loadu_ps(weights + (kh * K + kw) * 16);
            for (int p = 0; p < P; p++) sums[p] = _mm512_fmadd_ps(_mm512_loadu_ps(row + (p * S + kw) * 16), tap, sums[p]);
        }
    }
    for (int p = 0; p < P; p++) {
        __m512 value = activate(sums[p], g);
        _mm512_storeu_ps(destination + (ow + p) * 16, value);
        if (total) *total = _mm512_add_ps(*total, value);
    }
}

// One output row: the border pixels with their taps clipped, the inner ones P at a time.
AVX512 static inline __attribute__((always_inline)) void output_row(
    const float *source, const float *weights, __m512 bias, float *destination, const struct zoo_depthwise_shape *g, long oh, const int K,
    const int S, const int P, __m512 *total) {
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
            for (; ow + P <= inner_high; ow += P) pixels(source, weights, bias, destination, g, ih0, kh_low, kh_high, ow, K, S, P, 0, K, total);
            for (; ow + 4 <= inner_high; ow += 4) pixels(source, weights, bias, destination, g, ih0, kh_low, kh_high, ow, K, S, 4, 0, K, total);
            for (; ow < inner_high; ow++) pixels(source, weights, bias, destination, g, ih0, kh_low, kh_high, ow, K, S, 1, 0, K, total);
            if (ow == g->out_width) break;
        }
        long iw0 = ow * S - g->padding;
        int kw_low = iw0 < 0 ? (int)-iw0 : 0, kw_high = iw0 + K > g->width ? (int)(g->width - iw0) : K;
        pixels(source, weights, bias, destination, g, ih0, kh_low, kh_high, ow, K, S, 1, kw_low, kw_high, total);
    }
}

#define ROWS(name, K, S, P)                                                                                                 \
    AVX512 static void name(const float *source, const float *weights, const float *bias, float *destination,                 \
        const struct zoo_depthwise_shape *g, size_t first_row, size_t end_row, float *sums) {                                \
        __m512 total = _mm512_setzero_ps();                                                                                 \
        for (size_t index = first_row; index < end_row; index++) {                                                          \
            long block = (long)index / g->out_height, oh = (long)index % g->out_height;                                     \
            output_row(source + block * g->height * g->width * 16, weights + block * K * K * 16,                           \
                bias ? _mm512_loadu_ps(bias + block * 16) : _mm512_setzero_ps(),                                            \
                destination + (block * g->out_height + oh) * g->out_width * 16, g, oh, K, S, P, sums ? &total : 0);         \
        }                                                                                                                   \
        if (sums) _mm512_storeu_ps(sums, total);                                                                            \
    }
ROWS(rows_3x3_stride1, 3, 1, 8)
ROWS(rows_3x3_stride2, 3, 2, 6)
ROWS(rows_5x5_stride1, 5, 1, 8)
ROWS(rows_5x5_stride2, 5, 2, 4)

static float activate_portable(float value, const struct zoo_depthwise_shape *g) {
    if (g->activation == 1) return value <= 0.0f ? 0.0f : value;
    if (g->activation == 3) return value / (1.0f + expf(-value));
    if (g->activation == 2 && value == value) return value < g->low ? g->low : (value > g->high ? g->high : value);
    return value;
}

static void rows_portable(
    const float *source, const float *weights, const float *bias, float *destination, const struct zoo_depthwise_shape *g, long kernel,
    long stride, size_t first_row, size_t end_row, float *sums) {
    if (sums) {
        for (int lane = 0; lane < 16; lane++) sums[lane] = 0.0f;
    }
    for (size_t index = first_row; index < end_row; index++) {
        long block = (long)index / g->out_height, oh = (long)index % g->out_height;
        for (long ow = 0; ow < g->out_width; ow++) {
            for (int lane = 0; lane < 16; lane++) {
                float sum = bias ? bias[block * 16 + lane] : 0.0f;
                for (long kh = 0; kh < kernel; kh++) {
                    long ih = oh * stride - g->padding + kh;
                    if (ih < 0 || ih >= g->height) continue;
                    for (long kw = 0; kw < kernel; kw++) {
                        long iw = ow * stride - g->padding + kw;
                        if (iw < 0 || iw >= g->width) continue;
                        sum = __builtin_fmaf(source[((block * g->height + ih) * g->width + iw) * 16 + lane],
                            weights[(block * kernel * kernel + kh * kernel + kw) * 16 + lane], sum);
                    }
                }
                float value = activate_portable(sum, g);
                destination[((block * g->out_height + oh) * g->out_width + ow) * 16 + lane] = value;
                if (sums) sums[lane] += value;
            }
        }
    }
}

int zoo_blocked_depthwise_is_vectorised(long kernel, long stride) {
    return widest() == WIDTH_AVX512 && (kernel == 3 || kernel == 5) && (stride == 1 || stride == 2);
}

void zoo_blocked_depthwise_f32(
    const float *source, const float *weights, const float *bias, float *destination, const struct zoo_depthwise_shape *shape,
    size_t first_row, size_t end_row, float *sums) {
    if (zoo_blocked_depthwise_is_vectorised(shape->kernel, shape->stride)) {
        if (shape->kernel == 3 && shape->stride == 1) rows_3x3_stride1(source, weights, bias, destination, shape, first_row, end_row, sums);
        else if (shape->kernel == 3) rows_3x3_stride2(source, weights, bias, destination, shape, first_row, end_row, sums);
        else if (shape->stride == 1) rows_5x5_stride1(source, weights, bias, destination, shape, first_row, end_row, sums);
        else rows_5x5_stride2(source, weights, bias, destination, shape, first_row, end_row, sums);
    } else {
        rows_portable(source, weights, bias, destination, shape, shape->kernel, shape->stride, first_row, end_row, sums);
    }
}
