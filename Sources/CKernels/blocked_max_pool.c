#include "CKernels.h"

// Written once in plain C and compiled three times (target_clones): the loader picks the
// AVX-512, AVX2 or baseline copy for the CPU it runs on. Each 16-float pixel's lanes vectorise.
__attribute__((target_clones("avx512f", "avx2", "default"))) void zoo_blocked_max_pool_f32(
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
