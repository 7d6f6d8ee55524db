import Checkpoint
import Tensor

/// What differs between two state_dicts.
public struct CheckpointDiff: Sendable {
    public struct Change: Sendable {
        public var key: String
        public var shapeA: [Int]
        public var shapeB: [Int]
        public var dtypeA: DType
        public var dtypeB: DType
        /// max |a - b| when the shapes agree.
        public var maxAbsoluteDifference: Double?
    }

    public var onlyInA: [String]
    public var onlyInB: [String]
    public var common: [Change]

    public var isIdentical: Bool {
        onlyInA.isEmpty && onlyInB.isEmpty && common.allSatisfy { $0.shapeA == $0.shapeB && $0.maxAbsoluteDifference == 0 }
    }

    public init(_ a: StateDict, _ b: StateDict) {
        onlyInA = a.keys.filter { b[$0] == nil }
        onlyInB = b.keys.filter { a[$0] == nil }
        common = a.keys.compactMap { key in
            guard let left = a[key], let right = b[key] else { return nil }
            var difference: Double?
            if left.shape == right.shape {
                let x = left.storage.doubles()
                let y = right.storage.doubles()
                var worst = 0.0
                for index in 0..<x.count {
                    let d = abs(x[index] - y[index])
                    if d.isNaN { if !(x[index].isNaN && y[index].isNaN) { worst = .nan; break } } else { worst = Swift.max(worst, d) }
                }
                difference = worst
            }
            return Change(key: key, shapeA: left.shape, shapeB: right.shape, dtypeA: left.dtype, dtypeB: right.dtype, maxAbsoluteDifference: difference)
        }
    }
}
