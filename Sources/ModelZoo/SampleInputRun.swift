import Checkpoint
import NN
import Tensor

/// A forward pass on one of the file's sample inputs (the example a program was exported with).
/// With no reference output there is nothing to compare, so it proves less than a `__tests__`
/// pair: that the model runs on the input it was made for and, for a graph program, that every
/// node's result has the shape the program records. `verify` runs them only when the file gives
/// nothing better.
public struct SampleInputRun: Sendable, Encodable {
    public var name: String
    public var inputShape: [Int]
    /// The output's shape when the pass ran.
    public var outputShape: [Int]?
    public var error: String?
    public var passed: Bool { error == nil }

    private enum CodingKeys: String, CodingKey {
        case name, inputShape = "input_shape", outputShape = "output_shape", error, passed
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(inputShape, forKey: .inputShape)
        try container.encodeIfPresent(outputShape, forKey: .outputShape)
        try container.encodeIfPresent(error, forKey: .error)
        try container.encode(passed, forKey: .passed)
    }

    /// Runs `model` on each sample input of one-input programs; a program of several inputs is
    /// reported as not run (zoo's programs take one tensor).
    static func runs(of model: Module, on inputs: [Tensor], memoryLimit: Int?) -> [SampleInputRun] {
        guard inputs.count == 1, let input = inputs.first else {
            return inputs.isEmpty
                ? []
                : [
                    SampleInputRun(
                        name: "sample inputs", inputShape: inputs[0].shape, outputShape: nil,
                        error: "not run: the program takes \(inputs.count) inputs, and zoo runs programs of one")
                ]
        }
        var run = SampleInputRun(name: "sample input 0", inputShape: input.shape, outputShape: nil, error: nil)
        do {
            try MemoryAdmission.admit(MemoryEstimate(model: model, inputShape: input.shape), limit: memoryLimit)
            run.outputShape = try model(input.converted(to: .float32)).shape
        } catch {
            run.error = "\(error)"
        }
        return [run]
    }
}
