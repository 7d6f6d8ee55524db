import Checkpoint
import NN
import Tensor

public enum Exporter {
    /// A freshly initialised registry model as canonical v1, with a reference input/output pair
    /// computed here (batch of one, inputs U(-1, 1) from the same seed).
    public static func export(
        _ architecture: Architecture, arguments given: [String: Int], seed: UInt64, to path: String
    ) throws -> (stateDict: StateDict, reference: ReferenceCase) {
        let arguments = try architecture.resolvedArguments(given)
        let model = try architecture.build(arguments)
        let shape = [1] + architecture.inputShape(arguments)
        // Drawn weights and the reference pass, refused before either is allocated.
        try MemoryAdmission.admit(try MemoryEstimate(model: model, inputShape: shape))
        var generator = SeededGenerator(seed: seed)
        try architecture.initialise(model, generator: &generator)
        InferenceFusion.apply(to: model)
        let input = Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in Float.random(in: -1..<1, using: &generator) })
        let output = try model(input)
        let reference = ReferenceCase(name: "0", input: input, output: output)
        let stateDict = model.stateDict()
        let manifest = Manifest(
            arch: architecture.name, archArgs: arguments.mapValues { .int(Int64($0)) }, producer: "zoo export (seed \(seed))")
        try CheckpointWriter.write(stateDict, manifest: manifest, referenceCases: [reference], to: path)
        return (stateDict, reference)
    }
}
