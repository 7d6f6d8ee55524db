import Checkpoint
import Foundation
import JSON
import ModelZoo
import NN
import Tensor
import TestSupport
import Testing

/// torch.export programs run with no Swift code: each runnable fixture's output equals PyTorch's
/// (Tools/make_pt2_fixtures.py) within 1e-4 x max(1, max |y|), and what zoo cannot run is named.
@Suite("GraphPrograms")
struct GraphProgramTests {
    static let folder = repositoryRoot.appendingPathComponent("Tests/CheckpointTests/Fixtures/pt2")
    static let runnable = ["graycnn", "encdec", "own_forward", "small_unet", "pixel_shuffle", "dense_concat"]

    @Test(arguments: runnable)
    func theProgramGivesPyTorchsOutput(name: String) throws {
        let model = try ZooModel(contentsOf: Self.folder.appendingPathComponent(name + ".pt2").path)
        #expect(model.resolved.source == .program)
        let input = try NumPyFile.read(Self.folder.appendingPathComponent(name + ".input.npy").path)
        let expected = try NumPyFile.read(Self.folder.appendingPathComponent(name + ".expect.npy").path)
        let output = try model(input)
        #expect(output.shape == expected.shape)
        let scale = max(1, expected.scalars.map { abs($0) }.max() ?? 0)
        let worst = zip(output.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-4 * scale, "\(name): max abs err \(worst)")
    }

    /// Activations held in oneDNN's blocked layout between the layers that read it give the
    /// outputs of the run on plain tensors alone, within the parity rule.
    @Test(arguments: runnable)
    func blockedLayoutsGiveThePlainRunsOutput(name: String) throws {
        let model = try ZooModel(contentsOf: Self.folder.appendingPathComponent(name + ".pt2").path)
        let graph = try #require(model.resolved.model as? GraphModule)
        let input = try NumPyFile.read(Self.folder.appendingPathComponent(name + ".input.npy").path)
        #expect(graph.keepsBlockedLayouts)
        let blocked = try model(input)
        graph.keepsBlockedLayouts = false
        let plain = try model(input)
        #expect(blocked.shape == plain.shape)
        let scale = max(1, plain.scalars.map { abs($0) }.max() ?? 0)
        let worst = zip(blocked.scalars, plain.scalars).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-4 * scale, "\(name): max abs err \(worst)")
    }

    /// A program run once keeps its weights and recorded shapes between passes; weights loaded
    /// after that pass are the ones the next pass runs on, as in a module that never ran.
    @Test(arguments: ["encdec", "own_forward"])
    func newWeightsAreTheNextPasssWeights(name: String) throws {
        let model = try ZooModel(contentsOf: Self.folder.appendingPathComponent(name + ".pt2").path)
        let graph = try #require(model.resolved.model as? GraphModule)
        let input = try NumPyFile.read(Self.folder.appendingPathComponent(name + ".input.npy").path)
        let before = try model(input)
        var doubled = StateDict()
        for (key, tensor) in graph.stateDict() {
            doubled[key] =
                tensor.dtype == .float32 && key.hasSuffix("weight")
                ? Tensor(shape: tensor.shape, scalars: tensor.scalars.map { $0 * 2 }) : tensor
        }
        _ = try graph.load(doubled)
        let after = try model(input)
        let fresh = try GraphModule(program: graph.program)
        _ = try fresh.load(doubled)
        fresh.eval()
        let expected = try fresh(input)
        #expect(after.scalars == expected.scalars, "the second pass must run on the new weights")
        #expect(after.scalars != before.scalars)
    }

    @Test(arguments: runnable)
    func theProgramsShapeRuleAgreesAndOtherShapesAreRefused(name: String) throws {
        let model = try ZooModel(contentsOf: Self.folder.appendingPathComponent(name + ".pt2").path)
        let input = try NumPyFile.read(Self.folder.appendingPathComponent(name + ".input.npy").path)
        #expect(try model.resolved.model.outputShape(for: input.shape) == model(input).shape)
        #expect(throws: NNError.self) { try model.resolved.model.outputShape(for: [7] + input.shape.dropFirst()) }
    }

    /// Converted to zoo's formats, the program travels in the manifest (without the stack traces
    /// that name the exporting machine's files) and runs from the converted file alone.
    @Test(arguments: ["own_forward.h5", "own_forward.safetensors", "small_unet.h5", "small_unet.safetensors"])
    func theProgramTravelsInZoosFormats(target: String) throws {
        let name = String(target.prefix { $0 != "." })
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = try CheckpointReader.read(Self.folder.appendingPathComponent(name + ".pt2").path)
        let path = folder.appendingPathComponent(target).path
        _ = try Converter.convert(source, to: path)
        let converted = try ZooModel(contentsOf: path)
        #expect(converted.resolved.source == .program)
        #expect(converted.checkpoint.manifestText?.contains("stack_trace") == false)
        #expect(converted.checkpoint.manifestText?.contains("torch_export_program") == true)
        let input = try NumPyFile.read(Self.folder.appendingPathComponent(name + ".input.npy").path)
        let expected = try NumPyFile.read(Self.folder.appendingPathComponent(name + ".expect.npy").path)
        let worst = zip(try converted(input).scalars, expected.scalars).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-4 * max(1, expected.scalars.map { abs($0) }.max() ?? 0), "\(target): max abs err \(worst)")
    }

    /// The README's list of operators is the table's, not written by hand apart from it.
    @Test func theReadmeListsExactlyTheOperatorsZooRuns() throws {
        let readme = try String(contentsOf: repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let start = try #require(readme.range(of: "<!-- operators: GraphModule.supportedOperators -->\n"))
        let end = try #require(readme.range(of: "\n<!-- end of operators -->", range: start.upperBound..<readme.endIndex))
        let listed = readme[start.upperBound..<end.lowerBound].split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespacesAndNewlines).trimmingCharacters(in: CharacterSet(charactersIn: "`"))
        }
        #expect(listed == GraphModule.supportedOperators)
    }

    @Test func anOperatorZooLacksIsNamedWithItsNode() throws {
        let path = Self.folder.appendingPathComponent("unsupported_operator.pt2").path
        #expect {
            try ZooModel(contentsOf: path)
        } throws: { error in
            guard case ZooModelError.noModel(_, let underlying) = error,
                case NNError.unsupportedOperator(let target, let node) = underlying
            else { return false }
            return target == "aten.pixel_unshuffle.default" && node == "pixel_unshuffle"
        }
        // The archive itself still reads: its weights and operators are there to inspect.
        let checkpoint = try CheckpointReader.read(path)
        #expect(checkpoint.metadata["program_operators"]?.contains("aten.pixel_unshuffle.default x1") == true)
        #expect(Verifier.verify(files: [path], reading: .inProcess).worstStatus == .cannotRun)
    }

    /// own_forward's program, edited: what zoo must refuse with a message naming the node or value.
    static func editedProgram(_ edit: (inout [JSONValue]) -> Void) throws -> ExportedProgram {
        let checkpoint = try CheckpointReader.read(folder.appendingPathComponent("own_forward.pt2").path)
        guard case .object(var root) = try JSONValue.parse(try #require(checkpoint.programText)),
            case .object(var module)? = root["graph_module"], case .object(var graph)? = module["graph"],
            case .array(var nodes)? = graph["nodes"]
        else { throw NNError.invalidProgram(reason: "fixture") }
        edit(&nodes)
        graph["nodes"] = .array(nodes)
        module["graph"] = .object(graph)
        root["graph_module"] = .object(module)
        return try ExportedProgram(json: .object(root))
    }

    static func renamingInput(of node: JSONValue, to name: String) -> JSONValue {
        guard case .object(var fields) = node, case .array(var inputs)? = fields["inputs"], case .object(var first) = inputs[0] else {
            return node
        }
        first["arg"] = .object(["as_tensor": .object(["name": .string(name)])])
        inputs[0] = .object(first)
        fields["inputs"] = .array(inputs)
        return .object(fields)
    }

    @Test func aValueNothingComputesIsNamed() throws {
        let program = try Self.editedProgram { nodes in nodes[3] = Self.renamingInput(of: nodes[3], to: "no_such_value") }
        #expect {
            try GraphModule(program: program)
        } throws: { error in "\(error)".contains("'no_such_value', which nothing in the program computes") }
    }

    @Test func aNodeThatUsesALaterOneIsACycle() throws {
        var later = ""
        let program = try Self.editedProgram { nodes in
            later = nodes[5]["outputs"]?.arrayValue?.first?["as_tensor"]?["name"]?.stringValue ?? ""
            nodes[2] = Self.renamingInput(of: nodes[2], to: later)
        }
        #expect(!later.isEmpty)
        #expect {
            try GraphModule(program: program)
        } throws: { error in "\(error)".contains("uses '\(later)' before it is computed (a cycle)") }
    }

    @Test func shapesThatDoNotFollowFromTheInputAreRefusedAtTheirNode() throws {
        let checkpoint = try CheckpointReader.read(Self.folder.appendingPathComponent("own_forward.pt2").path)
        var program = try ExportedProgram(json: try JSONValue.parse(try #require(checkpoint.programText)))
        let node = try #require(program.nodes.first { $0.target == "aten.max_pool2d.default" })
        let output = try #require(node.outputs.first)
        program.shapes[output] = (program.shapes[output] ?? []).map { size in
            if case .constant(let value) = size { .constant(value + 1) } else { size }
        }
        let model = try GraphModule(program: program)
        try model.load(checkpoint.stateDict, modelName: "own_forward")
        model.eval()
        let input = try NumPyFile.read(Self.folder.appendingPathComponent("own_forward.input.npy").path)
        #expect {
            try model(input)
        } throws: { error in "\(error)".contains("node '\(node.name)'") && "\(error)".contains("where the program records") }
    }
}
