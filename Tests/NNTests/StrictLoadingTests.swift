import NN
import Tensor
import Testing

@Suite("StrictLoading")
struct StrictLoadingTests {
    static let expected = [
        ExpectedTensor(key: "fc.weight", shape: [10, 128], dtype: .float32),
        ExpectedTensor(key: "fc.bias", shape: [10], dtype: .float32),
        ExpectedTensor(key: "bn.num_batches_tracked", shape: [], dtype: .int64),
    ]

    @Test func cleanWhenEverythingMatches() {
        let stateDict = StateDict(Self.expected.map { ($0.key, Tensor(zeros: $0.shape, dtype: $0.dtype)) })
        let report = LoadReport(modelName: "M", expected: Self.expected, stateDict: stateDict)
        #expect(report.isClean)
        #expect(report.problemLines.isEmpty)
    }

    @Test func reportsEveryProblemAtOnceWithItsKey() {
        let stateDict = StateDict([
            ("fc.weight", Tensor(zeros: [5, 128])),
            ("fc.bias", Tensor(zeros: [5])),
            ("bn.num_batches_tracked", Tensor(zeros: [], dtype: .float32)),
            ("extra.weight", Tensor(zeros: [1])),
        ])
        let expected = Self.expected + [ExpectedTensor(key: "gone", shape: [1], dtype: .float32)]
        let report = LoadReport(modelName: "SimpleCNN", expected: expected, stateDict: stateDict)
        #expect(!report.isClean)
        #expect(report.missingKeys == ["gone"])
        #expect(report.unexpectedKeys == ["extra.weight"])
        #expect(report.shapeMismatches.map(\.key) == ["fc.weight", "fc.bias"])
        #expect(report.dtypeMismatches.map(\.key) == ["bn.num_batches_tracked"])
        let text = LoadError(report: report).description
        #expect(text.hasPrefix("Error(s) in loading state_dict for SimpleCNN:"))
        #expect(text.contains("Missing key(s) in state_dict: \"gone\"."))
        #expect(text.contains("Unexpected key(s) in state_dict: \"extra.weight\"."))
        #expect(
            text.contains(
                "size mismatch for fc.weight: copying a param with shape torch.Size([5, 128]) from checkpoint, "
                    + "the shape in current model is torch.Size([10, 128])."))
    }

    @Test func halfPrecisionIsConvertedNotFailed() {
        let stateDict = StateDict([
            ("fc.weight", Tensor(zeros: [10, 128], dtype: .float16)),
            ("fc.bias", Tensor(zeros: [10], dtype: .float64)),
            ("bn.num_batches_tracked", Tensor(zeros: [], dtype: .int64)),
        ])
        let report = LoadReport(modelName: "M", expected: Self.expected, stateDict: stateDict)
        #expect(report.isClean)
        #expect(report.convertedKeys.map(\.key) == ["fc.weight", "fc.bias"])
    }

    @Test func strictLoadLoadsNothingWhenAKeyIsMissing() throws {
        let model = try Linear(inFeatures: 2, outFeatures: 1)
        let error = #expect(throws: LoadError.self) {
            try model.load(StateDict([("weight", Tensor(shape: [1, 2], scalars: [3, 4]))]))
        }
        #expect(error?.report.missingKeys == ["bias"])
        #expect(model.weight.scalars == [0, 0])
    }

    @Test func nonStrictLoadTakesWhatFitsAndConvertsDTypes() throws {
        let model = try Linear(inFeatures: 2, outFeatures: 1)
        let report = try model.load(
            StateDict([("weight", Tensor(shape: [1, 2], scalars: [3, 4]).converted(to: .float64)), ("bias", Tensor(zeros: [7]))]),
            strict: false)
        #expect(report.shapeMismatches.map(\.key) == ["bias"])
        #expect(model.weight.dtype == .float32)
        #expect(model.weight.scalars == [3, 4])
    }

    @Test func legacyOneElementCounterFillsAScalarSlot() throws {
        let model = try BatchNorm2d(numFeatures: 1)
        var state = model.stateDict()
        state["num_batches_tracked"] = try Tensor(shape: [1], storage: .int64([7]))
        try model.load(state)
        #expect(model.numBatchesTracked?.shape == [])
        #expect(model.numBatchesTracked?.storage == .int64([7]))
    }
}
