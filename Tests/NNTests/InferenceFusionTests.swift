import JSON
import NN
import Tensor
import Testing

/// The fusion pass changes how many passes a forward takes over the activations, never a bit of
/// its results; train mode undoes it.
@Suite("InferenceFusion")
struct InferenceFusionTests {
    private func model() throws -> Module {
        let model = Sequential([
            try Conv2d(inChannels: 3, outChannels: 16, kernelSize: 3, padding: 1, bias: false),
            try BatchNorm2d(numFeatures: 16), ReLU(),
            try BasicBlock(inplanes: 16, planes: 32, stride: 2),
            try ConvTranspose2d(inChannels: 32, outChannels: 8, kernelSize: 4, stride: 2, padding: 1),
            try BatchNorm2d(numFeatures: 8), Sigmoid(),
        ])
        var generator = SeededGenerator(seed: 11)
        try model.resetAllParameters(using: &generator)
        // Running statistics other than BatchNorm's defaults, so that the folded map matters.
        var state = model.stateDict()
        for (key, tensor) in state where key.hasSuffix("running_var") || key.hasSuffix("running_mean") {
            state[key] = Tensor(shape: tensor.shape, scalars: generator.uniform(count: tensor.count, bound: 1).map { abs($0) + 0.5 })
        }
        try model.load(state)
        return model
    }

    @Test func fusedResultsAreBitIdentical() throws {
        let model = try model()
        var generator = SeededGenerator(seed: 12)
        let input = Tensor(shape: [2, 3, 12, 12], scalars: generator.uniform(count: 2 * 3 * 12 * 12, bound: 2))
        model.eval()
        let plain = try model(input)
        InferenceFusion.apply(to: model)
        let fused = try model(input)
        #expect(fused.scalars.map(\.bitPattern) == plain.scalars.map(\.bitPattern))
        for case let conv as any ConvolutionKernelChoosing in model.modules { conv.kernels.usesOneDNN = false }
        let fusedOwnKernels = try model(input)
        model.eval()
        let plainOwnKernels = try model(input)
        #expect(fusedOwnKernels.scalars.map(\.bitPattern) == plainOwnKernels.scalars.map(\.bitPattern))
    }

    @Test func trainModeUndoesFusion() throws {
        let model = try model()
        var generator = SeededGenerator(seed: 13)
        let input = Tensor(shape: [2, 3, 8, 8], scalars: generator.uniform(count: 2 * 3 * 8 * 8, bound: 2))
        InferenceFusion.apply(to: model)
        model.train()
        let before = model.stateDict()
        _ = try model(input)
        // Train-mode BatchNorm ran on its own: its running statistics moved.
        #expect(model.stateDict()["1.num_batches_tracked"] != before["1.num_batches_tracked"])
        #expect(model.stateDict()["1.running_mean"] != before["1.running_mean"])
    }

    @Test func parameterCountComesFromTheDeclaredSlots() throws {
        let norm = try BatchNorm2d(numFeatures: 4)
        #expect(norm.parameterCount == 8, "weight and bias; the running statistics are buffers")
        #expect(norm.expectedTensors.map(\.key) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"])
        #expect(try Conv2d(inChannels: 2, outChannels: 3, kernelSize: 3).parameterCount == 3 * 2 * 9 + 3)
    }

    @Test func aOneDNNFallbackKeepsItsReason() throws {
        // Output padding beyond the padding is a case oneDNN's deconvolution cannot describe.
        let conv = try ConvTranspose2d(inChannels: 2, outChannels: 2, kernelSize: 3, stride: 2, outputPadding: 1)
        #expect(conv.oneDNNFallback == nil)
        _ = try conv(Tensor(zeros: [1, 2, 4, 4]))
        guard case .unsupported = conv.oneDNNFallback else {
            Issue.record("expected an unsupported-case fallback, got \(String(describing: conv.oneDNNFallback))")
            return
        }
    }

    @Test(arguments: ["{\"type\": \"MaxPool2d\", \"kernel_size\": 2", "{\"type\": \"AdaptiveMaxPool2d\", \"output_size\": 2"])
    func maxPoolingRefusesIndicesAlike(layer: String) throws {
        let type = layer.contains("Adaptive") ? "AdaptiveMaxPool2d" : "MaxPool2d"
        let config = try JSONValue.parse("{\"layers\": [\(layer), \"return_indices\": true}]}")
        #expect(
            throws: NNError.invalidArgument(
                layer: type, argument: "return_indices", reason: "returning indices is not supported in a Sequential")
        ) { try ModelConfig.build(config) }
    }
}
