import Tensor

/// What differs between two state_dicts.
public struct CheckpointDiff: Sendable, Encodable {
    public struct Change: Sendable, Encodable {
        public var key: String
        public var shapeA: [Int]
        public var shapeB: [Int]
        public var dtypeA: DType
        public var dtypeB: DType
        /// max |a - b| when the shapes agree.
        public var maxAbsoluteDifference: Double?

        private enum CodingKeys: String, CodingKey {
            case key, shapeA = "shape_a", shapeB = "shape_b", dtypeA = "dtype_a", dtypeB = "dtype_b"
            case maxAbsoluteDifference = "max_abs_diff"
        }

        public func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(key, forKey: .key)
            try container.encode(shapeA, forKey: .shapeA)
            try container.encode(shapeB, forKey: .shapeB)
            try container.encode(dtypeA, forKey: .dtypeA)
            try container.encode(dtypeB, forKey: .dtypeB)
            if let difference = maxAbsoluteDifference, difference.isFinite {
                try container.encode(difference, forKey: .maxAbsoluteDifference)
            }
        }
    }

    private enum CodingKeys: String, CodingKey {
        case identical, onlyInA = "only_in_a", onlyInB = "only_in_b", common = "tensors"
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(isIdentical, forKey: .identical)
        try container.encode(onlyInA, forKey: .onlyInA)
        try container.encode(onlyInB, forKey: .onlyInB)
        try container.encode(common, forKey: .common)
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
            return Change(
                key: key, shapeA: left.shape, shapeB: right.shape, dtypeA: left.dtype, dtypeB: right.dtype,
                maxAbsoluteDifference: difference)
        }
    }
}
