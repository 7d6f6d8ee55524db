import Foundation
import Tensor

/// A classification loss's view of its input: `(N, C)` or `(N, C, d1, ...)`, classes on axis 1,
/// a "position" being one sample (and spatial place), with optional class weights.
struct ClassLayout {
    let batch: Int
    let classes: Int
    /// Elements per class plane of one sample: `d1 * d2 * ...` (1 for `(N, C)`).
    let inner: Int
    let weight: [Double]
    let loss: String
    let inputShape: [Int]

    init(_ input: Tensor, weight: [Float]?, loss: String) throws {
        guard input.rank >= 2, input.shape[1] > 0 else {
            throw NNError.inputShape(layer: loss, expected: "(N, C) or (N, C, d1, ...)", got: input.shape)
        }
        batch = input.shape[0]
        classes = input.shape[1]
        inner = input.shape.dropFirst(2).reduce(1, *)
        if let weight, weight.count != classes {
            throw NNError.training(layer: loss, reason: "weight has \(weight.count) values for \(classes) classes")
        }
        self.weight = weight?.map(Double.init) ?? Array(repeating: 1, count: classes)
        self.loss = loss
        inputShape = input.shape
    }

    var positions: Int { batch * inner }
    /// The target shape for class indices: the input's without axis 1.
    func targetShape(_ shape: [Int]) -> [Int] { [shape[0]] + shape.dropFirst(2) }

    /// `body(offsets)` for each position in order, `offsets[c]` the flat index of class c.
    func forEachPosition(_ body: ([Int]) -> Void) {
        for n in 0..<batch {
            for place in 0..<inner {
                body((0..<classes).map { (n * classes + $0) * inner + place })
            }
        }
    }

    /// `log_softmax` over the classes, in double precision.
    func logSoftmax(_ x: [Float]) -> [Double] {
        var result = [Double](repeating: 0, count: x.count)
        forEachPosition { offsets in
            let largest = offsets.map { Double(x[$0]) }.max() ?? 0
            var total = 0.0
            for offset in offsets { total += exp(Double(x[offset]) - largest) }
            let logTotal = log(total) + largest
            for offset in offsets { result[offset] = Double(x[offset]) - logTotal }
        }
        return result
    }

    /// The loss over class-index targets, and its gradient with respect to the log-probabilities.
    func classLoss(_ logProbabilities: [Double], _ target: Tensor, ignoreIndex: Int, smoothing: Double, reduction: Reduction) throws
        -> (loss: Tensor, logGradient: [Double])
    {
        guard target.shape == targetShape(inputShape) else {
            throw NNError.inputShape(layer: loss, expected: "class indices of shape \(targetShape(inputShape))", got: target.shape)
        }
        let labels = target.converted(to: .int64)
        guard case .int64(let indices) = labels.storage else { return (Tensor(zeros: []), []) }
        var perPosition = [Double](repeating: 0, count: positions)
        var counted = [Bool](repeating: false, count: positions)
        var (weightTotal, countTotal) = (0.0, 0.0)
        var position = 0
        var failure: NNError?
        forEachPosition { offsets in
            defer { position += 1 }
            let label = Int(indices[position])
            if label == ignoreIndex { return }
            guard (0..<classes).contains(label) else {
                failure = NNError.training(layer: loss, reason: "target \(label) is out of bounds for \(classes) classes")
                return
            }
            counted[position] = true
            weightTotal += weight[label]
            countTotal += 1
            var smooth = 0.0
            for c in 0..<classes { smooth -= weight[c] * logProbabilities[offsets[c]] }
            perPosition[position] =
                (1 - smoothing) * -weight[label] * logProbabilities[offsets[label]] + smoothing / Double(classes) * smooth
        }
        if let failure { throw failure }
        // PyTorch's mean: the likelihood term over Σ w[y]; the smoothing term over the same
        // when there are class weights, else over the number of counted positions.
        let (likelihoodScale, smoothingScale): (Double, Double)
        switch reduction {
        case .mean: (likelihoodScale, smoothingScale) = (1 / weightTotal, 1 / (weight.allSatisfy { $0 == 1 } ? countTotal : weightTotal))
        case .sum, .none: (likelihoodScale, smoothingScale) = (1, 1)
        }
        var gradient = [Double](repeating: 0, count: logProbabilities.count)
        var total = 0.0
        position = 0
        forEachPosition { offsets in
            defer { position += 1 }
            guard counted[position] else { return }
            let label = Int(indices[position])
            for c in 0..<classes { gradient[offsets[c]] = -smoothing / Double(classes) * weight[c] * smoothingScale }
            gradient[offsets[label]] -= (1 - smoothing) * weight[label] * likelihoodScale
            var smooth = 0.0
            for c in 0..<classes { smooth -= weight[c] * logProbabilities[offsets[c]] }
            total +=
                (1 - smoothing) * -weight[label] * logProbabilities[offsets[label]] * likelihoodScale + smoothing / Double(classes) * smooth
                * smoothingScale
        }
        let value: Tensor =
            reduction == .none
            ? Tensor(shape: target.shape, scalars: perPosition.map { Float($0) }) : Tensor(shape: [], scalars: [Float(total)])
        return (value, gradient)
    }

    /// The loss over class-probability targets of the input's shape, and its gradient with
    /// respect to the log-probabilities.
    func probabilityLoss(_ logProbabilities: [Double], _ target: Tensor, smoothing: Double, reduction: Reduction, inputShape: [Int]) throws
        -> (loss: Tensor, logGradient: [Double])
    {
        guard target.shape == inputShape else {
            throw NNError.inputShape(layer: loss, expected: "class probabilities of the input's shape \(inputShape)", got: target.shape)
        }
        let t = target.scalars.map { (1 - smoothing) * Double($0) + smoothing / Double(classes) }
        let scale = reduction == .mean ? 1 / Double(batch * inner) : 1
        var perPosition = [Double](repeating: 0, count: positions)
        var gradient = [Double](repeating: 0, count: logProbabilities.count)
        var position = 0
        forEachPosition { offsets in
            for (c, offset) in offsets.enumerated() {
                perPosition[position] -= weight[c] * t[offset] * logProbabilities[offset]
                gradient[offset] = -weight[c] * t[offset] * scale
            }
            position += 1
        }
        let total = perPosition.reduce(0, +) * scale
        let value: Tensor =
            reduction == .none
            ? Tensor(shape: targetShape(inputShape), scalars: perPosition.map { Float($0) }) : Tensor(shape: [], scalars: [Float(total)])
        return (value, gradient)
    }
}
