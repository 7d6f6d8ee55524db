/// PyTorch's pooling output size: `floor_or_ceil((in + 2p - d(k-1) - 1) / s) + 1`, where in
/// ceil mode a last window that would start in the right padding is dropped.
func pooledSize(input: Int, kernel: Int, stride: Int, padding: Int, dilation: Int, ceilMode: Bool) -> Int {
    let span = input + 2 * padding - dilation * (kernel - 1) - 1 + (ceilMode ? stride - 1 : 0)
    var size = floorDivide(span, stride) + 1
    if ceilMode && (size - 1) * stride >= input + padding { size -= 1 }
    return size
}

func floorDivide(_ a: Int, _ b: Int) -> Int {
    let quotient = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? quotient - 1 : quotient
}

/// One pooling layer's window over one NCHW input: the planes, the input and pooled sizes, after
/// PyTorch's checks (a 4-d input, `padding <= kernel / 2`, a non-empty output).
struct PoolingWindow {
    let batch: Int
    let channels: Int
    let height: Int
    let width: Int
    let outHeight: Int
    let outWidth: Int
    let kernel: IntPair
    let stride: IntPair
    let padding: IntPair
    let dilation: IntPair

    var planes: Int { batch * channels }
    var outputShape: [Int] { [batch, channels, outHeight, outWidth] }

    /// Whether every window lies inside the image (no padding, none past the border in ceil
    /// mode), so that max pooling's vector path needs no bounds checks.
    var windowsInsideImage: Bool {
        padding == IntPair(0, 0) && (outHeight - 1) * stride.height + (kernel.height - 1) * dilation.height < height
            && (outWidth - 1) * stride.width + (kernel.width - 1) * dilation.width < width
    }

    /// The output rows and columns whose windows lie inside the image on that axis: with
    /// padding only a border of outputs reads it, and the rest can take the unchecked path.
    var insideOutputs: (rows: Range<Int>, columns: Range<Int>) {
        (
            Self.inside(
                size: height, outputs: outHeight, kernel: kernel.height, stride: stride.height, padding: padding.height,
                dilation: dilation.height),
            Self.inside(
                size: width, outputs: outWidth, kernel: kernel.width, stride: stride.width, padding: padding.width,
                dilation: dilation.width)
        )
    }

    /// The outputs `o` on one axis with `0 <= o * stride - padding` and
    /// `o * stride - padding + (kernel - 1) * dilation < size`.
    private static func inside(size: Int, outputs: Int, kernel: Int, stride: Int, padding: Int, dilation: Int) -> Range<Int> {
        let first = Swift.min(outputs, (padding + stride - 1) / stride)
        let lastStart = size - 1 - (kernel - 1) * dilation + padding
        guard lastStart >= 0 else { return first..<first }
        return first..<Swift.max(first, Swift.min(outputs, lastStart / stride + 1))
    }

    /// The eight values one tap of a window row reads for outputs `column..<column + 8`.
    @inline(__always)
    func eightTaps(_ tap: UnsafePointer<Float>, from column: Int) -> SIMD8<Float> {
        var values = SIMD8<Float>()
        for lane in 0..<8 { values[lane] = tap[(column + lane) * stride.width] }
        return values
    }

    init(layer: String, input: [Int], kernel: IntPair, stride: IntPair, padding: IntPair, dilation: IntPair, ceilMode: Bool) throws {
        guard input.count == 4 else {
            throw NNError.inputShape(layer: layer, expected: "(N, C, H, W)", got: input)
        }
        guard padding.height <= kernel.height / 2, padding.width <= kernel.width / 2 else {
            throw NNError.invalidArgument(
                layer: layer, argument: "padding", reason: "\(padding) should be at most half of kernel size \(kernel)")
        }
        (batch, channels, height, width) = (input[0], input[1], input[2], input[3])
        outHeight = pooledSize(
            input: height, kernel: kernel.height, stride: stride.height, padding: padding.height, dilation: dilation.height,
            ceilMode: ceilMode)
        outWidth = pooledSize(
            input: width, kernel: kernel.width, stride: stride.width, padding: padding.width, dilation: dilation.width, ceilMode: ceilMode)
        guard outHeight > 0, outWidth > 0 else {
            throw NNError.inputShape(layer: layer, expected: "an input large enough for kernel \(kernel)", got: input)
        }
        (self.kernel, self.stride, self.padding, self.dilation) = (kernel, stride, padding, dilation)
    }
}
