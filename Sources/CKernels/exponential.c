#include <immintrin.h>
#include <math.h>

#include "CKernels.h"

// exp(-x) = 2^n * exp(-r), n = round(-x / ln 2), r = x + n ln 2 in [-ln 2 / 2, ln 2 / 2], with
// ln 2 split in two so that r keeps its low bits. exp(-r) is a degree-6 polynomial in r, fitted
// for the least largest relative error (3e-9, under a float's 6e-8) by Tools/fit_exp_polynomial.py
// and evaluated by Horner's rule, one fused multiply-add a degree, its odd coefficients negated
// so that x needs no negation. The kernels are bound by their count of vector operations (one
// a cycle on AMD Zen 4); a seventh degree measured 9% slower for no accuracy a float can hold.
// Each kernel computes e = exp(-x) and then its function of x and e, as PyTorch writes them:
// SiLU x / (1 + e), sigmoid 1 / (1 + e).
#define LOG2E 1.44269504088896341f
#define LN2_HIGH 0.693359375f
#define LN2_LOW -2.12194440e-4f
#define C2 0.4999999403953552f
#define C3 0.1666652113199234f
#define C4 0.04166838899254799f
#define C5 0.008368710055947304f
#define C6 0.0013814611593261361f

enum function { SILU, SIGMOID };

__attribute__((target("avx512f,avx512dq"))) static inline __m512 exp_negated16(__m512 x) {
    // x within +-150, where 2^n saturates to inf and 0, in one operation: the smaller magnitude
    // of x and 150 with x's sign. A NaN becomes 150 here; the caller divides x itself, so NaN
    // still gives NaN.
    __m512 clamped = _mm512_range_ps(x, _mm512_set1_ps(150.0f), 0x2);
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(clamped, _mm512_set1_ps(-LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(LN2_HIGH), clamped);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(LN2_LOW), r);
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(C6), r, _mm512_set1_ps(-C5));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(C4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(-C3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(C2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(-1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

__attribute__((target("avx512f,avx512dq"))) static inline __m512 apply16(enum function function, __m512 x) {
    __m512 denominator = _mm512_add_ps(_mm512_set1_ps(1.0f), exp_negated16(x));
    if (function == SILU) return _mm512_div_ps(x, denominator);
    // The clamp turned a NaN into a number; the sigmoid gives the NaN back.
    __m512 sigmoid = _mm512_div_ps(_mm512_set1_ps(1.0f), denominator);
    return _mm512_mask_mov_ps(sigmoid, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), x);
}

__attribute__((target("avx512f,avx512dq"))) static void apply_avx512(enum function function, const float *source, float *destination, size_t count) {
    size_t index = 0;
    for (; index + 16 <= count; index += 16) _mm512_storeu_ps(destination + index, apply16(function, _mm512_loadu_ps(source + index)));
    if (index < count) {
        __mmask16 mask = (__mmask16)((1u << (count - index)) - 1);
        _mm512_mask_storeu_ps(destination + index, mask, apply16(function, _mm512_maskz_loadu_ps(mask, source + index)));
    }
}

__attribute__((target("avx2,fma"))) static inline __m256 exp_negated8(__m256 x) {
    // Within +-87, 2^n is a normal float built from its exponent bits; under -87 the result is
    // set to inf below, and past 87 exp(-x) is so small that 1 + exp rounds to 1 anyway.
    __m256 clamped = _mm256_max_ps(_mm256_set1_ps(-87.0f), _mm256_min_ps(_mm256_set1_ps(87.0f), x));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(clamped, _mm256_set1_ps(-LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fmadd_ps(n, _mm256_set1_ps(LN2_HIGH), clamped);
    r = _mm256_fmadd_ps(n, _mm256_set1_ps(LN2_LOW), r);
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(C6), r, _mm256_set1_ps(-C5));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(C4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(-C3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(C2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(-1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i exponent = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    __m256 e = _mm256_mul_ps(p, _mm256_castsi256_ps(exponent));
    e = _mm256_blendv_ps(e, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x, _mm256_set1_ps(-87.0f), _CMP_LT_OQ));
    // NaN in, NaN out (the clamp above replaced it).
    return _mm256_blendv_ps(e, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

static float apply1(enum function function, float x) { return (function == SILU ? x : 1.0f) / (1.0f + expf(-x)); }

__attribute__((target("avx2,fma"))) static inline __m256 apply8(enum function function, __m256 x) {
    __m256 denominator = _mm256_add_ps(_mm256_set1_ps(1.0f), exp_negated8(x));
    return _mm256_div_ps(function == SILU ? x : _mm256_set1_ps(1.0f), denominator);
}

__attribute__((target("avx2,fma"))) static void apply_avx2(enum function function, const float *source, float *destination, size_t count) {
    size_t index = 0;
    for (; index + 8 <= count; index += 8) _mm256_storeu_ps(destination + index, apply8(function, _mm256_loadu_ps(source + index)));
    for (; index < count; index++) destination[index] = apply1(function, source[index]);
}

// The widest kernels the CPU runs, asked once for every entry point.
enum width { WIDTH_AVX512, WIDTH_AVX2, WIDTH_PORTABLE };

static enum width widest(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")) return WIDTH_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return WIDTH_AVX2;
    return WIDTH_PORTABLE;
}

static void apply(enum function function, const float *source, float *destination, size_t count) {
    switch (widest()) {
    case WIDTH_AVX512: apply_avx512(function, source, destination, count); break;
    case WIDTH_AVX2: apply_avx2(function, source, destination, count); break;
    case WIDTH_PORTABLE:
        for (size_t index = 0; index < count; index++) destination[index] = apply1(function, source[index]);
        break;
    }
}

void zoo_silu_f32(const float *source, float *destination, size_t count) { apply(SILU, source, destination, count); }

void zoo_sigmoid_f32(const float *source, float *destination, size_t count) { apply(SIGMOID, source, destination, count); }

// SiLU over one 16-channel block of an nChw16c activation, adding each pixel's 16 results into
// 16 sums as it stores them: the pooling after a squeeze-and-excitation block's SiLU then needs
// no pass of its own. The sums are float adds in pixel order, as the pooling's own are.
__attribute__((target("avx512f,avx512dq"))) static void silu_block_sums_avx512(
    const float *source, float *destination, size_t pixels, float *sums) {
    __m512 total = _mm512_setzero_ps();
    for (size_t pixel = 0; pixel < pixels; pixel++) {
        __m512 value = apply16(SILU, _mm512_loadu_ps(source + pixel * 16));
        _mm512_storeu_ps(destination + pixel * 16, value);
        total = _mm512_add_ps(total, value);
    }
    _mm512_storeu_ps(sums, total);
}

__attribute__((target("avx2,fma"))) static void silu_block_sums_avx2(const float *source, float *destination, size_t pixels, float *sums) {
    __m256 low = _mm256_setzero_ps(), high = _mm256_setzero_ps();
    for (size_t pixel = 0; pixel < pixels; pixel++) {
        __m256 first = apply8(SILU, _mm256_loadu_ps(source + pixel * 16));
        __m256 second = apply8(SILU, _mm256_loadu_ps(source + pixel * 16 + 8));
        _mm256_storeu_ps(destination + pixel * 16, first);
        _mm256_storeu_ps(destination + pixel * 16 + 8, second);
        low = _mm256_add_ps(low, first);
        high = _mm256_add_ps(high, second);
    }
    _mm256_storeu_ps(sums, low);
    _mm256_storeu_ps(sums + 8, high);
}

void zoo_silu_block_sums_f32(const float *source, float *destination, size_t pixels, float *sums) {
    switch (widest()) {
    case WIDTH_AVX512: silu_block_sums_avx512(source, destination, pixels, sums); return;
    case WIDTH_AVX2: silu_block_sums_avx2(source, destination, pixels, sums); return;
    case WIDTH_PORTABLE:
        for (int lane = 0; lane < 16; lane++) sums[lane] = 0.0f;
        for (size_t pixel = 0; pixel < pixels; pixel++) {
            for (int lane = 0; lane < 16; lane++) {
                float value = apply1(SILU, source[pixel * 16 + lane]);
                destination[pixel * 16 + lane] = value;
                sums[lane] += value;
            }
        }
    }
}
