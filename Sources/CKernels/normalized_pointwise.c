#include "pointwise_rows.h"

// A BatchNorm and ReLU, then a 1x1 convolution, on nChw16c in one pass. DenseNet normalizes a
// layer's whole input (the growing concatenation of the block's outputs so far) before each 1x1
// convolution: a pass that writes a normalized copy as large as the input, which the
// convolution then reads. Here each input block of a few pixels is normalized just before its
// products are taken (pointwise_rows.h), in registers and a 384-byte tile. The input's blocks are
// read through a table of pointers, so that the parts of DenseNet's concatenations are read
// where their layers wrote them and the concatenation is never copied.

static size_t groups(const struct zoo_normalized_pointwise_shape *shape) { return (size_t)((shape->out_channels + 15) / 16 + 3) / 4; }

int zoo_normalized_pointwise_is_vectorised(void) { return widest() == WIDTH_AVX512; }

size_t zoo_normalized_pointwise_items(const struct zoo_normalized_pointwise_shape *shape) { return (size_t)shape->height * groups(shape); }

AVX512 static void items(
    const float *const *blocks, const float *scale, const float *shift, const float *weights, const float *bias, float *destination,
    const struct zoo_normalized_pointwise_shape *shape, size_t first, size_t end) {
    long out_blocks = (shape->out_channels + 15) / 16, plane = shape->height * shape->width * 16;
    struct pointwise c = {weights, bias, scale, shift, shape->in_channels, plane, shape->activation, shape->low, shape->high, blocks};
    for (size_t index = first; index < end; index++) {
        long row = (long)(index / groups(shape)), first_block = (long)(index % groups(shape)) * 4;
        long end_block = first_block + 4 < out_blocks ? first_block + 4 : out_blocks;
        long offset = row * shape->width * 16;
        pointwise_row(blocks[0] + offset, offset, shape->width, &c, first_block, end_block,
            destination + (first_block * shape->height + row) * shape->width * 16, plane);
    }
}

void zoo_normalized_pointwise_f32(
    const float *const *blocks, const float *scale, const float *shift, const float *weights, const float *bias, float *destination,
    const struct zoo_normalized_pointwise_shape *shape, size_t first, size_t end) {
    if (zoo_normalized_pointwise_is_vectorised()) items(blocks, scale, shift, weights, bias, destination, shape, first, end);
}
