#include <immintrin.h>
#include <math.h>

#include "CKernels.h"
#include "exp_vectors.h"

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
    __m256 p;
    EXP_NEGATED_REDUCED(_mm256_fmadd_ps, _mm256_set1_ps, clamped, n, p);
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
