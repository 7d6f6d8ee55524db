import Checkpoint
import Foundation
import HDF5
import JSON
import NN
import Tensor
import Testing

/// Every layer case PyTorch computed in Tools/make_layer_fixtures.py, run through our layer
/// built from the same model_config entry. Float32 results must agree to a max abs error of
/// 1e-5 x max(1, max|y|).
struct LayerParityTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/layers.h5").path

    static let casePaths: [String] = {
        guard let root = try? HDF5File.openReadOnly(fixture).rootGroup(),
            let groups = try? root.members()
        else { return [] }
        return groups.flatMap { group -> [String] in
            let cases = (try? root.openGroup(group.name).members()) ?? []
            return cases.map { "\(group.name)/\($0.name)" }
        }
    }()

    @Test func sweepIsPresent() {
        #expect(Self.casePaths.count > 60)
        for type in [
            "Conv2d", "ConvTranspose2d", "MaxPool2d", "AvgPool2d", "AdaptivePool2d", "BatchNorm2d", "Linear", "Elementwise", "Upsample",
        ] {
            #expect(Self.casePaths.contains { $0.hasPrefix(type + "/") }, "no \(type) cases")
        }
    }

    @Test(arguments: casePaths)
    func matchesPyTorch(casePath: String) throws {
        try check(casePath, usingOneDNN: true)
    }

    /// The convolutions again on zoo's own kernels, which run whatever oneDNN declines.
    @Test(arguments: casePaths.filter { $0.hasPrefix("Conv2d/") || $0.hasPrefix("ConvTranspose2d/") })
    func convolutionsMatchPyTorchOnZoosOwnKernels(casePath: String) throws {
        try check(casePath, usingOneDNN: false)
    }

    private func check(_ casePath: String, usingOneDNN: Bool) throws {
        let root = try HDF5File.openReadOnly(Self.fixture).rootGroup()
        let parts = casePath.split(separator: "/").map(String.init)
        let group = try root.openGroup(parts[0]).openGroup(parts[1])
        let config = try JSONValue.parse(try #require(try group.stringAttribute("config")))
        let model = try ModelConfig.build(.object(["layers": .array([config])]))
        let state = try readState(group.openGroup("state"))
        try model.load(StateDict(state.sorted { $0.key < $1.key }.map { ("0." + $0.key, $0.value) }))
        let expectedKeys = Set(model.stateDict().map(\.key).map { String($0.dropFirst(2)) })
        #expect(expectedKeys == Set(state.keys), "state keys")
        let training = try group.stringAttribute("mode") == "train"
        model.train(training)
        for case let layer as any ConvolutionKernelChoosing in model.modules { layer.kernels.usesOneDNN = usingOneDNN }

        var step = 0
        let names = Set(try group.members().map(\.name))
        while names.contains("input_\(step)") {
            let input = try group.openDataset("input_\(step)").readTensor()
            let expected = try group.openDataset("output_\(step)").readTensor()
            let actual = try model(input)
            expectClose(actual, expected, context: "\(casePath) step \(step)")
            step += 1
        }
        #expect(step > 0)
        if names.contains("state_after") {
            let after = try readState(group.openGroup("state_after"))
            for (key, tensor) in model.stateDict() {
                let name = String(key.dropFirst(2))
                let expected = try #require(after[name])
                if tensor.dtype == .int64 {
                    #expect(tensor == expected, "\(casePath) \(name) after training")
                } else {
                    expectClose(tensor, expected, context: "\(casePath) \(name) after training")
                }
            }
        }
    }

    private func readState(_ group: HDF5Group) throws -> [String: Tensor] {
        var state: [String: Tensor] = [:]
        for member in try group.members() {
            state[member.name] = try group.openDataset(member.name).readTensor()
        }
        return state
    }
}

/// The parity rule: max |actual - expected| <= 1e-5 x max(1, max |expected|), shapes equal.
func expectClose(_ actual: Tensor, _ expected: Tensor, context: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.shape == expected.shape, "\(context): shape", sourceLocation: sourceLocation)
    guard actual.shape == expected.shape else { return }
    let a = actual.scalars
    let e = expected.scalars
    var worst: Float = 0
    var largest: Float = 0
    for index in 0..<a.count {
        worst = max(worst, abs(a[index] - e[index]))
        largest = max(largest, abs(e[index]))
        if a[index].isNaN != e[index].isNaN { worst = .infinity }
    }
    let bound = 1e-5 * max(1, largest)
    print("parity \(context): max_abs_err=\(worst) bound=\(bound) ratio=\(worst / bound)")
    #expect(worst <= bound, "\(context): max abs error \(worst) exceeds \(bound)", sourceLocation: sourceLocation)
}
