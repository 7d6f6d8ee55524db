import Checkpoint
import NN
import Tensor

/// How a checkpoint's model does on its own held-out set (`__eval__`), against PyTorch's
/// predictions and the accuracy the manifest claims.
public struct EvaluationResult: Sendable, Encodable {
    public var count: Int
    /// The share of labels zoo's predictions get right.
    public var accuracy: Double
    /// The share PyTorch's stored predictions get right.
    public var pytorchAccuracy: Double
    /// How many of zoo's predictions equal PyTorch's.
    public var agreeing: Int
    /// The manifest's `metrics.accuracy`, when it states one.
    public var claimedAccuracy: Double?
    public var error: String?

    public var passed: Bool {
        error == nil && agreeing == count && claimedAccuracy.map { abs($0 - accuracy) <= 1e-9 } ?? true
    }

    private enum CodingKeys: String, CodingKey {
        case count, accuracy, pytorchAccuracy = "pytorch_accuracy", agreeing = "agreeing_predictions"
        case claimedAccuracy = "claimed_accuracy", error, passed
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(count, forKey: .count)
        try container.encode(accuracy, forKey: .accuracy)
        try container.encode(pytorchAccuracy, forKey: .pytorchAccuracy)
        try container.encode(agreeing, forKey: .agreeing)
        try container.encodeIfPresent(claimedAccuracy, forKey: .claimedAccuracy)
        try container.encodeIfPresent(error, forKey: .error)
        try container.encode(passed, forKey: .passed)
    }

    /// "accuracy 0.975 on 360 held-out images (PyTorch 0.975), 360/360 predictions agree".
    public var summary: String {
        if let error { return "FAILED: \(error)" }
        var text =
            "accuracy \(Self.format(accuracy)) on \(count) held-out images (PyTorch \(Self.format(pytorchAccuracy))), "
            + "\(agreeing)/\(count) predictions agree"
        if let claimedAccuracy, abs(claimedAccuracy - accuracy) > 1e-9 {
            text += "; the manifest claims \(Self.format(claimedAccuracy))"
        }
        return text + (passed ? " ok" : " FAILED")
    }

    static func format(_ value: Double) -> String {
        let scaled = (value * 10000).rounded() / 10000
        return "\(scaled)"
    }
}

enum Evaluator {
    /// Runs the set through `model` in batches of 64 and compares argmaxes.
    static func evaluate(_ model: Module, on set: EvalSet, claimedAccuracy: Double?) -> EvaluationResult {
        let count = set.count
        var result = EvaluationResult(
            count: count, accuracy: 0, pytorchAccuracy: 0, agreeing: 0, claimedAccuracy: claimedAccuracy, error: nil)
        guard count > 0 else {
            result.error = "the eval set is empty"
            return result
        }
        let sampleShape = Array(set.inputs.shape.dropFirst())
        let sample = sampleShape.reduce(1, *)
        let inputs = set.inputs.scalars
        var predictions: [Int64] = []
        predictions.reserveCapacity(count)
        InferenceFusion.apply(to: model)
        do {
            for first in stride(from: 0, to: count, by: 64) {
                let batch = min(64, count - first)
                let slice = Array(inputs[(first * sample)..<((first + batch) * sample)])
                let output = try model(Tensor(shape: [batch] + sampleShape, scalars: slice))
                guard output.rank == 2, output.shape[0] == batch else {
                    result.error = "the model's output \(output.shape) is not (N, classes)"
                    return result
                }
                predictions += argmax(output)
            }
        } catch {
            result.error = "forward pass failed: \(error)"
            return result
        }
        let correct = zip(predictions, set.labels).filter { $0 == $1 }.count
        let pytorchCorrect = zip(set.predictions, set.labels).filter { $0 == $1 }.count
        result.accuracy = Double(correct) / Double(count)
        result.pytorchAccuracy = Double(pytorchCorrect) / Double(count)
        result.agreeing = zip(predictions, set.predictions).filter { $0 == $1 }.count
        return result
    }

    /// The index of each row's largest value (the first on ties, as `torch.argmax`).
    static func argmax(_ output: Tensor) -> [Int64] {
        let columns = output.shape[1]
        let values = output.scalars
        return (0..<output.shape[0]).map { row in
            var best = 0
            for column in 1..<max(columns, 1) where values[row * columns + column] > values[row * columns + best] { best = column }
            return Int64(best)
        }
    }
}
