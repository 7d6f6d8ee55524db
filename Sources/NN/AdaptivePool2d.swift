import Tensor

/// The output size of an adaptive pooling layer; `nil` on an axis keeps the input's size.
public struct AdaptiveOutputSize: Equatable, Sendable {
    public var height: Int?
    public var width: Int?

    public init(height: Int?, width: Int?) {
        self.height = height
        self.width = width
    }

    public init(_ size: Int) { self.init(height: size, width: size) }
}

/// Average pooling to a fixed output size, as PyTorch's `nn.AdaptiveAvgPool2d`. NCHW in and out.
public final class AdaptiveAvgPool2d: ModuleBase, Layer {
    public let outputSize: AdaptiveOutputSize

    public init(outputSize: AdaptiveOutputSize) {
        self.outputSize = outputSize
        super.init()
    }

    public func forward(_ input: Tensor) throws -> Tensor {
        try adaptivePool(input, size: outputSize, layer: typeName) { x, base, rows, columns, width in
            var sum: Float = 0
            for ih in rows { for iw in columns { sum += x[base + ih * width + iw] } }
            return sum / Float(rows.count * columns.count)
        }
    }
}

/// Max pooling to a fixed output size, as PyTorch's `nn.AdaptiveMaxPool2d`. NaN propagates.
public final class AdaptiveMaxPool2d: ModuleBase, Layer {
    public let outputSize: AdaptiveOutputSize

    public init(outputSize: AdaptiveOutputSize) {
        self.outputSize = outputSize
        super.init()
    }

    public func forward(_ input: Tensor) throws -> Tensor {
        try adaptivePool(input, size: outputSize, layer: typeName) { x, base, rows, columns, width in
            var best = -Float.infinity
            for ih in rows {
                for iw in columns {
                    let value = x[base + ih * width + iw]
                    if value > best || value.isNaN { best = value }
                }
            }
            return best
        }
    }
}
