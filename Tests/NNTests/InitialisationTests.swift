import NN
import Tensor
import Testing

/// Layers own their initialisation: PyTorch's bounds and fan-in rules, drawn from one seed.
@Suite("Initialisation")
struct InitialisationTests {
    private func largest(_ tensor: Tensor?) -> Float { (tensor?.scalars ?? []).map(abs).max() ?? 0 }

    @Test func conv2dDrawsWithinOneOverSquareRootOfFanIn() throws {
        let conv = try Conv2d(inChannels: 4, outChannels: 8, kernelSize: 3, groups: 2)
        var generator = SeededGenerator(seed: 1)
        try conv.resetParameters(using: &generator)
        let bound = 1 / Float(2 * 3 * 3).squareRoot()
        #expect(largest(conv.weight) <= bound)
        #expect(largest(conv.weight) > bound * 0.9, "the draws fill the range")
        #expect(largest(conv.bias) <= bound)
    }

    @Test func convTranspose2dTakesFanInFromItsOutputChannels() throws {
        // PyTorch: fan_in = weight.size(1) * kH * kW = out_channels / groups * kH * kW.
        let conv = try ConvTranspose2d(inChannels: 64, outChannels: 2, kernelSize: 4)
        var generator = SeededGenerator(seed: 2)
        try conv.resetParameters(using: &generator)
        let bound = 1 / Float(2 * 4 * 4).squareRoot()
        #expect(largest(conv.weight) <= bound)
        #expect(largest(conv.weight) > bound * 0.9)
    }

    @Test func linearUsesInFeatures() throws {
        let linear = try Linear(inFeatures: 100, outFeatures: 50)
        var generator = SeededGenerator(seed: 3)
        try linear.resetParameters(using: &generator)
        #expect(largest(linear.weight) <= 0.1)
        #expect(largest(linear.weight) > 0.09)
    }

    @Test func batchNormResetsToIdentityStatistics() throws {
        let norm = try BatchNorm2d(numFeatures: 3)
        try norm.load(
            StateDict(
                norm.stateDict().map { key, tensor in (key, key == "num_batches_tracked" ? tensor : Tensor(shape: [3], scalars: [5, 5, 5]))
                }))
        var generator = SeededGenerator(seed: 4)
        try norm.resetParameters(using: &generator)
        #expect(norm.weight?.scalars == [1, 1, 1])
        #expect(norm.bias?.scalars == [0, 0, 0])
        #expect(norm.runningMean?.scalars == [0, 0, 0])
        #expect(norm.runningVar?.scalars == [1, 1, 1])
    }

    @Test func theSameSeedGivesTheSameModel() throws {
        func build() throws -> Sequential {
            Sequential([try Conv2d(inChannels: 1, outChannels: 2, kernelSize: 3), ReLU(), try Linear(inFeatures: 3, outFeatures: 2)])
        }
        var first = SeededGenerator(seed: 9)
        var second = SeededGenerator(seed: 9)
        let a = try build()
        let b = try build()
        try a.resetAllParameters(using: &first)
        try b.resetAllParameters(using: &second)
        #expect(a.stateDict() == b.stateDict())
    }

    @Test func typeNameIsPyTorchsClassName() throws {
        #expect(try Conv2d(inChannels: 1, outChannels: 1, kernelSize: 1).typeName == "Conv2d")
        #expect(Sequential([]).typeName == "Sequential")
    }
}
