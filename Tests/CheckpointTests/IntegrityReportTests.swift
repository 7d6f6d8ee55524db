import Checkpoint
import Tensor
import Testing

@Suite("IntegrityReport")
struct IntegrityReportTests {
    @Test func changedWeightFailsItsChecksumAndAnAbsentOneIsNamed() {
        let original = Tensor(shape: [2], scalars: [1, 2])
        var manifest = Manifest()
        manifest.tensors["w"] = TensorRecord(describing: original)
        manifest.tensors["ghost"] = TensorRecord(describing: original)
        let changed = StateDict([("w", Tensor(shape: [2], scalars: [1, 2.0001]))])
        let report = IntegrityReport(changed, manifest: manifest)
        #expect(report.checksumMismatches.map(\.key) == ["w", "ghost"])
        #expect(report.verifiedChecksums == 0)
        #expect(!report.isClean)
    }

    @Test func unchangedWeightIsVerified() {
        let original = Tensor(shape: [2], scalars: [1, 2])
        var manifest = Manifest()
        manifest.tensors["w"] = TensorRecord(describing: original)
        let report = IntegrityReport(StateDict([("w", original)]), manifest: manifest)
        #expect(report.verifiedChecksums == 1)
        #expect(report.isClean)
        #expect(IntegrityReport.checksumState(of: original, key: "w", manifest: manifest, storedKeys: [:]) == .verified)
    }

    @Test func nonFiniteValuesAreCountedPerKey() {
        let report = IntegrityReport(
            StateDict([("fc.bias", Tensor(shape: [5], scalars: [1, .nan, 3, .infinity, 5]))]), manifest: nil)
        #expect(report.nonFinite.map(\.key) == ["fc.bias"])
        #expect(report.nonFinite.first?.count == 2)
        #expect(report.problemLines == ["non-finite values in fc.bias: 2 of 5 elements are NaN or infinite."])
    }

    @Test func withoutAManifestNothingIsClaimed() {
        let report = IntegrityReport(StateDict([("w", Tensor(shape: [1], scalars: [1]))]), manifest: nil)
        #expect(report.isClean)
        #expect(!report.manifestListsTensors)
        #expect(
            IntegrityReport.checksumState(of: Tensor(shape: [1], scalars: [1]), key: "w", manifest: nil, storedKeys: [:]) == .noManifest)
    }
}
