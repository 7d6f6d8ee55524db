import Checkpoint
import Foundation
import JSON
import Pictures
import Tensor
import TestSupport
import Testing

@testable import ModelZoo
@testable import NN

/// The torchvision families zoo ships programs for (Tools/make_torchvision_programs.py): each
/// program, and the same program after `run_decompositions()`, gives PyTorch's eager output on
/// fresh weights, for a batch of 2 at a picture size other than the exported one, within
/// 1e-4 x max(1, max |y|); and a bare state_dict is recognised as its family by keys and shapes.
@Suite("TorchvisionFamilies")
struct TorchvisionFamilyTests {
    static let folder = repositoryRoot.appendingPathComponent("Tests/ModelZooTests/Fixtures/torchvision")
    static let families: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(".expect.npy") }.map { String($0.dropLast(".expect.npy".count)) }.sorted()
    }()

    enum Form: String, CaseIterable { case exported, decomposed }

    @Test func everyListedFamilyHasItsFixture() {
        let required = [
            "alexnet", "vgg11_bn", "resnet50", "resnext50_32x4d", "wide_resnet50_2", "squeezenet1_1", "densenet121", "googlenet",
            "inception_v3", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large", "mnasnet0_5", "shufflenet_v2_x0_5",
            "efficientnet_b0", "efficientnet_v2_s", "regnet_y_400mf", "convnext_tiny", "fcn_resnet50", "lraspp_mobilenet_v3_large",
        ]
        #expect(Set(required).subtracting(Self.families).isEmpty, "missing: \(Set(required).subtracting(Self.families).sorted())")
        #expect(Set(required).subtracting(TorchvisionFamily.names).isEmpty)
    }

    /// Every family's pictures go through its weights' own transforms, none refused:
    /// efficientnet_b0's resize bicubic, the others bilinear.
    @Test func everyFamilysPreprocessIsApplied() throws {
        let catalogue = try TorchvisionCatalogue.shared()
        #expect(catalogue.families["efficientnet_b0"] != nil)
        for (name, entry) in catalogue.families.sorted(by: { $0.key < $1.key }) {
            let steps = try Preprocess(json: entry.preprocess).steps
            guard case .resize(let shorter?, nil, nil, let interpolation) = steps.first else {
                Issue.record("\(name): the preprocess does not start with Resize(size): \(steps)")
                continue
            }
            #expect(shorter > 0)
            #expect(interpolation == (name == "efficientnet_b0" ? .bicubic : .bilinear), "\(name)")
        }
    }

    @Test(arguments: families, Form.allCases)
    func theFamilyProgramGivesPyTorchsOutput(family: String, form: Form) throws {
        let program: ExportedProgram
        switch form {
        case .exported: program = try TorchvisionFamily.named(family).program
        case .decomposed:
            let text = try TorchvisionCatalogue.member(family + ".json", in: Self.folder.appendingPathComponent("decomposed.zip").path)
            program = try ExportedProgram(json: try JSONValue.parse(text))
        }
        let model = try GraphModule(program: program)
        try model.load(Self.deterministicState(for: program), modelName: family)
        model.eval()
        let size = try Self.testSize(of: family)
        let input = Tensor(shape: [2, 3, size, size], scalars: Self.deterministic(2 * 3 * size * size, seed: 999_999))
        let expected = try NumPyFile.read(Self.folder.appendingPathComponent(family + ".expect.npy").path)
        let output = try model(input)
        #expect(output.shape == expected.shape)
        let scale = max(1, expected.scalars.map { abs($0) }.max() ?? 0)
        let worst = zip(output.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-4 * scale, "\(family) \(form): max abs err \(worst) (scale \(scale))")
    }

    /// One sample alone gives PyTorch's first row: DenseNet's blocks lay one sample's growing
    /// concatenations out once (GraphLayoutValues.growingConcatenation) where zoo's normalized
    /// 1x1 kernel does not read their parts in place, a path a batch of two does not take; mobilenet_v2's fused expansion-depthwise kernels and efficientnet_b0's
    /// squeeze-and-excitation products run at batch 1 too, and each node resolved for batch 1
    /// then meets batch 2.
    @Test(arguments: ["densenet121", "mobilenet_v2", "efficientnet_b0"])
    func oneSampleGivesPyTorchsFirstRow(family: String) throws {
        let program = try TorchvisionFamily.named(family).program
        if family == "densenet121" && !BlockedNormalizedPointwise.runs {
            let growing = GraphFusion.plan(program).nodes.filter {
                $0.argument(GraphFusion.channelCapacityArgument, at: GraphFusion.byName) != nil
            }
            #expect(growing.count > 50, "DenseNet's concatenations should grow in place (\(growing.count) do)")
        }
        let model = try GraphModule(program: program)
        try model.load(Self.deterministicState(for: program), modelName: family)
        model.eval()
        let size = try Self.testSize(of: family)
        let input = Tensor(
            shape: [1, 3, size, size], scalars: Array(Self.deterministic(2 * 3 * size * size, seed: 999_999)[..<(3 * size * size)]))
        let expected = try NumPyFile.read(Self.folder.appendingPathComponent(family + ".expect.npy").path)
        let row = expected.count / expected.shape[0]
        let output = try model(input)
        #expect(output.shape == [1] + expected.shape.dropFirst())
        let scale = max(1, expected.scalars.map { abs($0) }.max() ?? 0)
        let worst = zip(output.scalars, expected.scalars[..<row]).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-4 * scale, "\(family) one sample: max abs err \(worst) (scale \(scale))")
        // A second pass runs the nodes the first one prepared: the same output, to the bit
        // (efficientnet_b0's 16 squeeze-and-excitation poolings and its last pooling then read
        // the means its SiLU passes took).
        #expect(try model(input).scalars == output.scalars, "\(family): the prepared second pass differs from the first")
        #expect(model.preparedConvolutionsKeepingChannelMeans == (family == "efficientnet_b0" ? 17 : 0))
        // The same module then at batch 2 (each node resolved for batch 1 meets another shape),
        // and on plain tensors alone (a fused pointwise-depthwise node's two convolutions apart).
        let both = Tensor(shape: [2, 3, size, size], scalars: Self.deterministic(2 * 3 * size * size, seed: 999_999))
        for blocked in [true, false] {
            model.keepsBlockedLayouts = blocked
            let output = try model(both)
            let worst = zip(output.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? .infinity
            #expect(output.shape == expected.shape)
            #expect(worst <= 1e-4 * scale, "\(family) two samples after one, blocked \(blocked): max abs err \(worst)")
        }
    }

    /// mobilenet_v2's 16 expansions (1x1, ReLU6) and the depthwise 3x3 convolutions reading them
    /// are fused into one node each, and on a blocked input the node runs as one call (of zoo's
    /// row-by-row kernel where zoo's depthwise kernel runs vector code, else of oneDNN's, its
    /// depthwise post-op) that gives what the two convolutions give one after the other (whose
    /// pass is PyTorch's: the tests above), at batch 1 and 2, stride 1 and 2.
    @Test func mobileNetsExpansionAndDepthwiseRunAsOneCall() throws {
        let program = try TorchvisionFamily.named("mobilenet_v2").program
        let pairs = GraphFusion.plan(program).nodes.filter { $0.target == GraphPointwiseDepthwise.target }
        #expect(pairs.count == 16)
        let state = try Self.deterministicState(for: program)
        var values: [String: Tensor] = [:]
        for input in program.stateInputs { values[input.argument] = state[input.stateName] }
        var strides = Set<Int>()
        for node in pairs {
            let call = GraphCall(node: node, values: GraphLayoutValues([:], state: values), stateNames: [:], cached: nil)
            let layer = try PointwiseDepthwiseLayer(call)
            layer.eval()
            strides.insert(layer.depthwise.stride.height)
            let vectorised = BlockedDepthwise(
                weight: layer.depthwise.weight.scalars, bias: nil, channels: layer.depthwise.inChannels, kernel: 3,
                stride: layer.depthwise.stride.height, padding: 1, activation: nil)?.runsVectorised
            #expect(layer.runsOnZoosKernel == (vectorised ?? false), "\(node.name)")
            for batch in [1, 2] {
                let shape = [batch, layer.pointwise.inChannels, 14, 14]
                let input = Tensor(shape: shape, scalars: Self.deterministic(shape.reduce(1, *), seed: batch))
                let fused = try #require(layer.fused(try BlockedActivation.blocked(input)), "\(node.name): the fused kernel declined")
                let separate = try layer.forward(input)
                let output = try fused.plain()
                #expect(output.shape == separate.shape)
                let scale = max(1, separate.scalars.map { abs($0) }.max() ?? 0)
                let worst = zip(output.scalars, separate.scalars).map { abs($0 - $1) }.max() ?? .infinity
                #expect(worst <= 1e-5 * scale, "\(node.name) batch \(batch): max abs err \(worst) (scale \(scale))")
            }
        }
        #expect(strides == [1, 2])
    }

    /// efficientnet_b0's 15 expansions (1x1, SiLU) fuse with the 3x3 and 5x5 depthwise
    /// convolutions reading them where zoo's kernel runs them (AVX-512), and only there: oneDNN's
    /// fused primitive has neither a 5x5 depthwise post-op nor, in zoo, a SiLU before one. Its
    /// squeeze-and-excitation scales fuse with their projections.
    @Test func efficientNetsExpansionsFuseWhereZoosKernelRuns() throws {
        let program = try TorchvisionFamily.named("efficientnet_b0").program
        let pairs = GraphFusion.plan(program).nodes.filter { $0.target == GraphPointwiseDepthwise.target }
        let runs = BlockedPointwiseDepthwise.runs(kernel: 5, stride: 2) && BlockedPointwiseDepthwise.runs(kernel: 3, stride: 1)
        #expect(pairs.count == (runs ? 15 : 0))
        // Each of the 16 squeeze-and-excitation scales is read by its projection alone (9 of them
        // with a residual): one node where zoo's kernel runs.
        let scaled = GraphFusion.plan(program).nodes.filter { $0.target == GraphScaledPointwise.target }
        #expect(scaled.count == (BlockedNormalizedPointwise.runs ? 16 : 0))
        #expect(
            scaled.count { $0.argument("convolution_residual", at: GraphFusion.byName) != nil } == (BlockedNormalizedPointwise.runs ? 9 : 0)
        )
    }

    /// densenet121's 58 layers and 3 transitions normalize their input (BatchNorm, ReLU) for a
    /// 1x1 convolution alone: each pair is one node where zoo's kernel runs it (AVX-512), and
    /// only there.
    @Test func denseNetsNormalizationsFuseWithTheirConvolutionsWhereZoosKernelRuns() throws {
        let program = try TorchvisionFamily.named("densenet121").program
        let nodes = GraphFusion.plan(program).nodes
        let pairs = nodes.filter { $0.target == GraphNormalizedPointwise.target }
        #expect(pairs.count == (BlockedNormalizedPointwise.runs ? 61 : 0))
        // Each pair reads the concatenation before it as its parts (58 layers, each block's first
        // one a concatenation of one value, and 3 transitions): only the last block's final one,
        // which norm5 reads, is made.
        let readingParts = pairs.filter { if case .tensors? = $0.argument("input", at: 0) { true } else { false } }
        #expect(readingParts.count == pairs.count)
        #expect(nodes.count { $0.target == "aten.cat.default" } == (BlockedNormalizedPointwise.runs ? 1 : 62))
    }

    @Test(arguments: families)
    func aBareStateDictIsRecognisedAsItsFamily(family: String) throws {
        let program = try TorchvisionFamily.named(family).program
        // Recognition reads keys and shapes only: zeros do.
        var state = StateDict()
        for input in program.stateInputs {
            state[input.stateName] = Tensor(
                zeros: program.stateShape(of: input.argument) ?? [], dtype: program.dtypes[input.argument] ?? .float32)
        }
        #expect(try TorchvisionFamily.recognise(state)?.name == family)
        // One shape off (a head fine-tuned to other classes) is not the family.
        let head = try #require(state.keys.last { !(state[$0]?.shape.isEmpty ?? true) })
        var changed = StateDict()
        for (key, tensor) in state {
            changed[key] = key == head ? Tensor(zeros: tensor.shape.map { $0 + 1 }, dtype: tensor.dtype) : tensor
        }
        #expect(try TorchvisionFamily.recognise(changed) == nil)
    }

    /// The twin of `deterministic` in Tools/make_torchvision_programs.py: integer arithmetic, so
    /// both compute the same float32 bits.
    static func deterministic(_ count: Int, seed: Int) -> [Float] {
        // A plain loop into the buffer: tests run unoptimised, and the families hold ~700M values.
        [Float](unsafeUninitializedCapacity: count) { buffer, initialised in
            let offset = UInt64(seed * 40503 + 12345)
            var index: UInt64 = 0
            while index < UInt64(count) {
                let hashed = (index &* 2_654_435_761 &+ offset) & 0xFFFF_FFFF
                buffer[Int(index)] = Float(Int64(hashed % 2001) - 1000) / 1000
                index += 1
            }
            initialised = count
        }
    }

    /// Every parameter and buffer as the generator's `fill` makes it, seeded by its rank in the
    /// sorted keys.
    static func deterministicState(for program: ExportedProgram) throws -> StateDict {
        let shapes = Dictionary(uniqueKeysWithValues: program.stateInputs.map { ($0.stateName, program.stateShape(of: $0.argument) ?? []) })
        let dtypes = Dictionary(uniqueKeysWithValues: program.stateInputs.map { ($0.stateName, program.dtypes[$0.argument] ?? .float32) })
        var state = StateDict()
        for (seed, name) in shapes.keys.sorted().enumerated() {
            let shape = shapes[name] ?? []
            if dtypes[name] == .int64 {
                state[name] = Tensor(zeros: shape, dtype: .int64)
                continue
            }
            let u = deterministic(shape.reduce(1, *), seed: seed)
            let values: [Float]
            if name.hasSuffix("running_var") {
                values = u.map { Float(1) + Float(0.5) * abs($0) }
            } else if shape.count >= 2 {
                let scale = Float(1.0 / Double(shape.dropFirst().reduce(1, *)).squareRoot())
                values = u.map { $0 * scale }
            } else if name.hasSuffix("weight") {
                values = u.map { Float(1) + Float(0.1) * $0 }
            } else {
                values = u.map { Float(0.1) * $0 }
            }
            state[name] = Tensor(shape: shape, scalars: values)
        }
        return state
    }

    static func testSize(of family: String) throws -> Int {
        let index = try JSONValue.parse(try TorchvisionCatalogue.member("families.json", in: TorchvisionCatalogue.shared().archivePath))
        return try #require(index["families"]?[family]?["test_size"]?.intValue)
    }
}
