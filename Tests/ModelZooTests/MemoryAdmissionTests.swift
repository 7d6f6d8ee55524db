import ModelZoo
import NN
import Tensor
import Testing

/// Before a forward pass allocates anything, zoo knows the shapes it will hold and refuses what
/// does not fit, saying what it needs.
@Suite("MemoryAdmission")
struct MemoryAdmissionTests {
    /// Each registry model at its own input size, a bigger one and a batch of three.
    static let cases: [(name: String, shape: [Int])] = Registry.all.flatMap { architecture -> [(String, [Int])] in
        let sample = architecture.inputShape([:])
        let bigger = sample.enumerated().map { $0.offset == 0 ? $0.element : $0.element * 2 }
        return [(architecture.name, [1] + sample), (architecture.name, [3] + bigger)]
    }

    /// The shape rule gives the forward's shape, or the forward's error (models with a Linear
    /// head take one size only).
    @Test(arguments: cases.indices)
    func shapeRulesAgreeWithTheForward(index: Int) throws {
        let (name, shape) = Self.cases[index]
        let model = try Registry.architecture(named: name).initialisedModel(seed: 0)
        InferenceFusion.apply(to: model)
        var generator = SeededGenerator(seed: 1)
        let input = Tensor(shape: shape, scalars: generator.uniform(count: shape.reduce(1, *), bound: 1))
        do {
            let output = try model(input)
            #expect(try model.outputShape(for: shape) == output.shape, "\(name) \(shape)")
            #expect(try model.activationBytes(for: shape) >= float32Bytes(shape) + float32Bytes(output.shape), "\(name) \(shape)")
        } catch let forwardError as NNError {
            #expect(throws: forwardError) { try model.outputShape(for: shape) }
        }
    }

    @Test func aShapeTheModelRefusesIsItsForwardError() throws {
        let model = try Registry.architecture(named: "simplecnn").initialisedModel(seed: 0)
        let forwardError = #expect(throws: NNError.self) { try model(Tensor(zeros: [1, 1, 32, 32])) }
        let shapeError = #expect(throws: NNError.self) { try model.outputShape(for: [1, 1, 32, 32]) }
        #expect(forwardError == shapeError)
    }

    @Test(arguments: [[100_000, 3, 224, 224], [1, 3, 1 << 31, 224], [1 << 62, 3, 224, 224], [1, 3, 1 << 62, 1 << 62]])
    func aWorkloadPastMemoryIsRefusedWithWhatItNeeds(shape: [Int]) throws {
        let model = try Registry.architecture(named: "resnet18").build()
        let estimate = try MemoryEstimate(model: model, inputShape: shape)
        #expect(estimate.total > 1 << 40)
        let refusal = #expect(throws: MemoryAdmissionError.self) { try MemoryAdmission.admit(estimate, limit: 1 << 34) }
        #expect(refusal?.description.hasPrefix("needs ") == true)
        #expect(refusal?.description.contains("input ") == true)
        #expect(refusal?.description.hasSuffix("the limit is 16.0 GiB") == true)
    }

    @Test func aSmallWorkloadIsAdmittedAndItsPartsAddUp() throws {
        let model = try Registry.architecture(named: "simplecnn").build()
        let estimate = try MemoryEstimate(model: model, inputShape: [8, 3, 32, 32])
        #expect(estimate.input == 8 * 3 * 32 * 32 * 4)
        #expect(estimate.weights == model.parameterCount * 4)
        #expect(estimate.total == estimate.input + estimate.activations + estimate.weights + estimate.workspace)
        try MemoryAdmission.admit(estimate, limit: 1 << 30)
    }

    @Test func thisMachineSaysWhatItHasAvailable() throws {
        let available = try #require(MemoryAdmission.available())
        #expect(available.bytes > 0)
    }
}
