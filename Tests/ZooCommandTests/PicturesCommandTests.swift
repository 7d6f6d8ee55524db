import Checkpoint
import Foundation
import JSON
import Pictures
import Tensor
import TestSupport
import Testing

/// The seeds' jobs from the command line: classify a digit, find the edges in a photo, see a
/// reconstruction; trained checkpoints that prove their accuracy.
@Suite("PicturesCommand")
struct PicturesCommandTests {
    static let pictures = Fixtures("PicturesTests")

    @Test func digitIsClassifiedWithItsClassName() throws {
        let result = try zoo("run", "Zoo/digits.h5", "--image", "Docs/digit.png", "--top", "3", "--json")
        #expect(result.status == 0, "\(result.all)")
        let predictions = try #require(try JSONValue.parse(result.stdout).arrayValue)
        #expect(predictions.count == 1)
        #expect(predictions[0]["image"] == .string("Docs/digit.png"))
        let top = try #require(predictions[0]["top"]?.arrayValue)
        #expect(top.count == 3)
        #expect(top[0]["class"] == .string("7"))
        #expect(top[0]["index"] == .int(7))
        #expect((top[0]["probability"]?.doubleValue ?? 0) > 0.9)
        let total = top.compactMap { $0["probability"]?.doubleValue }.reduce(0, +)
        #expect(total <= 1.0 + 1e-9)
    }

    @Test func severalPicturesRunAsOneBatchAndNameTheirOutputs() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("out.png").path
        let result = try zoo(
            "run", "Zoo/digits_autoencoder.h5", "--image", "Docs/digit.png", "--image", Self.pictures.path("grey.png"),
            "--output-image", output, "--scale", "unit")
        #expect(result.status == 0, "\(result.all)")
        for index in 0..<2 {
            let picture = try PictureFile.read(folder.appendingPathComponent("out-\(index).png").path)
            #expect(picture.mode == .L)
            #expect(picture.width == 32 && picture.height == 32)
        }
    }

    @Test func edgesMatchSeed001AsPyTorchRunsIt() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let array = folder.appendingPathComponent("edges.npy").path
        let picture = folder.appendingPathComponent("edges.png").path
        let result = try zoo("run", "Zoo/edgedetect.h5", "--image", "Docs/photo.png", "--output", array, "--output-image", picture)
        #expect(result.status == 0, "\(result.all)")
        let output = try NumPyFile.read(array)
        let expected = try NumPyFile.read(fixture("edges_photo.expect.npy"))
        #expect(output.shape == [1, 2] + expected.shape)
        let plane = expected.count
        let channel0 = Array(output.scalars[0..<plane])
        let largest = expected.scalars.map(abs).max() ?? 1
        let worst = zip(channel0, expected.scalars).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-4 * largest, "max abs error \(worst) against PyTorch's conv2d (bound \(1e-4 * largest))")
        let grid = try PictureFile.read(picture)
        #expect(grid.mode == .L && grid.height == expected.shape[0], "two channels as a grid of grey tiles")
    }

    @Test(arguments: ["bad_cmyk.jpg", "bad_truncated.png", "bad_not_a_picture.png", "bad_absurd_size.png"])
    func badPictureIsExitTwoWithOneLineNamingIt(name: String) throws {
        let path = Self.pictures.path(name)
        let result = try zoo("run", "Zoo/digits.h5", "--image", path)
        #expect(result.status == 2, "\(result.all)")
        #expect(result.stderr.hasPrefix("error: \(path): "))
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(result.stdout.isEmpty)
    }

    @Test func trainedCheckpointsProveTheirAccuracy() throws {
        let result = try zoo("verify", "Zoo/digits.h5")
        #expect(result.status == 0, "\(result.all)")
        #expect(result.stdout.contains("on 360 held-out images (PyTorch "))
        #expect(result.stdout.contains("360/360 predictions agree ok"))
        let report = try JSONValue.parse(try zoo("verify", "Zoo/digits.h5", "--json").stdout)
        let accuracy = try #require(report["eval"]?["accuracy"]?.doubleValue)
        #expect(accuracy >= 0.95, "the issue asks for at least 95% held-out accuracy")
        let list = try zoo("list")
        #expect(list.stdout.contains("accuracy 0.97"))
    }

    @Test func aChangedPredictionOrClaimFailsVerification() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let original = try CheckpointReader.read("Zoo/digits.h5")
        var set = try #require(original.evalSet)
        set.predictions[0] = (set.predictions[0] + 1) % 10
        let changed = folder.appendingPathComponent("changed.h5").path
        try CheckpointWriter.write(
            original.stateDict, manifest: try #require(original.manifest), referenceCases: original.referenceCases, evalSet: set,
            to: changed)
        let result = try zoo("verify", changed)
        #expect(result.status == 1, "\(result.all)")
        #expect(result.stdout.contains("359/360 predictions agree"))
        var manifest = try #require(original.manifest)
        manifest.metrics?["accuracy"] = .double(0.999)
        let claimed = folder.appendingPathComponent("claimed.h5").path
        try CheckpointWriter.write(
            original.stateDict, manifest: manifest, referenceCases: original.referenceCases, evalSet: original.evalSet, to: claimed)
        let overclaimed = try zoo("verify", claimed)
        #expect(overclaimed.status == 1)
        #expect(overclaimed.stdout.contains("the manifest claims 0.999"))
    }

    @Test func filtersAreDrawnAsAGrid() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("filters.png").path
        let result = try zoo("inspect", "Zoo/simplecnn.h5", "--filters", path)
        #expect(result.status == 0, "\(result.all)")
        let grid = try PictureFile.read(path)
        // 32 output x 3 input kernels of 3x3, each 24 px across with 1 px gaps.
        #expect(grid.width == 3 * 24 + 2)
        #expect(grid.height == 32 * 24 + 31)
    }
}
