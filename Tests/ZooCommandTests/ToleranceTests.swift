import Checkpoint
import Foundation
import JSON
import Tensor
import TestSupport
import Testing

/// A file cannot pass a forward check by what it says about its own tolerance, and `--json`
/// stays one valid document whatever the numbers.
@Suite("Tolerance")
struct ToleranceTests {
    /// Zoo/simplecnn.h5 with its reference output shifted by 5.0 and the given file tolerances.
    private func shiftedCopy(atol: Double?, rtol: Double? = nil, in folder: URL) throws -> String {
        var checkpoint = try CheckpointReader.read(zooFolder.appendingPathComponent("simplecnn.h5").path)
        var reference = checkpoint.referenceCases[0]
        reference.output = Tensor(shape: reference.output.shape, scalars: reference.output.scalars.map { $0 + 5 })
        reference.absoluteTolerance = atol
        reference.relativeTolerance = rtol
        checkpoint.referenceCases = [reference]
        let path = folder.appendingPathComponent("shifted.h5").path
        try CheckpointWriter.write(checkpoint.stateDict, manifest: checkpoint.manifest ?? Manifest(), referenceCases: [reference], to: path)
        return path
    }

    @Test(arguments: [Double.nan, .infinity, -1])
    func unusableFileToleranceFailsTheCheckAndSaysWhy(atol: Double) throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = try shiftedCopy(atol: atol, in: folder)
        let result = try zoo("verify", path)
        #expect(result.status == 1, "\(result.all)")
        #expect(result.stdout.contains("the file's atol is \(atol)"), "\(result.stdout)")
        #expect(result.stdout.contains("FAIL"))
        let json = try zoo("verify", path, "--json")
        #expect(json.status == 1)
        let report = try JSONValue.parse(json.stdout)
        #expect(report["passed"] == .bool(false))
    }

    @Test func looseFileToleranceIsShownAndDefaultToleranceIgnoresIt() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = try shiftedCopy(atol: 1e9, in: folder)
        let loose = try zoo("verify", path)
        #expect(loose.status == 0, "\(loose.all)")
        #expect(loose.stdout.contains("the file's, looser than the default atol 1e-05, rtol 0.0001"), "\(loose.stdout)")
        let json = try JSONValue.parse(try zoo("verify", path, "--json").stdout)
        let forward = try #require(json["forward"]?.arrayValue?.first)
        #expect(forward["looser_than_default"] == .bool(true))
        #expect(forward["tolerance_source"] == .string("file"))
        let strict = try zoo("verify", path, "--default-tolerance")
        #expect(strict.status == 1, "\(strict.all)")
        #expect(strict.stdout.contains("(atol 1e-05, rtol 0.0001) FAILED"))
    }

    @Test(arguments: ["nan", "inf", "-1", "-inf"])
    func unusableFlagToleranceIsAUsageError(value: String) throws {
        for flag in ["--atol", "--rtol"] {
            let result = try zoo("verify", "Zoo/simplecnn.h5", "\(flag)=\(value)", "--json")
            #expect(result.status == 2, "\(flag) \(value): \(result.all)")
            #expect(result.stdout.isEmpty)
            #expect(result.stderr.hasPrefix("error: \(flag) must be a finite, non-negative number"))
        }
    }

    @Test func jsonIsValidWhenAnOutputIsNaN() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        var checkpoint = try CheckpointReader.read(zooFolder.appendingPathComponent("simplecnn.h5").path)
        var reference = checkpoint.referenceCases[0]
        reference.output = Tensor(shape: reference.output.shape, scalars: reference.output.scalars.map { _ in .nan })
        checkpoint.referenceCases = [reference]
        let path = folder.appendingPathComponent("nan.h5").path
        try CheckpointWriter.write(checkpoint.stateDict, manifest: checkpoint.manifest ?? Manifest(), referenceCases: [reference], to: path)
        let result = try zoo("verify", path, "--json")
        #expect(result.status == 1)
        let report = try JSONValue.parse(result.stdout)
        #expect(report["forward"]?.arrayValue?.first?["passed"] == .bool(false))
    }
}
