import Checkpoint
import Foundation
import HDF5
import ModelZoo
import NN
import Tensor
import TestSupport
import Testing

/// Each registry model (resnet18's BasicBlocks with their residual adds and downsample
/// shortcuts included) differentiated end to end against autograd on one train-mode step
/// (Tools/make_training_fixtures.py, models.h5): the input gradient, every parameter's gradient
/// (large ones sampled every `stride`-th element) within 1e-4 x max(1, max|g|), and BatchNorm's
/// running statistics after the step.
struct ModelGradientTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("NNTests/Fixtures/training/models.h5").path

    static let architectures: [String] = {
        ((try? HDF5File.openReadOnly(fixture).rootGroup().members()) ?? []).map(\.name)
    }()

    @Test func everyRegistryModelIsCovered() {
        #expect(Set(Self.architectures) == Set(Registry.all.map(\.name)))
    }

    @Test(arguments: architectures)
    func matchesAutograd(arch: String) throws {
        let group = try HDF5File.openReadOnly(Self.fixture).rootGroup().openGroup(arch)
        let arguments = try JSONDecoder().decode([String: Int].self, from: Data(try #require(try group.stringAttribute("arch_args")).utf8))
        let model = try Registry.architecture(named: arch).build(arguments)
        try model.load(try describedWeights(group.openGroup("weights")))
        model.train()

        let pass = TrainingPass()
        let (output, pullback) = try model.differentiableForward(try group.openDataset("input").readTensor(), pass: pass)
        expectGradientClose(output, try group.openDataset("output").readTensor(), arch + " output")
        expectGradientClose(
            try pullback(try group.openDataset("grad_output").readTensor()), try group.openDataset("grad_input").readTensor(),
            arch + " grad_input")

        let grads = try group.openGroup("grads")
        let parameters = model.namedParameters()
        #expect(Set(parameters.map(\.key)) == Set(try grads.members().map(\.name)), "\(arch): parameters")
        for parameter in parameters {
            let dataset = try grads.openDataset(parameter.key)
            let stride = Int(try dataset.numberAttribute("stride") ?? 1)
            let actual = try #require(pass.gradients[parameter], "\(arch): no gradient for \(parameter.key)").scalars
            let sampled = Swift.stride(from: 0, to: actual.count, by: stride).map { actual[$0] }
            let expected = try dataset.readTensor()
            expectGradientClose(
                Tensor(shape: [sampled.count], scalars: sampled), try expected.reshaped([expected.count]), "\(arch) grad \(parameter.key)")
        }
        let after = try group.openGroup("state_after")
        for member in try after.members() {
            let wanted = try after.openDataset(member.name).readTensor()
            let actual = try #require(model.stateDict()[member.name])
            if wanted.dtype == .int64 {
                #expect(actual == wanted, "\(arch) \(member.name)")
            } else {
                expectGradientClose(actual, wanted, "\(arch) \(member.name)")
            }
        }
    }

    /// The weights models.h5 describes rather than stores: `offset + scale * u` with
    /// `u = ((i * 2654435761 + seed) mod 2^24) / 2^24 - 0.5`, each step in float32, as the script.
    private func describedWeights(_ group: HDF5Group) throws -> StateDict {
        var state = StateDict()
        for member in try group.members() {
            let dataset = try group.openDataset(member.name)
            let seed = UInt64(try #require(try dataset.numberAttribute("seed")))
            let offset = Float(try #require(try dataset.numberAttribute("offset")))
            let scale = Float(try #require(try dataset.numberAttribute("scale")))
            let shape = try dataset.shape()
            let values: [Float] = (0..<shape.reduce(1, *)).map { index in
                let k = (UInt64(index) &* 2_654_435_761 &+ seed) % (1 << 24)
                let u = Float(k) / 16_777_216 - 0.5
                let scaled = scale * u
                return offset + scaled
            }
            let tensor = Tensor(shape: shape, scalars: values)
            state[member.name] = member.name.hasSuffix("num_batches_tracked") ? tensor.converted(to: .int64) : tensor
        }
        return state
    }
}

/// Expects `actual` within the gradient rule of `expected` (``gradientError(_:_:)``).
private func expectGradientClose(
    _ actual: Tensor, _ expected: Tensor, _ context: String, sourceLocation: SourceLocation = #_sourceLocation
) {
    let (worst, bound) = gradientError(actual, expected)
    #expect(worst <= bound, "\(context): max abs error \(worst) exceeds \(bound)", sourceLocation: sourceLocation)
}
