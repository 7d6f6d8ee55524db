import Foundation
import Tensor

/// How a loss turns per-element losses into its value, as PyTorch's `reduction`.
public enum Reduction: String, Sendable, CaseIterable {
    /// Every per-element loss; the gradient is that of their sum (`loss.backward(ones)`).
    case none
    case mean
    case sum
}

/// A loss as PyTorch's `nn` losses compute it: its value and its gradient with respect to the
/// input, in one call (the loss is the last step of a forward, so its pullback needs nothing
/// from later).
public protocol Loss: Sendable {
    /// `loss`: a 0-d tensor, or the per-element losses with ``Reduction/none``; `gradient`:
    /// d(sum of `loss`)/d`input`, of the input's shape.
    func evaluate(_ input: Tensor, _ target: Tensor) throws -> (loss: Tensor, gradient: Tensor)
}

/// `nn.CrossEntropyLoss`: log-softmax over axis 1 of `(N, C)` or `(N, C, d1, ...)` input, then
/// the negative log-likelihood of the target.
///
/// An integer target `(N)` / `(N, d1, ...)` holds class indices: a sample's loss is
/// `(1 - ε) * -w[y] log p[y] + ε / C * Σ_c -w[c] log p[c]` (ε = `labelSmoothing`), none for
/// `ignoreIndex`; `mean` divides the first term's sum by `Σ w[y]` over the counted samples and the
/// second's by the same (by their count without weights), as PyTorch does. A float target of the
/// input's shape holds class probabilities, smoothed to `(1 - ε) t + ε / C`; a sample's loss is
/// `Σ_c -w[c] t[c] log p[c]` and `mean` divides by the number of samples.
public struct CrossEntropyLoss: Loss {
    public var weight: [Float]?
    public var ignoreIndex: Int
    public var labelSmoothing: Double
    public var reduction: Reduction

    public init(weight: [Float]? = nil, ignoreIndex: Int = -100, labelSmoothing: Double = 0, reduction: Reduction = .mean) {
        self.weight = weight
        self.ignoreIndex = ignoreIndex
        self.labelSmoothing = labelSmoothing
        self.reduction = reduction
    }

    public func evaluate(_ input: Tensor, _ target: Tensor) throws -> (loss: Tensor, gradient: Tensor) {
        let layout = try ClassLayout(input, weight: weight, loss: "CrossEntropyLoss")
        let logProbabilities = layout.logSoftmax(input.scalars)
        let result =
            target.dtype.isFloatingPoint
            ? try layout.probabilityLoss(
                logProbabilities, target, smoothing: labelSmoothing, reduction: reduction, inputShape: input.shape)
            : try layout.classLoss(
                logProbabilities, target, ignoreIndex: ignoreIndex, smoothing: labelSmoothing, reduction: reduction)
        // Through log-softmax: dx = g - softmax * Σ_c g.
        var gradient = [Float](repeating: 0, count: input.count)
        layout.forEachPosition { offsets in
            var total = 0.0
            for offset in offsets { total += result.logGradient[offset] }
            for offset in offsets {
                gradient[offset] = Float(result.logGradient[offset] - exp(logProbabilities[offset]) * total)
            }
        }
        return (result.loss, Tensor(shape: input.shape, scalars: gradient))
    }
}

/// `nn.NLLLoss`: the input holds log-probabilities over axis 1; the target class indices. A
/// sample's loss is `-w[y] * input[y]`, none for `ignoreIndex`; `mean` divides by `Σ w[y]`.
public struct NLLLoss: Loss {
    public var weight: [Float]?
    public var ignoreIndex: Int
    public var reduction: Reduction

    public init(weight: [Float]? = nil, ignoreIndex: Int = -100, reduction: Reduction = .mean) {
        self.weight = weight
        self.ignoreIndex = ignoreIndex
        self.reduction = reduction
    }

    public func evaluate(_ input: Tensor, _ target: Tensor) throws -> (loss: Tensor, gradient: Tensor) {
        let layout = try ClassLayout(input, weight: weight, loss: "NLLLoss")
        guard !target.dtype.isFloatingPoint else {
            throw NNError.training(layer: "NLLLoss", reason: "expected class indices (an integer target), got \(target.dtype)")
        }
        let result = try layout.classLoss(
            input.scalars.map(Double.init), target, ignoreIndex: ignoreIndex, smoothing: 0, reduction: reduction)
        return (result.loss, Tensor(shape: input.shape, scalars: result.logGradient.map { Float($0) }))
    }
}

/// `nn.MSELoss`: `(x - y)²` per element; gradient `2 (x - y)` (over the count for `mean`).
public struct MSELoss: Loss {
    public var reduction: Reduction
    public init(reduction: Reduction = .mean) { self.reduction = reduction }

    public func evaluate(_ input: Tensor, _ target: Tensor) throws -> (loss: Tensor, gradient: Tensor) {
        try elementwiseLoss("MSELoss", input, target, reduction) { x, y in ((x - y) * (x - y), 2 * (x - y)) }
    }
}

/// `nn.L1Loss`: `|x - y|` per element; gradient `sign(x - y)` (0 where equal).
public struct L1Loss: Loss {
    public var reduction: Reduction
    public init(reduction: Reduction = .mean) { self.reduction = reduction }

    public func evaluate(_ input: Tensor, _ target: Tensor) throws -> (loss: Tensor, gradient: Tensor) {
        try elementwiseLoss("L1Loss", input, target, reduction) { x, y in (abs(x - y), x > y ? 1 : (x < y ? -1 : 0)) }
    }
}

/// `nn.BCEWithLogitsLoss`: `-w [p y log σ(x) + (1 - y) log(1 - σ(x))]` per element, computed as
/// `w [(1 - y) x + (1 + (p - 1) y) (log1p(exp(-|x|)) + max(-x, 0))]` for stability, with
/// `weight` and `posWeight` (p) broadcast over the last axis; gradient `w [σ(x) (p y + 1 - y) - p y]`.
public struct BCEWithLogitsLoss: Loss {
    public var weight: [Float]?
    public var posWeight: [Float]?
    public var reduction: Reduction

    public init(weight: [Float]? = nil, posWeight: [Float]? = nil, reduction: Reduction = .mean) {
        self.weight = weight
        self.posWeight = posWeight
        self.reduction = reduction
    }

    public func evaluate(_ input: Tensor, _ target: Tensor) throws -> (loss: Tensor, gradient: Tensor) {
        let last = input.shape.last ?? 1
        for (name, vector) in [("weight", weight), ("pos_weight", posWeight)] {
            if let vector, vector.count != last && vector.count != 1 {
                throw NNError.training(
                    layer: "BCEWithLogitsLoss", reason: "\(name) of \(vector.count) values does not broadcast over the last axis (\(last))")
            }
        }
        var index = -1
        return try elementwiseLoss("BCEWithLogitsLoss", input, target, reduction) { x, y in
            index += 1
            let column = index % last
            let w = Double(weight.map { $0.count == 1 ? $0[0] : $0[column] } ?? 1)
            let p = Double(posWeight.map { $0.count == 1 ? $0[0] : $0[column] } ?? 1)
            let logSigmoidTerm = log1p(exp(-abs(x))) + Swift.max(-x, 0)
            let loss = (1 - y) * x + (1 + (p - 1) * y) * logSigmoidTerm
            let sigmoid = 1 / (1 + exp(-x))
            return (w * loss, w * (sigmoid * (p * y + 1 - y) - p * y))
        }
    }
}

/// A loss of matching input and target shapes, one element at a time: `rule(x, y)` gives the
/// element's loss and its derivative, reduced as asked.
private func elementwiseLoss(
    _ name: String, _ input: Tensor, _ target: Tensor, _ reduction: Reduction, rule: (Double, Double) -> (Double, Double)
) throws -> (loss: Tensor, gradient: Tensor) {
    guard input.shape == target.shape else {
        throw NNError.inputShape(layer: name, expected: "a target of the input's shape \(input.shape)", got: target.shape)
    }
    let (x, y) = (input.scalars, target.scalars)
    var losses = [Double](repeating: 0, count: x.count)
    var gradient = [Float](repeating: 0, count: x.count)
    let scale = reduction == .mean ? 1 / Double(x.count) : 1
    for index in 0..<x.count {
        let (loss, derivative) = rule(Double(x[index]), Double(y[index]))
        losses[index] = loss
        gradient[index] = Float(derivative * scale)
    }
    let loss: Tensor
    switch reduction {
    case .none: loss = Tensor(shape: input.shape, scalars: losses.map { Float($0) })
    case .sum: loss = Tensor(shape: [], scalars: [Float(losses.reduce(0, +))])
    case .mean: loss = Tensor(shape: [], scalars: [Float(losses.reduce(0, +) / Double(x.count))])
    }
    return (loss, Tensor(shape: input.shape, scalars: gradient))
}

extension DType {
    var isFloatingPoint: Bool { [.float32, .float64, .float16, .bfloat16].contains(self) }
}
