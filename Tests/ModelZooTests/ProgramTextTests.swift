import Checkpoint
import Foundation
import JSON
import ModelZoo
import NN
import TestSupport
import Testing

/// A program parsed from its text for what zoo reads of it (`ExportedProgram(text:)`, which
/// `zoo verify` and `zoo run` use on `.pt2` files) is the program the whole tree gives.
@Suite("ProgramText")
struct ProgramTextTests {
    static let folder = repositoryRoot.appendingPathComponent("Tests/CheckpointTests/Fixtures/pt2")

    static let names = ["graycnn", "encdec", "own_forward", "small_unet", "pixel_shuffle", "two_heads", "unsupported_operator"]

    @Test(arguments: names)
    func thePrunedParseIsTheWholeParsesProgram(name: String) throws {
        let checkpoint = try CheckpointReader.read(Self.folder.appendingPathComponent(name + ".pt2").path)
        let text = try #require(checkpoint.programText)
        let pruned = try ExportedProgram(text: text)
        let whole = try ExportedProgram(json: try JSONValue.parse(text))
        Self.expectEqual(pruned, whole)
    }

    /// `zoo verify`'s read (`FileReading.checkpointAndProgram(at:)`, in-process and through the
    /// reading child, whose program comes back in a file of its own) parses the program before
    /// the tensors and lets its text go: the same program as the whole tree's, the same tensors.
    @Test(arguments: names)
    func theProgramParsedAsTheFileIsReadIsTheWholeParsesProgram(name: String) throws {
        let path = Self.folder.appendingPathComponent(name + ".pt2").path
        let plain = try CheckpointReader.read(path)
        let whole = try ExportedProgram(json: try JSONValue.parse(try #require(plain.programText)))
        for reading in [FileReading.inProcess, .contained(reader: zooExecutable)] {
            let (checkpoint, parsed) = try reading.checkpointAndProgram(at: path)
            Self.expectEqual(try #require(parsed).get(), whole)
            #expect(checkpoint.programText == nil, "\(reading)")
            #expect(checkpoint.stateDict == plain.stateDict, "\(reading)")
            #expect(checkpoint.metadata == plain.metadata, "\(reading)")
        }
        // Read as before, the text itself comes back from the child, byte for byte.
        #expect(try FileReading.contained(reader: zooExecutable).checkpoint(at: path).programText == plain.programText)
    }

    /// What is wrong with an input spec or a recorded size is the same error from the records
    /// handed on as from the whole tree, and so is a program that is not JSON.
    @Test func aFaultyRecordIsTheSameErrorEitherWay() throws {
        let text = try #require(try CheckpointReader.read(Self.folder.appendingPathComponent("graycnn.pt2").path).programText)
        let edits = [
            // An input of a kind zoo does not run.
            (#""parameter": {"arg""#, #""constant_input": {"arg""#),
            // A size that is neither an integer nor an expression.
            (#""sizes": [{"as_int""#, #""sizes": [{"as_float""#),
        ]
        for (from, to) in edits {
            let range = try #require(text.range(of: from), "\(from)")
            let edited = text.replacingCharacters(in: range, with: to)
            let whole = #expect(throws: NNError.self) { try ExportedProgram(json: try JSONValue.parse(edited)) }
            let pruned = #expect(throws: NNError.self) { try ExportedProgram(text: edited) }
            #expect("\(String(describing: pruned))" == "\(String(describing: whole))", "\(from)")
        }
        let broken = String(text.dropLast(2))
        let whole = #expect(throws: JSONParseError.self) { try ExportedProgram(json: try JSONValue.parse(broken)) }
        let pruned = #expect(throws: JSONParseError.self) { try ExportedProgram(text: broken) }
        #expect(pruned == whole)
    }

    static func expectEqual(_ pruned: ExportedProgram, _ whole: ExportedProgram) {
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
