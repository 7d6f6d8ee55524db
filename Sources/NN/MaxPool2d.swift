import Tensor

/// Max pooling over NCHW, as PyTorch's `nn.MaxPool2d`. Padding counts as negative infinity;
/// NaN propagates.
///
/// Output `H_out = floor_or_ceil((H + 2 * padding[0] - dilation[0] * (kernel_size[0] - 1) - 1) / stride[0]) + 1`,
/// ceil when `ceil_mode`, dropping a last window that would start in the right padding.
public final class MaxPool2d: Module {
    public let typeName = "MaxPool2d"
    public let kernelSize: IntPair
    public let stride: IntPair
    public let padding: IntPair
    public let dilation: IntPair
    public let ceilMode: Bool
    public var isTraining = true

    /// `stride` defaults to `kernelSize`, as in PyTorch.
    public init(kernelSize: IntPair, stride: IntPair? = nil, padding: IntPair = 0, dilation: IntPair = 1, ceilMode: Bool = false) throws {
        try validatePositive(kernelSize, "kernel_size", typeName)
        try validatePositive(stride ?? kernelSize, "stride", typeName)
        try validatePositive(dilation, "dilation", typeName)
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
        self.dilation = dilation
        self.ceilMode = ceilMode
    }

    public func forward(_ input: Tensor) throws -> Tensor {
        try validatePooling(layer: typeName, input: input.shape, kernel: kernelSize, padding: padding)
        let (batch, channels, height, width) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let outHeight = pooledSize(input: height, kernel: kernelSize.height, stride: stride.height, padding: padding.height, dilation: dilation.height, ceilMode: ceilMode)
        let outWidth = pooledSize(input: width, kernel: kernelSize.width, stride: stride.width, padding: padding.width, dilation: dilation.width, ceilMode: ceilMode)
        guard outHeight > 0, outWidth > 0 else {
            throw NNError.inputShape(layer: typeName, expected: "an input large enough for kernel \(kernelSize)", got: input.shape)
        }
        let x = input.scalars
        var y = [Float](repeating: 0, count: batch * channels * outHeight * outWidth)
        for plane in 0..<(batch * channels) {
            let inBase = plane * height * width
            let outBase = plane * outHeight * outWidth
            for oh in 0..<outHeight {
                let h0 = oh * stride.height - padding.height
                for ow in 0..<outWidth {
                    let w0 = ow * stride.width - padding.width
                    var best = -Float.infinity
                    for ki in 0..<kernelSize.height {
                        let ih = h0 + ki * dilation.height
                        guard ih >= 0 && ih < height else { continue }
                        for kj in 0..<kernelSize.width {
                            let iw = w0 + kj * dilation.width
                            guard iw >= 0 && iw < width else { continue }
                            let value = x[inBase + ih * width + iw]
                            if value > best || value.isNaN { best = value }
                            if best.isNaN { break }
                        }
                        if best.isNaN { break }
                    }
                    y[outBase + oh * outWidth + ow] = best
                }
            }
        }
        return Tensor(shape: [batch, channels, outHeight, outWidth], scalars: y)
    }
}
