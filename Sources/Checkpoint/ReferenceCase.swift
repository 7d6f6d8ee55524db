import Tensor

/// One reference input/output pair from `__tests__`: running the model on `input` must give
/// `output` within the tolerances.
public struct ReferenceCase: Sendable, Equatable {
    public var name: String
    public var input: Tensor
    public var output: Tensor
    public var absoluteTolerance: Double?
    public var relativeTolerance: Double?

    public init(name: String, input: Tensor, output: Tensor, absoluteTolerance: Double? = nil, relativeTolerance: Double? = nil) {
        self.name = name
        self.input = input
        self.output = output
        self.absoluteTolerance = absoluteTolerance
        self.relativeTolerance = relativeTolerance
    }
}
