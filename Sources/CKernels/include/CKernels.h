#ifndef ZOO_CKERNELS_H
#define ZOO_CKERNELS_H

// zoo's own element-wise kernels that need instructions past the x86-64 baseline. Swift compiles
// a whole module for one instruction set, so a Swift kernel runs on 4-lane SSE2 everywhere;
// these are compiled per function for AVX-512 and for AVX2 with FMA, and each call runs the
// widest one the CPU has (the portable C loop elsewhere).

#include <stddef.h>

/// `destination[i] = source[i] / (1 + exp(-source[i]))` (SiLU, as PyTorch computes it) for
/// `count` floats; `destination` may be `source`. exp is a polynomial within 2 ulp of the exact
/// value (Tools/fit_exp_polynomial.py); NaN stays NaN, silu(-inf) is NaN and silu(inf) is inf,
/// as in PyTorch.
void zoo_silu_f32(const float *source, float *destination, size_t count);

/// `destination[i] = 1 / (1 + exp(-source[i]))` (sigmoid, as PyTorch computes it) for `count`
/// floats, with the same exp; `destination` may be `source`.
void zoo_sigmoid_f32(const float *source, float *destination, size_t count);

/// `zoo_silu_f32` over one 16-channel block of an nChw16c activation (`pixels` pixels of 16
/// floats; `destination` may be `source`), writing into `sums` the 16 channels' sums of the
/// results, each added in float in pixel order.
void zoo_silu_block_sums_f32(const float *source, float *destination, size_t pixels, float *sums);

/// A pooling window over one image plane: sizes, kernel, stride, padding and dilation.
struct zoo_pooling_window {
    long height, width, out_height, out_width;
    long kernel_height, kernel_width, stride_height, stride_width;
    long padding_height, padding_width, dilation_height, dilation_width;
};

/// Max pooling of one 16-channel block of an nChw16c activation (`height x width` pixels of 16
/// floats) into `out_height x out_width` pixels: padding counts as negative infinity, and NaN
/// propagates, as in PyTorch.
void zoo_blocked_max_pool_f32(const float *source, float *destination, const struct zoo_pooling_window *window);

/// `relu?(x * scale + shift)` for one 16-channel block of an nChw16c activation: `pixels`
/// pixels of 16 floats from `source` into `destination` (which may be `source`), the same 16
/// `scale` factors and 16 `shift` terms at every pixel. `scale` or `shift` may be null (that step
/// is skipped); `relu` nonzero maps values <= 0 to 0 (NaN stays). Multiply and add round
/// separately, never one fused multiply-add, as on the plain path; that path also adds a zero
/// bias first, which changes nothing but the sign of a zero (and that only when shift is -0).
void zoo_blocked_channel_map_f32(
    const float *source, float *destination, size_t pixels, const float *scale, const float *shift, int relu);

/// How many panels of 64 output columns `zoo_pack_streamed_product_f32` packs `outputs` columns into.
size_t zoo_streamed_product_panels(size_t outputs);

/// Packs `weight` (`outputs x inputs`, row-major, as a Linear's or a 1x1 convolution's) into
/// `packed`, which holds `zoo_streamed_product_panels(outputs) * inputs * 64` floats: panel p's row i
/// is weight[64p + j][i] for j < 64 (zero past the last output).
void zoo_pack_streamed_product_f32(const float *weight, float *packed, size_t inputs, size_t outputs);

/// `output[n][o] = bias[o] + sum over i of input[n][i] * weight[o][i]` (the products added in
/// the order of i, each one fused multiply-add) for `batch` rows of `inputs` floats, for the
/// outputs of panels `first_panel ..< end_panel`; `bias` may be null; `output` is `batch x outputs`.
void zoo_streamed_product_f32(
    const float *packed, const float *bias, const float *input, float *output, size_t batch, size_t inputs, size_t outputs,
    size_t first_panel, size_t end_panel);

/// A depthwise convolution over one sample of an nChw16c activation: a `kernel x kernel`
/// window at `stride` with `padding` zeros on every side, one filter a channel, dilation 1.
/// `activation` is 0 (none), 1 (ReLU, NaN kept), 2 (clamp to [low, high], NaN kept) or 3 (SiLU,
/// as `zoo_silu_f32` computes it).
struct zoo_depthwise_shape {
    long height, width, out_height, out_width, kernel, stride, padding;
    int activation;
    float low, high;
};

/// Whether `zoo_blocked_depthwise_f32` runs vector code on this CPU (AVX-512) for `kernel` and
/// `stride`, rather than its portable loop, which is slower than oneDNN's kernel.
int zoo_blocked_depthwise_is_vectorised(long kernel, long stride);

/// Output rows `first_row ..< end_row` of a depthwise convolution of one sample (row r is row
/// `r % out_height` of block `r / out_height`): `weights` hold `kernel * kernel` vectors of 16 a
/// block (tap-major, one lane a channel), `bias` 16 a block or null. Each output is the bias plus
/// the taps inside the input in row-major order, each a fused multiply-add, then the activation.
/// With `sums` (16 floats), the rows must be the whole of one block's, and `sums` receives the
/// sums of its 16 channels' outputs, added in pixel order.
void zoo_blocked_depthwise_f32(
    const float *source, const float *weights, const float *bias, float *destination, const struct zoo_depthwise_shape *shape,
    size_t first_row, size_t end_row, float *sums);

/// A 1x1 convolution (no padding, stride 1) whose output only a depthwise convolution reads, both
/// on nChw16c, computed row by row (`zoo_pointwise_depthwise_f32`): `depthwise` is the depthwise
/// convolution of the expanded planes, `in_channels` the input's channels (in blocks of 16), and
/// `activation`, `low` and `high` the 1x1 convolution's activation, as `zoo_depthwise_shape` has them.
struct zoo_pointwise_depthwise_shape {
    struct zoo_depthwise_shape depthwise;
    long in_channels;
    int activation;
    float low, high;
};

/// Whether `zoo_pointwise_depthwise_f32` runs on this CPU (AVX-512) for a depthwise `kernel`
/// and `stride`; elsewhere it does nothing.
int zoo_pointwise_depthwise_is_vectorised(long kernel, long stride);

/// The floats of the ring of rows a call for output rows `first ..< end` needs.
size_t zoo_pointwise_depthwise_ring_floats(const struct zoo_pointwise_depthwise_shape *shape, size_t first, size_t end);

/// Output rows `first ..< end` of one sample (row r is row `r % out_height` of block
/// `r / out_height`, as for `zoo_blocked_depthwise_f32`) of `depthwise(activation(pointwise(source)))`:
/// `pointwise_weights` hold, for each block of output channels, 16 floats (one lane a channel)
/// for each input channel (padding channels included, zero), `pointwise_bias` 16 a block; the
/// depthwise weights and bias as `zoo_blocked_depthwise_f32` takes them. Each expanded value is
/// the bias plus the input channels in order, each a fused multiply-add, then the activation.
/// `ring` holds `zoo_pointwise_depthwise_ring_floats` floats. With `sums` (16 for each block the
/// rows reach), `sums` receives each block's sums of its outputs in those rows, added in pixel order.
void zoo_pointwise_depthwise_f32(
    const float *source, const float *pointwise_weights, const float *pointwise_bias, const float *depthwise_weights,
    const float *depthwise_bias, float *destination, const struct zoo_pointwise_depthwise_shape *shape, size_t first, size_t end,
    float *ring, float *sums);

/// A BatchNorm and ReLU (`relu(x * scale + shift)`, a channel a lane) then a 1x1 convolution (no
/// padding, stride 1, `in_channels` to `out_channels`) and its activation (as
/// `zoo_depthwise_shape` has it), on nChw16c planes of `height x width`.
struct zoo_normalized_pointwise_shape {
    long in_channels, out_channels, height, width;
    int activation;
    float low, high;
};

/// Whether `zoo_normalized_pointwise_f32` runs on this CPU (AVX-512); elsewhere it does nothing.
int zoo_normalized_pointwise_is_vectorised(void);

/// How many items a sample's output is split into: chunks of its pixels, in groups of four
/// blocks of 16 output channels.
size_t zoo_normalized_pointwise_items(const struct zoo_normalized_pointwise_shape *shape);

/// Items `first ..< end` of one sample: `blocks[b]` is where the sample's input block b (16
/// channels, `height x width` pixels of 16 floats) lies; `scale` and `shift` 16 floats an input
/// block (zero for the padding channels), the weights and bias as `zoo_pointwise_depthwise_f32`
/// takes its 1x1 convolution's. Each input is mapped as `relu(x * scale + shift)`, or as
/// `x * scale` when `shift` is null; each output is the bias plus the mapped input channels in
/// order, each a fused multiply-add, plus the `residual` when there is one (the sample's, laid
/// out as `destination`), then the activation.
void zoo_normalized_pointwise_f32(
    const float *const *blocks, const float *scale, const float *shift, const float *weights, const float *bias, const float *residual,
    float *destination, const struct zoo_normalized_pointwise_shape *shape, size_t first, size_t end);

/// The inputs of one chunk of `zoo_narrow_product_chunks_f32`: its weights (a few outputs' worth
/// of this many inputs) stay in the cache while every row passes over them.
#define ZOO_NARROW_CHUNK 4096

/// Whether `zoo_narrow_product_chunks_f32` runs on this CPU (AVX-512); elsewhere it does nothing.
int zoo_narrow_product_is_vectorised(void);

/// How many chunks of `ZOO_NARROW_CHUNK` inputs a row of `inputs` is split into.
size_t zoo_narrow_product_chunks(size_t inputs);

/// How many floats `zoo_pack_narrow_product_f32` writes.
size_t zoo_narrow_product_packed_count(size_t inputs, size_t outputs);

/// `weight` `(outputs, inputs)` row-major, packed into `packed` for `zoo_narrow_product_chunks_f32`
/// (zeros past the last input of the last chunk).
void zoo_pack_narrow_product_f32(const float *weight, float *packed, size_t inputs, size_t outputs);

/// Chunks `first_chunk ..< end_chunk` of `input W^T` for `rows` rows of `inputs` floats: for
/// chunk c, `partials[(c * rows + row) * outputs + o]` is the sum over the chunk's inputs i of
/// `input[row][i] * W[o][i]`, taken 16 lanes at a time (lane l adds inputs l, l + 16, ... in
/// order, one fused multiply-add each) and then across the lanes.
void zoo_narrow_product_chunks_f32(
    const float *packed, const float *input, size_t rows, size_t inputs, size_t outputs, size_t first_chunk, size_t end_chunk,
    float *partials);

/// `output[row][o] = bias[o] + the chunks' partial sums`, added in chunk order; `bias` may be null.
void zoo_narrow_product_sum_f32(const float *partials, const float *bias, float *output, size_t rows, size_t inputs, size_t outputs);

#endif
