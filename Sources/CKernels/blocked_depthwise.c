#include "depthwise_rows.h"

// The depthwise kernel on whole input planes (the row code is in depthwise_rows.h). oneDNN 2.6's
// depthwise kernel calls its JIT code once per few pixels and zero-fills a 528-byte argument
// block each time (about 100 000 times in one mobilenet_v2 pass at batch 1); this runs a whole
// output row per call.

#define ROWS(name, K, S, P)                                                                                                 \
    AVX512 static void name(const float *source, const float *weights, const float *bias, float *destination,                 \
        const struct zoo_depthwise_shape *g, size_t first_row, size_t end_row, float *sums) {                                \
        __m512 total = _mm512_setzero_ps();                                                                                 \
        for (size_t index = first_row; index < end_row; index++) {                                                          \
            long block = (long)index / g->out_height, oh = (long)index % g->out_height;                                     \
            const float *plane = source + block * g->height * g->width * 16, *rows[K];                                      \
            for (int kh = 0; kh < K; kh++) rows[kh] = plane + (oh * S - g->padding + kh) * g->width * 16;                   \
            output_row(rows, weights + block * K * K * 16, bias ? _mm512_loadu_ps(bias + block * 16) : _mm512_setzero_ps(), \
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
