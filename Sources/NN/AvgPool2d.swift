import Tensor

/// Average pooling over NCHW, as PyTorch's `nn.AvgPool2d`.
///
/// Output size as ``MaxPool2d`` with dilation 1. Each window is divided by `divisor_override`
/// when given, else by its size including padding (`count_include_pad`, clipped at the padded
/// border) or by the number of real pixels in it.
public final class AvgPool2d: ModuleBase, Layer {
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
        super.init()
    }

    public func forward(_ input: Tensor) throws -> Tensor {
        avgPool2d(input, try window(for: input.shape), countIncludePad: countIncludePad, divisorOverride: divisorOverride)
    }

    /// The layer's window over an input of `shape`.
    func window(for shape: [Int]) throws -> PoolingWindow {
        try PoolingWindow(
            layer: typeName, input: shape, kernel: kernelSize, stride: stride, padding: padding, dilation: 1, ceilMode: ceilMode)
    }
}
