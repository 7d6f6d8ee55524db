import Foundation
import Tensor

/// `max(0, x)`, as PyTorch's `nn.ReLU`. Any shape.
public final class ReLU: ModuleBase, Layer {
    public override init() { super.init() }
    public func forward(_ input: Tensor) throws -> Tensor {
        reluInParallel(input)
    }
}

/// `x` for `x > 0`, else `negative_slope * x`, as PyTorch's `nn.LeakyReLU`. Any shape.
public final class LeakyReLU: ModuleBase, Layer {
    public let negativeSlope: Float
    public init(negativeSlope: Double = 0.01) {
        self.negativeSlope = Float(negativeSlope)
        super.init()
    }
    public func forward(_ input: Tensor) throws -> Tensor {
        let slope = negativeSlope
        return mapElements(input) { $0 > 0 ? $0 : $0 * slope }
    }
}

/// `1 / (1 + exp(-x))`, as PyTorch's `nn.Sigmoid`. Any shape.
public final class Sigmoid: ModuleBase, Layer {
    public override init() { super.init() }
    public func forward(_ input: Tensor) throws -> Tensor {
        NN.sigmoid(input)
    }
}

/// `tanh(x)`, as PyTorch's `nn.Tanh`. Any shape.
public final class Tanh: ModuleBase, Layer {
    public override init() { super.init() }
    public func forward(_ input: Tensor) throws -> Tensor { mapElements(input) { tanhf($0) } }
}

/// `log(1 + exp(beta * x)) / beta`, reverting to `x` where `beta * x > threshold`, as PyTorch's
/// `nn.Softplus`. Any shape.
public final class Softplus: ModuleBase, Layer {
    public let beta: Float
    public let threshold: Float
    public init(beta: Double = 1, threshold: Double = 20) {
        self.beta = Float(beta)
        self.threshold = Float(threshold)
        super.init()
    }
    public func forward(_ input: Tensor) throws -> Tensor {
        let (beta, threshold) = (beta, threshold)
        return mapElements(input) { $0 * beta > threshold ? $0 : log1pf(expf($0 * beta)) / beta }
    }
}
