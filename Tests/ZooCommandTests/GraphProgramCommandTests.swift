import Checkpoint
import Foundation
import JSON
import Tensor
import TestSupport
import Testing

/// Issue 17 from the command line, without PyTorch: a program travels .pt2 -> .h5 -> .pt2 and
/// reads back the same; a bare torchvision state_dict runs with its family's preprocess and
/// category names; preprocess and classes given on the command line are used and written.
@Suite("GraphProgramCommands")
struct GraphProgramCommandTests {
    static let fixtures = repositoryRoot.appendingPathComponent("Tests/CheckpointTests/Fixtures/pt2")

    @Test(arguments: ["own_forward", "small_unet", "pixel_shuffle"])
    func aProgramTravelsThroughH5AndBackToPT2(name: String) throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let h5 = folder.appendingPathComponent("\(name).h5").path
        let pt2 = folder.appendingPathComponent("again.pt2").path
        #expect(try zoo("convert", Self.fixtures.appendingPathComponent("\(name).pt2").path, h5).status == 0)
        let written = try zoo("convert", h5, pt2)
        #expect(written.status == 0, "\(written.all)")
        #expect(written.stdout.contains("has no place for zoo's manifest"))
        let original = try CheckpointReader.read(Self.fixtures.appendingPathComponent("\(name).pt2").path)
        let back = try CheckpointReader.read(pt2)
        #expect(back.container == .pt2)
        #expect(back.stateDict == original.stateDict)
        let originalNodes = try JSONValue.parse(try #require(original.programText))["graph_module"]?["graph"]?["nodes"]?.arrayValue?.count
        let backNodes = try JSONValue.parse(try #require(back.programText))["graph_module"]?["graph"]?["nodes"]?.arrayValue?.count
        #expect(originalNodes == backNodes)
        // The archive zoo wrote runs in zoo and gives PyTorch's numbers.
        let input = Self.fixtures.appendingPathComponent("\(name).input.npy").path
        let expect = Self.fixtures.appendingPathComponent("\(name).expect.npy").path
        let verified = try zoo("verify", pt2, "--input", input, "--expect", expect)
        #expect(verified.status == 0, "\(verified.all)")
    }

    /// The example a program was exported with: shown by inspect, run by verify when nothing
    /// better is given (no output of zoo's own is stored as a reference), kept by convert.
    @Test func sampleInputsAreShownRunAndKept() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let pt2 = Self.fixtures.appendingPathComponent("graycnn.pt2").path
        let inspected = try zoo("inspect", pt2)
        #expect(inspected.status == 0, "\(inspected.all)")
        #expect(inspected.stdout.contains("sample inputs: float32 [1, 1, 32, 32]"))
        let verified = try zoo("verify", pt2)
        #expect(verified.status == 0, "\(verified.all)")
        #expect(verified.stdout.contains("sample input 0 [1, 1, 32, 32]: runs, output [1, 10]; no reference output to compare"))
        let h5 = folder.appendingPathComponent("graycnn.h5").path
        #expect(try zoo("convert", pt2, h5).status == 0)
        #expect(try zoo("inspect", h5).stdout.contains("sample inputs: float32 [1, 1, 32, 32]"))
        let converted = try CheckpointReader.read(h5)
        #expect(converted.referenceCases.isEmpty, "zoo's own outputs are never stored as references")
        #expect(converted.sampleInputs == (try CheckpointReader.read(pt2)).sampleInputs)
        let json = try JSONValue.parse(try zoo("verify", h5, "--json").stdout)
        #expect(json["sample_inputs"]?.arrayValue?.first?["output_shape"]?.arrayValue?.compactMap(\.intValue) == [1, 10])
    }

    /// `convert --expect` stores PyTorch's output beside the sample input (or `--input`) once the
    /// model reproduces it; an output it does not reproduce is refused and nothing is written.
    @Test func convertStoresPyTorchsOutputAsAReferenceOnlyWhenTheModelReproducesIt() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let pt2 = Self.fixtures.appendingPathComponent("graycnn.pt2").path
        let expect = Self.fixtures.appendingPathComponent("graycnn.expect.npy").path
        let h5 = folder.appendingPathComponent("graycnn.h5").path
        let converted = try zoo("convert", pt2, h5, "--expect", expect)
        #expect(converted.status == 0, "\(converted.all)")
        #expect(converted.stdout.contains("1 reference vector(s)"))
        let verified = try zoo("verify", h5)
        #expect(verified.status == 0, "\(verified.all)")
        #expect(verified.stdout.contains("forward    __tests__/0: max abs err"))
        let stored = try CheckpointReader.read(h5).referenceCases
        #expect(stored.map(\.output) == [try NumPyFile.read(expect)])

        var wrong = try NumPyFile.read(expect)
        wrong = Tensor(shape: wrong.shape, scalars: wrong.scalars.map { $0 + 0.5 })
        let wrongPath = folder.appendingPathComponent("wrong.npy").path
        try NumPyFile.write(wrong, to: wrongPath)
        let refused = folder.appendingPathComponent("refused.h5").path
        let result = try zoo("convert", pt2, refused, "--expect", wrongPath)
        #expect(result.status == 1, "\(result.all)")
        #expect(result.stderr.contains("does not reproduce the expected output"))
        #expect(!FileManager.default.fileExists(atPath: refused))
        let explicit = try zoo(
            "convert", pt2, folder.appendingPathComponent("explicit.h5").path, "--input",
            Self.fixtures.appendingPathComponent("graycnn.input.npy").path, "--expect", expect)
        #expect(explicit.status == 0, "\(explicit.all)")
    }

    /// A program returning a dict (torchvision's segmentation models): every output named and
    /// written, each equal to PyTorch's.
    @Test func everyOutputOfADictIsNamedAndWritten() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("y.npy").path
        let result = try zoo(
            "run", Self.fixtures.appendingPathComponent("two_heads.pt2").path, "--input",
            Self.fixtures.appendingPathComponent("two_heads.input.npy").path, "--output", output)
        #expect(result.status == 0, "\(result.all)")
        #expect(result.stdout.contains("output 'aux', [2, 3]"), "\(result.stdout)")
        for (name, path) in [("out", output), ("aux", folder.appendingPathComponent("y.aux.npy").path)] {
            let computed = try NumPyFile.read(path)
            let expected = try NumPyFile.read(Self.fixtures.appendingPathComponent("two_heads.expect.\(name).npy").path)
            #expect(computed.shape == expected.shape, "\(name)")
            let worst = zip(computed.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? .infinity
            #expect(worst <= 1e-4 * max(1, expected.scalars.map { abs($0) }.max() ?? 0), "\(name): max abs err \(worst)")
        }
    }

    @Test func aFileWithoutAProgramIsNotWrittenAsPT2() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let target = folder.appendingPathComponent("net.pt2").path
        let result = try zoo("convert", "Zoo/net.h5", target)
        #expect(result.status == 2)
        #expect(result.stderr.contains("carries no program"))
        #expect(!FileManager.default.fileExists(atPath: target))
    }

    /// squeezenet1_1's keys and shapes, zeros for values: recognised, run on a photo with
    /// torchvision's transforms, classes named from ImageNet's categories.
    @Test func aBareTorchvisionStateDictRunsWithItsFamilysPreprocessAndClasses() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let program = try JSONValue.parse(
            try String(
                contentsOf: repositoryRoot.appendingPathComponent("Tests/ModelZooTests/Fixtures/torchvision/squeezenet1_1.shapes.json"),
                encoding: .utf8))
        var state = StateDict()
        for (key, shape) in try #require(program.objectValue).sorted(by: { $0.key < $1.key }) {
            state[key] = Tensor(zeros: (shape.arrayValue ?? []).compactMap { $0.intValue.map { Int($0) } })
        }
        let path = folder.appendingPathComponent("squeezenet1_1.safetensors").path
        try CheckpointWriter.write(state, to: path, format: .safetensors)
        let result = try zoo("run", path, "--image", "Docs/photo.png", "--top", "2")
        #expect(result.status == 0, "\(result.all)")
        #expect(result.stdout.contains("preprocess: torchvision's transforms for SqueezeNet1_1_Weights.IMAGENET1K_V1"))
        #expect(result.stdout.contains("tench"), "zeros give equal scores: the first classes, named")
        let given = try zoo(
            "run", path, "--image", "Docs/photo.png", "--top", "1", "--preprocess",
            #"[{"type": "RGB"}, {"type": "Resize", "size": [64, 64]}, {"type": "ToTensor"}]"#)
        #expect(given.status == 0, "\(given.all)")
        #expect(given.stdout.contains("preprocess: the one given on the command line"))
        let bad = try zoo("run", path, "--image", "Docs/photo.png", "--preprocess", #"[{"type": "Blur"}]"#)
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("Blur"))
    }

    @Test func convertWritesAGivenPreprocessAndClasses() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let classes = folder.appendingPathComponent("classes.txt")
        try (0..<10).map { "digit \($0)" }.joined(separator: "\n").write(to: classes, atomically: true, encoding: .utf8)
        let target = folder.appendingPathComponent("digits.h5").path
        let result = try zoo(
            "convert", "Zoo/net.h5", target, "--classes", classes.path, "--preprocess",
            #"[{"type": "Grayscale", "num_output_channels": 1}, {"type": "Resize", "size": [28, 28]}, {"type": "ToTensor"}]"#)
        #expect(result.status == 0, "\(result.all)")
        let manifest = try #require(try CheckpointReader.read(target).manifest)
        #expect(manifest.classes?.last == "digit 9")
        #expect(manifest.preprocess?.arrayValue?.count == 3)
        let refused = try zoo(
            "convert", "Zoo/net.h5", target, "--preprocess", #"[{"type": "Resize", "size": [28, 28], "interpolation": "lanczos"}]"#)
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("interpolation"))
    }
}
