import Tensor

/// Merges axes `start_dim...end_dim` into one, as PyTorch's `nn.Flatten` (defaults 1 and -1).
public final class Flatten: ModuleBase, Layer {
    public let startDim: Int
    public let endDim: Int

    public init(startDim: Int = 1, endDim: Int = -1) {
        self.startDim = startDim
        self.endDim = endDim
        super.init()
    }

    public func forward(_ input: Tensor) throws -> Tensor {
        let rank = Swift.max(input.rank, 1)
        let start = startDim < 0 ? startDim + rank : startDim
        let end = endDim < 0 ? endDim + rank : endDim
        guard start >= 0, end < rank, start <= end else {
            throw NNError.inputShape(
                layer: "Flatten(\(startDim), \(endDim))", expected: "a tensor with axes \(startDim)...\(endDim)", got: input.shape)
        }
        if input.rank == 0 { return try input.reshaped([1]) }
        let shape = Array(input.shape[..<start]) + [input.shape[start...end].reduce(1, *)] + Array(input.shape[(end + 1)...])
        return try input.reshaped(shape)
    }
}

/// Returns its input, as PyTorch's `nn.Identity`.
public final class Identity: ModuleBase, Layer {
    public override init() { super.init() }
    public func forward(_ input: Tensor) throws -> Tensor { input }
}

/// Zeroes each element with probability `p` in train mode and scales the rest by `1 / (1 - p)`;
/// the identity in eval mode, as PyTorch's `nn.Dropout`.
public final class Dropout: ModuleBase, Layer {
    public let p: Double

    public init(p: Double = 0.5) throws {
        guard (0...1).contains(p) else {
            throw NNError.invalidArgument(
                layer: "Dropout", argument: "p", reason: "dropout probability has to be between 0 and 1, but got \(p)")
        }
        self.p = p
        super.init()
    }

    public func forward(_ input: Tensor) throws -> Tensor {
        guard isTraining, p > 0 else { return input }
        if p == 1 { return Tensor(zeros: input.shape) }
        let scale = Float(1 / (1 - p))
        var generator = SystemRandomNumberGenerator()
        let keep = 1 - p
        return mapElements(input) { Double.random(in: 0..<1, using: &generator) < keep ? $0 * scale : 0 }
    }
}
