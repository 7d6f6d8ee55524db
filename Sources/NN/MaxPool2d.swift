import Tensor

/// Max pooling over NCHW, as PyTorch's `nn.MaxPool2d`. Padding counts as negative infinity;
/// NaN propagates.
///
/// Output `H_out = floor_or_ceil((H + 2 * padding[0] - dilation[0] * (kernel_size[0] - 1) - 1) / stride[0]) + 1`,
/// ceil when `ceil_mode`, dropping a last window that would start in the right padding.
public final class MaxPool2d: Module {
    public let kernelSize: IntPair
    public let stride: IntPair
    public let padding: IntPair
    public let dilation: IntPair
    public let ceilMode: Bool

    /// `stride` defaults to `kernelSize`, as in PyTorch.
    public init(kernelSize: IntPair, stride: IntPair? = nil, padding: IntPair = 0, dilation: IntPair = 1, ceilMode: Bool = false) throws {
        try validatePositive(kernelSize, "kernel_size", "MaxPool2d")
        try validatePositive(stride ?? kernelSize, "stride", "MaxPool2d")
        try validatePositive(dilation, "dilation", "MaxPool2d")
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
        self.dilation = dilation
        self.ceilMode = ceilMode
    }

    public override func forward(_ input: Tensor) throws -> Tensor {
        let (planes, height, width, outHeight, outWidth) = try poolingShape(
            layer: typeName, input: input.shape, kernel: kernelSize, stride: stride, padding: padding, dilation: dilation,
            ceilMode: ceilMode)
        let (kernel, stride, padding, dilation) = (kernelSize, self.stride, self.padding, self.dilation)
        let x = input.scalars
        var y = [Float](repeating: 0, count: planes * outHeight * outWidth)
        x.withUnsafeBufferPointer { source in
            y.withUnsafeMutableBufferPointer { target in
                nonisolated(unsafe) let (source, target) = (source.baseAddress!, target.baseAddress!)
                parallelFor(planes, costPerIndex: outHeight * outWidth * kernel.height * kernel.width) { plane in
                    let image = source + plane * height * width
                    let pooled = target + plane * outHeight * outWidth
                    for oh in 0..<outHeight {
                        let h0 = oh * stride.height - padding.height
                        for ow in 0..<outWidth {
                            let w0 = ow * stride.width - padding.width
                            var best = -Float.infinity
                            window: for ki in 0..<kernel.height {
                                let ih = h0 + ki * dilation.height
                                guard ih >= 0 && ih < height else { continue }
                                for kj in 0..<kernel.width {
                                    let iw = w0 + kj * dilation.width
                                    guard iw >= 0 && iw < width else { continue }
                                    let value = image[ih * width + iw]
                                    if value.isNaN { best = value; break window }
                                    if value > best { best = value }
                                }
                            }
                            pooled[oh * outWidth + ow] = best
                        }
                    }
                }
            }
        }
        return Tensor(shape: [input.shape[0], input.shape[1], outHeight, outWidth], scalars: y)
    }
}
