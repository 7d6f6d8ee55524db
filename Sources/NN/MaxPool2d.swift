import Tensor

/// Max pooling over NCHW, as PyTorch's `nn.MaxPool2d`. Padding counts as negative infinity;
/// NaN propagates.
///
/// Output `H_out = floor_or_ceil((H + 2 * padding[0] - dilation[0] * (kernel_size[0] - 1) - 1) / stride[0]) + 1`,
/// ceil when `ceil_mode`, dropping a last window that would start in the right padding.
public final class MaxPool2d: ModuleBase, Layer {
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
        super.init()
    }

    public func forward(_ input: Tensor) throws -> Tensor {
        maxPool2d(input, try window(for: input.shape))
    }

    /// The layer's window over an input of `shape`.
    func window(for shape: [Int]) throws -> PoolingWindow {
        try PoolingWindow(
            layer: typeName, input: shape, kernel: kernelSize, stride: stride, padding: padding, dilation: dilation, ceilMode: ceilMode)
    }
}
