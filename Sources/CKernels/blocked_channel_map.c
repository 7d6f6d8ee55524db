#include <immintrin.h>

#include "CKernels.h"

// One 16-channel block of an nChw16c activation holds 16 floats a pixel, one per channel, so a
// per-channel map is the same 16 factors and 16 shifts at every pixel: one vector multiply and
// one vector add a pixel on AVX-512, where Swift, which compiles a module for the x86-64
// baseline, spends four SSE operations on each. Written with intrinsics: the loop runs in place
// (source == destination), which a compiler's vectoriser checks for and then runs scalar.
//
// The multiply and the add stay two roundings, as on the plain path (ConvolutionEpilogue.swift)
// and in PyTorch's eval-mode BatchNorm: never contracted into one fused multiply-add.
#pragma clang fp contract(off)

__attribute__((target("avx512f"))) static inline __attribute__((always_inline)) void map_avx512(
    const float *source, float *destination, size_t pixels, const float *scale, const float *shift, int relu) {
    __m512 factors = scale ? _mm512_loadu_ps(scale) : _mm512_set1_ps(1.0f), terms = shift ? _mm512_loadu_ps(shift) : _mm512_setzero_ps();
    for (size_t pixel = 0; pixel < pixels; pixel++) {
        __m512 value = _mm512_loadu_ps(source + pixel * 16);
        if (scale) value = _mm512_mul_ps(value, factors);
        if (shift) value = _mm512_add_ps(value, terms);
        // ReLU as zoo's vector select writes it: 0 where value <= 0, so NaN stays NaN.
        if (relu) value = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(value, _mm512_setzero_ps(), _CMP_NLE_UQ), value);
        _mm512_storeu_ps(destination + pixel * 16, value);
    }
}

__attribute__((target("avx"))) static inline __attribute__((always_inline)) void map_avx(
    const float *source, float *destination, size_t pixels, const float *scale, const float *shift, int relu) {
    for (int half = 0; half < 16; half += 8) {
        __m256 factors = scale ? _mm256_loadu_ps(scale + half) : _mm256_set1_ps(1.0f);
        __m256 terms = shift ? _mm256_loadu_ps(shift + half) : _mm256_setzero_ps();
        for (size_t pixel = 0; pixel < pixels; pixel++) {
            __m256 value = _mm256_loadu_ps(source + pixel * 16 + half);
            if (scale) value = _mm256_mul_ps(value, factors);
            if (shift) value = _mm256_add_ps(value, terms);
            if (relu) value = _mm256_and_ps(value, _mm256_cmp_ps(value, _mm256_setzero_ps(), _CMP_NLE_UQ));
            _mm256_storeu_ps(destination + pixel * 16 + half, value);
        }
    }
}

static inline __attribute__((always_inline)) void map_portable(
    const float *source, float *destination, size_t pixels, const float *scale, const float *shift, int relu) {
    for (size_t index = 0; index < pixels * 16; index++) {
        float value = source[index];
        if (scale) value = value * scale[index % 16];
        if (shift) value = value + shift[index % 16];
        if (relu) value = value <= 0.0f ? 0.0f : value;
        destination[index] = value;
    }
}

// Each combination of steps its own loop, so that no test is left inside one.
#define MAP_VARIANTS(name, attributes, body)                                                                          \
    attributes static void name(                                                                                      \
        const float *source, float *destination, size_t pixels, const float *scale, const float *shift, int relu) { \
        if (scale && shift && relu) body(source, destination, pixels, scale, shift, 1);                               \
        else if (scale && shift) body(source, destination, pixels, scale, shift, 0);                                  \
        else if (scale && relu) body(source, destination, pixels, scale, 0, 1);                                       \
        else if (scale) body(source, destination, pixels, scale, 0, 0);                                               \
        else if (shift && relu) body(source, destination, pixels, 0, shift, 1);                                       \
        else if (shift) body(source, destination, pixels, 0, shift, 0);                                               \
        else if (relu) body(source, destination, pixels, 0, 0, 1);                                                    \
        else body(source, destination, pixels, 0, 0, 0);                                                              \
    }

MAP_VARIANTS(map_block_avx512, __attribute__((target("avx512f"))), map_avx512)
MAP_VARIANTS(map_block_avx, __attribute__((target("avx"))), map_avx)
MAP_VARIANTS(map_block_portable, , map_portable)

void zoo_blocked_channel_map_f32(
    const float *source, float *destination, size_t pixels, const float *scale, const float *shift, int relu) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) {
        map_block_avx512(source, destination, pixels, scale, shift, relu);
    } else if (__builtin_cpu_supports("avx")) {
        map_block_avx(source, destination, pixels, scale, shift, relu);
    } else {
        map_block_portable(source, destination, pixels, scale, shift, relu);
    }
}
