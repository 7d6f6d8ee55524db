import Tensor

/// `y = x W^T + b` on the last axis of an input of any rank, as PyTorch's `nn.Linear`.
///
/// - Input `(*, in_features)`; output `(*, out_features)`.
/// - `weight`: `(out_features, in_features)`; `bias`: `(out_features)`.
public final class Linear: ModuleBase, Layer {
    public let inFeatures: Int
    public let outFeatures: Int
    private let parameters: WeightAndBias
    public var weight: Tensor { self[parameters.weight] }
    public var bias: Tensor? { parameters.bias.map { self[$0] } }

    /// Weight and bias are drawn as PyTorch's `Linear.reset_parameters()` draws them:
    /// U(-1/sqrt(in_features), 1/sqrt(in_features)).
    public init(inFeatures: Int, outFeatures: Int, bias: Bool = true) throws {
        guard inFeatures >= 0, outFeatures >= 0 else {
            throw NNError.invalidArgument(layer: "Linear", argument: "features", reason: "must be non-negative")
        }
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        parameters = WeightAndBias(weightShape: [outFeatures, inFeatures], biasCount: outFeatures, hasBias: bias, fanIn: inFeatures)
        super.init(state: parameters.slots)
    }

    public func forward(_ input: Tensor) throws -> Tensor {
        guard input.rank >= 1, input.shape.last == inFeatures else {
            throw NNError.inputShape(layer: "Linear(\(inFeatures), \(outFeatures))", expected: "(*, \(inFeatures))", got: input.shape)
        }
        let rows = input.shape.dropLast().reduce(1, *)
        let y = affineRows(
            input.scalars, rows: rows, inFeatures: inFeatures, weight: weight.scalars, bias: bias?.scalars, outFeatures: outFeatures)
        return Tensor(shape: Array(input.shape.dropLast()) + [outFeatures], scalars: y)
    }
}
