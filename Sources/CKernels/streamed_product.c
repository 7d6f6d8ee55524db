#include <string.h>

#include "CKernels.h"

// A matrix product with few rows (a squeeze-and-excitation block's two 1x1 convolutions on one
// pixel, a classifier at batch 1) reads each weight once and does one multiply-add with it, so
// it runs at the speed weights stream in, and a library's per-call set-up and thread hand-off
// cost more than the product. Here the weights are packed once into panels of 64 output columns
// (row i of a panel holds weight[o][i] for its 64 outputs o, zeros past the last output), so a
// panel streams in order and each row is one multiply-add per column, 64 at a time in registers.
#define PANEL 64

size_t zoo_streamed_product_panels(size_t outputs) { return (outputs + PANEL - 1) / PANEL; }

void zoo_pack_streamed_product_f32(const float *weight, float *packed, size_t inputs, size_t outputs) {
    size_t panels = zoo_streamed_product_panels(outputs);
    memset(packed, 0, panels * inputs * PANEL * sizeof(float));
    for (size_t o = 0; o < outputs; o++) {
        float *column = packed + (o / PANEL) * inputs * PANEL + o % PANEL;
        for (size_t i = 0; i < inputs; i++) column[i * PANEL] = weight[o * inputs + i];
    }
}

// Each output is its bias plus the products added in input order, one fused multiply-add each.
static inline __attribute__((always_inline)) void streamed_product(
    const float *packed, const float *bias, const float *input, float *output, size_t batch, size_t inputs, size_t outputs,
    size_t first_panel, size_t end_panel) {
    for (size_t panel = first_panel; panel < end_panel; panel++) {
        const float *rows = packed + panel * inputs * PANEL;
        size_t first = panel * PANEL, count = outputs - first < PANEL ? outputs - first : PANEL;
        for (size_t n = 0; n < batch; n++) {
            const float *x = input + n * inputs;
            float sums[PANEL] = {0};
            for (size_t i = 0; i < inputs; i++) {
                float value = x[i];
                for (int column = 0; column < PANEL; column++) sums[column] = __builtin_fmaf(value, rows[i * PANEL + column], sums[column]);
            }
            float *y = output + n * outputs + first;
            for (size_t column = 0; column < count; column++) y[column] = sums[column] + (bias ? bias[first + column] : 0.0f);
        }
    }
}

__attribute__((target("avx512f"))) static void streamed_product_avx512(
    const float *packed, const float *bias, const float *input, float *output, size_t batch, size_t inputs, size_t outputs,
    size_t first_panel, size_t end_panel) {
    streamed_product(packed, bias, input, output, batch, inputs, outputs, first_panel, end_panel);
}

__attribute__((target("avx2,fma"))) static void streamed_product_avx2(
    const float *packed, const float *bias, const float *input, float *output, size_t batch, size_t inputs, size_t outputs,
    size_t first_panel, size_t end_panel) {
    streamed_product(packed, bias, input, output, batch, inputs, outputs, first_panel, end_panel);
}

void zoo_streamed_product_f32(
    const float *packed, const float *bias, const float *input, float *output, size_t batch, size_t inputs, size_t outputs,
    size_t first_panel, size_t end_panel) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) {
        streamed_product_avx512(packed, bias, input, output, batch, inputs, outputs, first_panel, end_panel);
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        streamed_product_avx2(packed, bias, input, output, batch, inputs, outputs, first_panel, end_panel);
    } else {
        streamed_product(packed, bias, input, output, batch, inputs, outputs, first_panel, end_panel);
    }
}
