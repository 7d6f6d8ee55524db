import Tensor

/// Pads the last two axes of an NCHW tensor by reflecting, replicating or wrapping its borders,
/// as `F.pad(x, (left, right, top, bottom), mode=...)` does before a Conv2d with that padding_mode.
func padBorders(_ input: Tensor, _ pads: BorderAmounts, mode: PaddingMode) throws -> Tensor {
    let (top, bottom, left, right) = (pads.top, pads.bottom, pads.left, pads.right)
    let (batch, channels, height, width) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
    if mode == .reflect && (top >= height || bottom >= height || left >= width || right >= width) {
        throw NNError.invalidArgument(
            layer: "Conv2d", argument: "padding", reason: "reflect padding must be smaller than the input size \(height)x\(width)")
    }
    if mode == .circular && (top > height || bottom > height || left > width || right > width) {
        throw NNError.invalidArgument(
            layer: "Conv2d", argument: "padding", reason: "circular padding must not exceed the input size \(height)x\(width)")
    }
    let outHeight = height + top + bottom
    let outWidth = width + left + right
    let rows = (0..<outHeight).map { sourceIndex($0 - top, size: height, mode: mode) }
    let columns = (0..<outWidth).map { sourceIndex($0 - left, size: width, mode: mode) }
    let values = input.scalars
    var output = [Float](repeating: 0, count: batch * channels * outHeight * outWidth)
    for plane in 0..<(batch * channels) {
        let inBase = plane * height * width
        let outBase = plane * outHeight * outWidth
        for (oh, ih) in rows.enumerated() {
            for (ow, iw) in columns.enumerated() {
                output[outBase + oh * outWidth + ow] = values[inBase + ih * width + iw]
            }
        }
    }
    return Tensor(shape: [batch, channels, outHeight, outWidth], scalars: output)
}

func sourceIndex(_ index: Int, size: Int, mode: PaddingMode) -> Int {
    switch mode {
    case .zeros, .replicate: return Swift.min(Swift.max(index, 0), size - 1)
    case .reflect:
        if size == 1 { return 0 }
        let period = 2 * (size - 1)
        var folded = index % period
        if folded < 0 { folded += period }
        return folded < size ? folded : period - folded
    case .circular:
        let wrapped = index % size
        return wrapped < 0 ? wrapped + size : wrapped
    }
}
