#ifndef ZOO_EXP_VECTORS_H
#define ZOO_EXP_VECTORS_H

// The SiLU and sigmoid vectors of exponential.c, shared with the kernels that apply them as they
// write their outputs (blocked_depthwise.c), so that both give the same floats; and the one
// choice of instruction set both make.

#include <immintrin.h>
#include <math.h>

// The widest kernels the CPU runs, asked at every entry point (after the first call, a flag and
// two bit tests).
enum width { WIDTH_AVX512, WIDTH_AVX2, WIDTH_PORTABLE };

static inline enum width widest(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")) return WIDTH_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return WIDTH_AVX2;
    return WIDTH_PORTABLE;
}

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

// n and exp(-r) for a clamped x, as above, in one vector width's intrinsics (fmadd and set1 of
// that width): the AVX-512 and AVX2 kernels share these steps and differ in the clamp and in how
// they scale by 2^n.
#define EXP_NEGATED_REDUCED(fmadd, set1, clamped, n, p)                                      \
    do {                                                                                     \
        __typeof__(clamped) r_ = fmadd(n, set1(LN2_HIGH), clamped);                          \
        r_ = fmadd(n, set1(LN2_LOW), r_);                                                    \
        p = fmadd(fmadd(fmadd(fmadd(fmadd(fmadd(set1(C6), r_, set1(-C5)), r_, set1(C4)), r_, \
                                    set1(-C3)),                                              \
                              r_, set1(C2)),                                                 \
                        r_, set1(-1.0f)),                                                    \
                  r_, set1(1.0f));                                                           \
    } while (0)

__attribute__((target("avx512f,avx512dq"))) static inline __m512 exp_negated16(__m512 x) {
    // x within +-150, where 2^n saturates to inf and 0, in one operation: the smaller magnitude
    // of x and 150 with x's sign. A NaN becomes 150 here; the caller divides x itself, so NaN
    // still gives NaN.
    __m512 clamped = _mm512_range_ps(x, _mm512_set1_ps(150.0f), 0x2);
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(clamped, _mm512_set1_ps(-LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 p;
    EXP_NEGATED_REDUCED(_mm512_fmadd_ps, _mm512_set1_ps, clamped, n, p);
    return _mm512_scalef_ps(p, n);
}

__attribute__((target("avx512f,avx512dq"))) static inline __m512 apply16(enum function function, __m512 x) {
    __m512 denominator = _mm512_add_ps(_mm512_set1_ps(1.0f), exp_negated16(x));
    if (function == SILU) return _mm512_div_ps(x, denominator);
    // The clamp turned a NaN into a number; the sigmoid gives the NaN back.
    __m512 sigmoid = _mm512_div_ps(_mm512_set1_ps(1.0f), denominator);
    return _mm512_mask_mov_ps(sigmoid, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), x);
}

#endif
