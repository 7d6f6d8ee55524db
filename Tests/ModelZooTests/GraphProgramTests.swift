import Checkpoint
import Foundation
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
    static let runnable = ["graycnn", "encdec", "own_forward", "small_unet", "pixel_shuffle"]

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
}
