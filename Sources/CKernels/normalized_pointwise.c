#include "pointwise_rows.h"

// A BatchNorm and ReLU, then a 1x1 convolution, on nChw16c in one pass (or a per-channel scale,
// as a squeeze-and-excitation block applies before its projection, then the convolution and a
// residual). DenseNet normalizes a
// layer's whole input (the growing concatenation of the block's outputs so far) before each 1x1
// convolution: a pass that writes a normalized copy as large as the input, which the
// convolution then reads. Here each input block of a few pixels is normalized just before its
// products are taken (pointwise_rows.h), in registers and a 384-byte tile. The input's blocks are
// read through a table of pointers, so that the parts of DenseNet's concatenations are read
// where their layers wrote them and the concatenation is never copied.

// A 1x1 convolution does not see rows: each block's plane is one run of pixels, taken in
// chunks of about 48 (8 steps of 6), all within 6 pixels of one size so that the threads' shares
// come out even, and few pixels fall in a step of fewer than 6 (a 7 x 7 plane has one or two such
// steps, not one a row).
#define CHUNK 48

// Where chunk `chunk` of `count` over `pixels` pixels starts: a multiple of 6, or `pixels`.
static long chunk_start(long pixels, size_t count, size_t chunk) {
    return chunk >= count ? pixels : pixels * (long)chunk / (long)count / 6 * 6;
}

static size_t groups(const struct zoo_normalized_pointwise_shape *shape) { return (size_t)((shape->out_channels + 15) / 16 + 3) / 4; }

static size_t chunks(const struct zoo_normalized_pointwise_shape *shape) { return (size_t)(shape->height * shape->width + CHUNK - 1) / CHUNK; }

int zoo_normalized_pointwise_is_vectorised(void) { return widest() == WIDTH_AVX512; }

size_t zoo_normalized_pointwise_items(const struct zoo_normalized_pointwise_shape *shape) { return chunks(shape) * groups(shape); }

AVX512 static void items(
    const float *const *blocks, const float *scale, const float *shift, const float *weights, const float *bias, const float *residual,
    float *destination, const struct zoo_normalized_pointwise_shape *shape, size_t first, size_t end) {
    long out_blocks = (shape->out_channels + 15) / 16, pixels = shape->height * shape->width, plane = pixels * 16;
    struct pointwise c = {weights, bias, scale, shift, shape->in_channels, plane, shape->activation, shape->low, shape->high, blocks};
    // Chunk by chunk, each chunk's groups in turn, while a sample's input outweighs the weights;
    // else group by group, each group's chunks in turn, so that a group's weights stay in the
    // cache (EfficientNet's last projections: 1.4 MiB of weights for 7 x 7 pixels).
    int by_groups = out_blocks * 16 > pixels;
    size_t count = chunks(shape);
    for (size_t index = first; index < end; index++) {
        size_t chunk = by_groups ? index % count : index / groups(shape);
        long first_block = (long)(by_groups ? index / count : index % groups(shape)) * 4;
        long end_block = first_block + 4 < out_blocks ? first_block + 4 : out_blocks;
        long first_pixel = chunk_start(pixels, count, chunk), width = chunk_start(pixels, count, chunk + 1) - first_pixel;
        long offset = first_pixel * 16, target = first_block * plane + offset;
        pointwise_row(blocks[0] + offset, offset, width, &c, first_block, end_block, destination + target,
            residual ? residual + target : 0, plane);
    }
}

void zoo_normalized_pointwise_f32(
    const float *const *blocks, const float *scale, const float *shift, const float *weights, const float *bias, const float *residual,
    float *destination, const struct zoo_normalized_pointwise_shape *shape, size_t first, size_t end) {
    if (zoo_normalized_pointwise_is_vectorised()) items(blocks, scale, shift, weights, bias, residual, destination, shape, first, end);
}
