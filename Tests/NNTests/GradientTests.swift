import Foundation
import HDF5
import JSON
import NN
import Tensor
import TestSupport
import Testing

/// Every layer case autograd computed in Tools/make_training_fixtures.py (layers.h5), run
/// through zoo's pullbacks: input and parameter gradients within 1e-4 x max(1, max|g|), the
/// forward and the running statistics after a train-mode step as the layer parity rule has them.
struct GradientTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/training/layers.h5").path

    static let casePaths: [String] = {
        guard let root = try? HDF5File.openReadOnly(fixture).rootGroup(), let groups = try? root.members() else { return [] }
        return groups.flatMap { group in
            ((try? root.openGroup(group.name).members()) ?? []).map { "\(group.name)/\($0.name)" }
        }
    }()

    @Test func everyLayerHasCases() {
        for type in [
            "Conv2d", "ConvTranspose2d", "BatchNorm2d", "MaxPool2d", "AvgPool2d", "AdaptivePool2d", "Linear", "Elementwise", "Upsample",
        ] {
            #expect(Self.casePaths.contains { $0.hasPrefix(type + "/") }, "no \(type) cases")
        }
    }

    @Test(arguments: casePaths)
    func matchesAutograd(casePath: String) throws {
        try check(casePath, usesOneDNN: true)
    }

    /// The convolution cases again on zoo's own kernels (im2col and GEMM, and their adjoints),
    /// which serve the cases oneDNN's backward primitives decline.
    @Test(arguments: casePaths.filter { $0.hasPrefix("Conv") })
    func matchesAutogradOnZoosOwnKernels(casePath: String) throws {
        try check(casePath, usesOneDNN: false)
    }

    private func check(_ casePath: String, usesOneDNN: Bool) throws {
        let root = try HDF5File.openReadOnly(Self.fixture).rootGroup()
        let parts = casePath.split(separator: "/").map(String.init)
        let group = try root.openGroup(parts[0]).openGroup(parts[1])
        let config = try JSONValue.parse(try #require(try group.stringAttribute("config")))
        let model = try ModelConfig.build(.object(["layers": .array([config])]))
        let state = try readGroup(group.openGroup("state"))
        try model.load(StateDict(state.sorted { $0.key < $1.key }.map { ("0." + $0.key, $0.value) }))
        model.train(try group.stringAttribute("mode") == "train")
        for case let layer as any ConvolutionKernelChoosing in model.modules { layer.kernels.usesOneDNN = usesOneDNN }

        let pass = TrainingPass()
        let (output, pullback) = try model.differentiableForward(try group.openDataset("input").readTensor(), pass: pass)
        expectGradientClose(output, try group.openDataset("output").readTensor(), context: "\(casePath) output")
        let inputGradient = try pullback(try group.openDataset("grad_output").readTensor())
        expectGradientClose(inputGradient, try group.openDataset("grad_input").readTensor(), context: "\(casePath) grad_input")

        let expected = try readGroup(group.openGroup("grads"))
        let parameters = model.namedParameters()
        #expect(Set(parameters.map { String($0.key.dropFirst(2)) }) == Set(expected.keys), "\(casePath): parameters")
        for parameter in parameters {
            let name = String(parameter.key.dropFirst(2))
            let actual = try #require(pass.gradients[parameter], "\(casePath): no gradient for \(name)")
            expectGradientClose(actual, try #require(expected[name]), context: "\(casePath) grad \(name)")
        }
        if try group.members().contains(where: { $0.name == "state_after" }) {
            let after = try readGroup(group.openGroup("state_after"))
            for (key, tensor) in model.stateDict() {
                let name = String(key.dropFirst(2))
                let wanted = try #require(after[name])
                if tensor.dtype == .int64 {
                    #expect(tensor == wanted, "\(casePath) \(name) after the step")
                } else {
                    expectGradientClose(tensor, wanted, context: "\(casePath) \(name) after the step")
                }
            }
        }
    }

    /// Rows wide enough for max-pool's vector path (eight outputs at a time), with and without
    /// padding (where only the border is checked tap by tap): each window's gradient goes to its
    /// first maximum, or its last NaN, as a plain scan finds them, and the output is the
    /// inference forward's.
    @Test(arguments: [(2, 2, 0), (3, 1, 0), (2, 3, 0), (3, 2, 1), (3, 1, 1), (5, 2, 2)])
    func maxPoolRoutesToTheFirstMaximumOrTheLastNaN(kernel: Int, stride: Int, padding: Int) throws {
        let (height, width) = (7, 41)
        var values = (0..<(2 * height * width)).map { Float(($0 * 7) % 3) }
        for index in Swift.stride(from: 5, to: values.count, by: 23) { values[index] = .nan }
        let pool = try MaxPool2d(kernelSize: IntPair(kernel, kernel), stride: IntPair(stride, stride), padding: IntPair(padding, padding))
        let input = Tensor(shape: [2, 1, height, width], scalars: values)
        let (output, pullback) = try pool.differentiableForward(input, pass: TrainingPass())
        let (outHeight, outWidth) = (output.shape[2], output.shape[3])
        let gradient = try pullback(Tensor(shape: output.shape, scalars: (0..<output.count).map { Float($0 + 1) }))
        var expected = [Float](repeating: 0, count: values.count)
        for plane in 0..<2 {
            for oh in 0..<outHeight {
                for ow in 0..<outWidth {
                    var winner = -1
                    for ki in 0..<kernel {
                        for kj in 0..<kernel {
                            let (ih, iw) = (oh * stride - padding + ki, ow * stride - padding + kj)
                            guard (0..<height).contains(ih), (0..<width).contains(iw) else { continue }
                            let index = plane * height * width + ih * width + iw
                            if winner < 0 || values[index] > values[winner] || values[index].isNaN { winner = index }
                        }
                    }
                    expected[winner] += Float((plane * outHeight + oh) * outWidth + ow + 1)
                }
            }
        }
        #expect(gradient.scalars == expected)
        let inference = try pool.forward(input)
        #expect(output.shape == inference.shape)
        #expect(zip(output.scalars, inference.scalars).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) })
    }

    /// Dropout's mask cannot be PyTorch's (zoo draws its own), so its rule is checked instead:
    /// the same seed gives the same mask, the kept elements are scaled by 1 / (1 - p) and the
    /// gradient flows exactly through them.
    @Test func dropoutRoutesTheGradientThroughItsSeededMask() throws {
        let dropout = try Dropout(p: 0.25)
        let input = Tensor(shape: [4, 50], scalars: (0..<200).map { Float($0 % 7) + 1 })
        let first = try dropout.differentiableForward(input, pass: TrainingPass(generator: SeededGenerator(seed: 5)))
        let second = try dropout.differentiableForward(input, pass: TrainingPass(generator: SeededGenerator(seed: 5)))
        let other = try dropout.differentiableForward(input, pass: TrainingPass(generator: SeededGenerator(seed: 6)))
        #expect(first.output == second.output)
        #expect(first.output != other.output)
        let gradient = try first.pullback(Tensor(shape: [4, 50], scalars: Array(repeating: 2, count: 200)))
        let (x, y, g) = (input.scalars, first.output.scalars, gradient.scalars)
        let kept = (0..<200).filter { y[$0] != 0 }
        #expect(kept.count > 120 && kept.count < 180, "about 3/4 kept, got \(kept.count)")
        for index in 0..<200 {
            let isKept = y[index] != 0
            #expect(y[index] == (isKept ? x[index] * Float(1 / 0.75) : 0))
            #expect(g[index] == (isKept ? 2 * Float(1 / 0.75) : 0))
        }
        dropout.eval()
        #expect(try dropout.differentiableForward(input, pass: TrainingPass()).output == input)
    }

    /// A training loop's input needs no gradient: the first convolution skips it and gives the
    /// same parameter gradients, while later layers' inputs still get theirs.
    @Test func theFirstConvolutionSkipsTheInputGradientWhenAsked() throws {
        let model = Sequential([try Conv2d(inChannels: 2, outChannels: 3, kernelSize: 3, padding: 1), ReLU()])
        var generator = SeededGenerator(seed: 1)
        try model.resetAllParameters(using: &generator)
        let input = Tensor(shape: [2, 2, 5, 5], scalars: generator.uniform(count: 100, bound: 1))
        let gradient = Tensor(shape: [2, 3, 5, 5], scalars: generator.uniform(count: 150, bound: 1))
        var results: [(input: Tensor, weight: Tensor?)] = []
        for needsInput in [true, false] {
            let pass = TrainingPass()
            pass.needsInputGradient = needsInput
            let (_, pullback) = try model.differentiableForward(input, pass: pass)
            let inputGradient = try pullback(gradient)
            results.append((inputGradient, pass.gradients[model.namedParameters()[0]]))
            #expect(pass.needsInputGradient)
        }
        #expect(results[0].weight == results[1].weight)
        #expect(results[0].input.scalars.contains { $0 != 0 })
        #expect(results[1].input == Tensor(zeros: input.shape))
    }

    @Test func aLayerWithoutABackwardIsNamed() throws {
        let program = NonDifferentiable()
        #expect(throws: NNError.self) { try program.differentiableForward(Tensor(zeros: [1]), pass: TrainingPass()) }
    }

    private func readGroup(_ group: HDF5Group) throws -> [String: Tensor] {
        var values: [String: Tensor] = [:]
        for member in try group.members() { values[member.name] = try group.openDataset(member.name).readTensor() }
        return values
    }
}

/// A layer with a forward and no pullback.
private final class NonDifferentiable: ModuleBase, Layer {
    func forward(_ input: Tensor) throws -> Tensor { input }
    func outputShape(for shape: [Int]) throws -> [Int] { shape }
    func activationBytes(for shape: [Int]) throws -> Int { 0 }
}

/// Expects `actual` within the gradient rule of `expected` (``gradientError(_:_:)``).
func expectGradientClose(_ actual: Tensor, _ expected: Tensor, context: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let (worst, bound) = gradientError(actual, expected)
    #expect(
        worst <= bound, "\(context): max abs error \(worst) exceeds \(bound) (shapes \(actual.shape), \(expected.shape))",
        sourceLocation: sourceLocation)
}
