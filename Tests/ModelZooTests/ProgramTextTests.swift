import Checkpoint
import Foundation
import JSON
import NN
import TestSupport
import Testing

/// A program parsed from its text for what zoo reads of it (`ExportedProgram(text:)`, which
/// `zoo verify` and `zoo run` use on `.pt2` files) is the program the whole tree gives.
@Suite("ProgramText")
struct ProgramTextTests {
    static let folder = repositoryRoot.appendingPathComponent("Tests/CheckpointTests/Fixtures/pt2")

    @Test(arguments: ["graycnn", "encdec", "own_forward", "small_unet", "pixel_shuffle", "two_heads", "unsupported_operator"])
    func thePrunedParseIsTheWholeParsesProgram(name: String) throws {
        let checkpoint = try CheckpointReader.read(Self.folder.appendingPathComponent(name + ".pt2").path)
        let text = try #require(checkpoint.programText)
        let pruned = try ExportedProgram(text: text)
        let whole = try ExportedProgram(json: try JSONValue.parse(text))
        #expect(pruned.nodes.map { "\($0)" } == whole.nodes.map { "\($0)" })
        #expect(pruned.stateInputs.map { "\($0)" } == whole.stateInputs.map { "\($0)" })
        #expect(pruned.userInputs == whole.userInputs && pruned.outputs == whole.outputs)
        #expect(pruned.shapes.mapValues { "\($0)" } == whole.shapes.mapValues { "\($0)" })
        #expect(pruned.dtypes == whole.dtypes)
        #expect(pruned.symbolicIntegers.mapValues { "\($0)" } == whole.symbolicIntegers.mapValues { "\($0)" })
        #expect(pruned.exampleInputShape == whole.exampleInputShape && pruned.outputNames == whole.outputNames)
        #expect(pruned.sizeRanges == whole.sizeRanges)
        #expect(!pruned.nodes.isEmpty && !pruned.shapes.isEmpty)
    }
}
