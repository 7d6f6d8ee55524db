#include "CKernels.h"

// Written once in plain C and compiled three times: for AVX-512, for AVX2 and for the baseline,
// each copy the body inlined into a function with that target (its 16 lanes vectorise to one
// register or two), and the call picks the copy the CPU can run. (Not target_clones: its ifunc
// resolver runs before ThreadSanitizer's runtime is up and crashes an instrumented process.)
static inline __attribute__((always_inline)) void max_pool(
    const float *source, float *destination, const struct zoo_pooling_window *window) {
    for (long oh = 0; oh < window->out_height; oh++) {
        for (long ow = 0; ow < window->out_width; ow++) {
            float best[16];
            for (int lane = 0; lane < 16; lane++) best[lane] = -__builtin_inff();
            for (long ki = 0; ki < window->kernel_height; ki++) {
                long ih = oh * window->stride_height - window->padding_height + ki * window->dilation_height;
                if (ih < 0 || ih >= window->height) continue;
                for (long kj = 0; kj < window->kernel_width; kj++) {
                    long iw = ow * window->stride_width - window->padding_width + kj * window->dilation_width;
                    if (iw < 0 || iw >= window->width) continue;
                    const float *pixel = source + (ih * window->width + iw) * 16;
                    // Once NaN, a lane stays NaN: nothing compares greater than it.
                    for (int lane = 0; lane < 16; lane++) {
                        float value = pixel[lane];
                        best[lane] = (value > best[lane] || value != value) ? value : best[lane];
                    }
                }
            }
            float *target = destination + (oh * window->out_width + ow) * 16;
            for (int lane = 0; lane < 16; lane++) target[lane] = best[lane];
        }
    }
}

__attribute__((target("avx512f"))) static void max_pool_avx512(
    const float *source, float *destination, const struct zoo_pooling_window *window) {
    max_pool(source, destination, window);
}

__attribute__((target("avx2"))) static void max_pool_avx2(const float *source, float *destination, const struct zoo_pooling_window *window) {
    max_pool(source, destination, window);
}

void zoo_blocked_max_pool_f32(const float *source, float *destination, const struct zoo_pooling_window *window) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) {
        max_pool_avx512(source, destination, window);
    } else if (__builtin_cpu_supports("avx2")) {
        max_pool_avx2(source, destination, window);
    } else {
        max_pool(source, destination, window);
    }
}
