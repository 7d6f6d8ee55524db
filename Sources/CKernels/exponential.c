#include <immintrin.h>
#include <math.h>

#include "CKernels.h"

// exp(-x) = 2^n * exp(-r), n = round(-x / ln 2), r = x + n ln 2 in [-ln 2 / 2, ln 2 / 2], with
// ln 2 split in two so that r keeps its low bits. exp(-r) is Cephes' expf polynomial (Moshier
// 1984: 1 + s + s^2 p(s), p of degree 5) at s = -r, written out as one polynomial in r of degree
// 7 and evaluated by Horner's rule, so that x needs no negation and the polynomial one fused
// multiply-add a degree. Each kernel computes e = exp(-x) and then its function of x and e, as
// PyTorch writes them: SiLU x / (1 + e), sigmoid 1 / (1 + e).
#define LOG2E 1.44269504088896341f
#define LN2_HIGH 0.693359375f
#define LN2_LOW -2.12194440e-4f
#define P0 1.9875691500e-4f
#define P1 1.3981999507e-3f
#define P2 8.3334519073e-3f
#define P3 4.1665795894e-2f
#define P4 1.6666665459e-1f
#define P5 5.0000001201e-1f

enum function { SILU, SIGMOID };

__attribute__((target("avx512f"))) static inline __m512 exp_negated16(__m512 x) {
    // x within +-150, where 2^n saturates to inf and 0; NaN passes (min and max return their
    // second operand when either is NaN).
    __m512 clamped = _mm512_max_ps(_mm512_set1_ps(-150.0f), _mm512_min_ps(_mm512_set1_ps(150.0f), x));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(clamped, _mm512_set1_ps(-LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(LN2_HIGH), clamped);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(LN2_LOW), r);
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(-P0), r, _mm512_set1_ps(P1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(-P2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(-P4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P5));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(-1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

__attribute__((target("avx512f"))) static inline __m512 apply16(enum function function, __m512 x) {
    __m512 denominator = _mm512_add_ps(_mm512_set1_ps(1.0f), exp_negated16(x));
    return _mm512_div_ps(function == SILU ? x : _mm512_set1_ps(1.0f), denominator);
}

__attribute__((target("avx512f"))) static void apply_avx512(enum function function, const float *source, float *destination, size_t count) {
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
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(-P0), r, _mm256_set1_ps(P1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(-P2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(-P4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P5));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(-1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i exponent = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    __m256 e = _mm256_mul_ps(p, _mm256_castsi256_ps(exponent));
    e = _mm256_blendv_ps(e, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x, _mm256_set1_ps(-87.0f), _CMP_LT_OQ));
    // NaN in, NaN out (the clamp above replaced it).
    return _mm256_blendv_ps(e, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

static float apply1(enum function function, float x) { return (function == SILU ? x : 1.0f) / (1.0f + expf(-x)); }

__attribute__((target("avx2,fma"))) static void apply_avx2(enum function function, const float *source, float *destination, size_t count) {
    size_t index = 0;
    for (; index + 8 <= count; index += 8) {
        __m256 x = _mm256_loadu_ps(source + index);
        __m256 denominator = _mm256_add_ps(_mm256_set1_ps(1.0f), exp_negated8(x));
        _mm256_storeu_ps(destination + index, _mm256_div_ps(function == SILU ? x : _mm256_set1_ps(1.0f), denominator));
    }
    for (; index < count; index++) destination[index] = apply1(function, source[index]);
}

static void apply(enum function function, const float *source, float *destination, size_t count) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) {
        apply_avx512(function, source, destination, count);
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        apply_avx2(function, source, destination, count);
    } else {
        for (size_t index = 0; index < count; index++) destination[index] = apply1(function, source[index]);
    }
}

void zoo_silu_f32(const float *source, float *destination, size_t count) { apply(SILU, source, destination, count); }

void zoo_sigmoid_f32(const float *source, float *destination, size_t count) { apply(SIGMOID, source, destination, count); }
