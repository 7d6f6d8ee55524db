import Tensor

/// Average pooling over NCHW, as PyTorch's `nn.AvgPool2d`.
///
/// Output size as ``MaxPool2d`` with dilation 1. Each window is divided by `divisor_override`
/// when given, else by its size including padding (`count_include_pad`, clipped at the padded
/// border) or by the number of real pixels in it.
public final class AvgPool2d: Module {
    public let kernelSize: IntPair
    public let stride: IntPair
    public let padding: IntPair
    public let ceilMode: Bool
    public let countIncludePad: Bool
    public let divisorOverride: Int?

    public init(
        kernelSize: IntPair, stride: IntPair? = nil, padding: IntPair = 0, ceilMode: Bool = false,
        countIncludePad: Bool = true, divisorOverride: Int? = nil
    ) throws {
        try validatePositive(kernelSize, "kernel_size", "AvgPool2d")
        try validatePositive(stride ?? kernelSize, "stride", "AvgPool2d")
        if let divisorOverride, divisorOverride == 0 {
            throw NNError.invalidArgument(layer: "AvgPool2d", argument: "divisor_override", reason: "must not be zero")
        }
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
        self.ceilMode = ceilMode
        self.countIncludePad = countIncludePad
        self.divisorOverride = divisorOverride
    }

    public override func forward(_ input: Tensor) throws -> Tensor {
        let (planes, height, width, outHeight, outWidth) = try poolingShape(
            layer: typeName, input: input.shape, kernel: kernelSize, stride: stride, padding: padding, dilation: 1, ceilMode: ceilMode)
        let x = input.scalars
        var y = [Float](repeating: 0, count: planes * outHeight * outWidth)
        for plane in 0..<planes {
            let inBase = plane * height * width
            let outBase = plane * outHeight * outWidth
            for oh in 0..<outHeight {
                var h0 = oh * stride.height - padding.height
                var h1 = Swift.min(h0 + kernelSize.height, height + padding.height)
                let paddedRows = h1 - h0
                h0 = Swift.max(h0, 0)
                h1 = Swift.min(h1, height)
                for ow in 0..<outWidth {
                    var w0 = ow * stride.width - padding.width
                    var w1 = Swift.min(w0 + kernelSize.width, width + padding.width)
                    let paddedSize = paddedRows * (w1 - w0)
                    w0 = Swift.max(w0, 0)
                    w1 = Swift.min(w1, width)
                    guard h0 < h1, w0 < w1 else { continue }
                    var sum: Float = 0
                    for ih in h0..<h1 {
                        for iw in w0..<w1 { sum += x[inBase + ih * width + iw] }
                    }
                    let divisor = divisorOverride ?? (countIncludePad ? paddedSize : (h1 - h0) * (w1 - w0))
                    y[outBase + oh * outWidth + ow] = sum / Float(divisor)
                }
            }
        }
        return Tensor(shape: [input.shape[0], input.shape[1], outHeight, outWidth], scalars: y)
    }
}
