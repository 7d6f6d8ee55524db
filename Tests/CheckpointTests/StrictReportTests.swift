import Checkpoint
import Tensor
import Testing

struct StrictReportTests {
    static let expected = [
        ExpectedTensor(key: "fc.weight", shape: [10, 128], dtype: .float32),
        ExpectedTensor(key: "fc.bias", shape: [10], dtype: .float32),
        ExpectedTensor(key: "bn.num_batches_tracked", shape: [], dtype: .int64),
    ]

    @Test func cleanWhenEverythingMatches() {
        let stateDict = StateDict(Self.expected.map { ($0.key, Tensor(zeros: $0.shape, dtype: $0.dtype)) })
        let report = StrictReport(modelName: "M", expected: Self.expected, stateDict: stateDict)
        #expect(report.isClean)
        #expect(report.description == "All keys matched successfully")
    }

    @Test func reportsEveryProblemAtOnceWithItsKey() throws {
        var bad = Tensor(shape: [5], scalars: [1, .nan, 3, .infinity, 5])
        bad = try bad.reshaped([5])
        let stateDict = StateDict([
            ("fc.weight", Tensor(zeros: [5, 128])),
            ("fc.bias", bad),
            ("bn.num_batches_tracked", Tensor(zeros: [], dtype: .float32)),
            ("extra.weight", Tensor(zeros: [1])),
        ])
        let report = StrictReport(modelName: "SimpleCNN", expected: Self.expected + [ExpectedTensor(key: "gone", shape: [1], dtype: .float32)], stateDict: stateDict)
        #expect(!report.isClean)
        #expect(report.missingKeys == ["gone"])
        #expect(report.unexpectedKeys == ["extra.weight"])
        #expect(report.shapeMismatches.map(\.key) == ["fc.weight", "fc.bias"])
        #expect(report.dtypeProblems.map(\.key) == ["bn.num_batches_tracked"])
        #expect(report.nonFinite.map(\.key) == ["fc.bias"])
        #expect(report.nonFinite.first?.count == 2)
        let text = report.description
        #expect(text.contains("Error(s) in loading state_dict for SimpleCNN:"))
        #expect(text.contains("Missing key(s) in state_dict: \"gone\"."))
        #expect(text.contains("Unexpected key(s) in state_dict: \"extra.weight\"."))
        #expect(text.contains("size mismatch for fc.weight: copying a param with shape torch.Size([5, 128]) from checkpoint, the shape in current model is torch.Size([10, 128])."))
    }

    @Test func halfPrecisionIsConvertedNotFailed() {
        let stateDict = StateDict([
            ("fc.weight", Tensor(zeros: [10, 128], dtype: .float16)),
            ("fc.bias", Tensor(zeros: [10], dtype: .float64)),
            ("bn.num_batches_tracked", Tensor(zeros: [], dtype: .int64)),
        ])
        let report = StrictReport(modelName: "M", expected: Self.expected, stateDict: stateDict)
        #expect(report.isClean)
        #expect(report.convertedKeys.map(\.key) == ["fc.weight", "fc.bias"])
    }

    @Test func changedWeightFailsItsChecksum() {
        let original = Tensor(shape: [2], scalars: [1, 2])
        var manifest = Manifest()
        manifest.tensors["w"] = TensorRecord(describing: original)
        manifest.tensors["ghost"] = TensorRecord(describing: original)
        let changed = StateDict([("w", Tensor(shape: [2], scalars: [1, 2.0001]))])
        let report = StrictReport(checkingIntegrityOf: changed, manifest: manifest)
        #expect(report.checksumMismatches.map(\.key) == ["w", "ghost"])
        #expect(report.verifiedChecksums == 0)
        let same = StrictReport(checkingIntegrityOf: StateDict([("w", original)]), manifest: manifest)
        #expect(same.verifiedChecksums == 1)
    }
}
