import Foundation
import HDF5
import JSON
import NN
import Tensor
import TestSupport
import Testing

/// Every loss case PyTorch computed in Tools/make_training_fixtures.py (losses.h5): the value and
/// the input's gradient within the gradient rule.
struct LossTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/training/losses.h5").path

    static let cases: [String] = ((try? HDF5File.openReadOnly(fixture).rootGroup().members()) ?? []).map(\.name)

    @Test func everyLossHasCases() {
        for name in ["ce_", "nll_", "mse_", "l1_", "bce_"] { #expect(Self.cases.contains { $0.dropFirst(3).hasPrefix(name) }, "\(name)") }
    }

    @Test(arguments: cases)
    func matchesPyTorch(name: String) throws {
        let group = try HDF5File.openReadOnly(Self.fixture).rootGroup().openGroup(name)
        let config = try JSONValue.parse(try #require(try group.stringAttribute("config")))
        let loss = try makeLoss(config)
        let (value, gradient) = try loss.evaluate(
            try group.openDataset("input").readTensor(), try group.openDataset("target").readTensor())
        expectGradientClose(value, try group.openDataset("loss").readTensor(), context: "\(name) loss")
        expectGradientClose(gradient, try group.openDataset("grad_input").readTensor(), context: "\(name) grad_input")
    }

    @Test func aClassOutOfRangeIsAnError() throws {
        let input = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        let target = try Tensor(shape: [2], storage: .int64([0, 3]))
        #expect(throws: NNError.self) { try CrossEntropyLoss().evaluate(input, target) }
    }

    private func makeLoss(_ config: JSONValue) throws -> any Loss {
        let reduction = try #require(Reduction(rawValue: config["reduction"]?.stringValue ?? "mean"))
        let weight = config["weight"]?.arrayValue?.compactMap { $0.doubleValue.map { Float($0) } }
        let ignoreIndex = config["ignore_index"]?.doubleValue.map { Int($0) } ?? -100
        switch config["loss"]?.stringValue {
        case "CrossEntropyLoss":
            return CrossEntropyLoss(
                weight: weight, ignoreIndex: ignoreIndex, labelSmoothing: config["label_smoothing"]?.doubleValue ?? 0, reduction: reduction)
        case "NLLLoss": return NLLLoss(weight: weight, ignoreIndex: ignoreIndex, reduction: reduction)
        case "MSELoss": return MSELoss(reduction: reduction)
        case "L1Loss": return L1Loss(reduction: reduction)
        case "BCEWithLogitsLoss":
            let positive = config["pos_weight"]?.arrayValue?.compactMap { $0.doubleValue.map { Float($0) } }
            return BCEWithLogitsLoss(weight: weight, posWeight: positive, reduction: reduction)
        default: throw NNError.invalidConfig(reason: "unknown loss \(config)")
        }
    }
}
