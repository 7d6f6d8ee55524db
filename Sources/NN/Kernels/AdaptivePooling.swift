import Tensor

/// Adaptive pooling windows: output index `i` of `out` covers input `[floor(i*in/out), ceil((i+1)*in/out))`.
func adaptiveWindow(_ index: Int, input: Int, output: Int) -> Range<Int> {
    let start = (index * input) / output
    let end = ((index + 1) * input + output - 1) / output
    return start..<end
}

func adaptivePool(
    _ input: Tensor, size: AdaptiveOutputSize, layer: String,
    reduce: (UnsafeBufferPointer<Float>, Int, Range<Int>, Range<Int>, Int) -> Float
) throws -> Tensor {
    guard input.rank == 4 else { throw NNError.inputShape(layer: layer, expected: "(N, C, H, W)", got: input.shape) }
    let (batch, channels, height, width) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
    let outHeight = size.height ?? height
    let outWidth = size.width ?? width
    guard outHeight > 0, outWidth > 0, height > 0, width > 0 else {
        throw NNError.inputShape(layer: layer, expected: "non-empty spatial axes and output size", got: input.shape)
    }
    let rows = (0..<outHeight).map { adaptiveWindow($0, input: height, output: outHeight) }
    let columns = (0..<outWidth).map { adaptiveWindow($0, input: width, output: outWidth) }
    var y = [Float](repeating: 0, count: batch * channels * outHeight * outWidth)
    input.scalars.withUnsafeBufferPointer { x in
        for plane in 0..<(batch * channels) {
            let inBase = plane * height * width
            let outBase = plane * outHeight * outWidth
            for oh in 0..<outHeight {
                for ow in 0..<outWidth {
                    y[outBase + oh * outWidth + ow] = reduce(x, inBase, rows[oh], columns[ow], width)
                }
            }
        }
    }
    return Tensor(shape: [batch, channels, outHeight, outWidth], scalars: y)
}
