/// An n-dimensional array: a shape, a dtype and contiguous row-major storage.
///
/// A value type: copies share storage until one is changed. A shape of `[]` is a 0-d scalar
/// (one element), as PyTorch's `num_batches_tracked` is.
public struct Tensor: Sendable, Equatable, CustomStringConvertible {
    public private(set) var shape: [Int]
    public private(set) var storage: TensorStorage

    /// Wraps `storage` as `shape`; fails when the element count does not match.
    public init(shape: [Int], storage: TensorStorage) throws(TensorError) {
        guard let expected = Tensor.elementCount(shape) else { throw .invalidShape(shape) }
        guard expected == storage.count else {
            throw .elementCountMismatch(shape: shape, expected: expected, actual: storage.count)
        }
        self.shape = shape
        self.storage = storage
    }

    /// A float32 tensor. The caller guarantees `scalars.count` equals the shape's product.
    public init(shape: [Int], scalars: [Float]) {
        precondition(shape.reduce(1, *) == scalars.count, "shape \(shape) needs \(shape.reduce(1, *)) scalars, got \(scalars.count)")
        self.shape = shape
        self.storage = .float32(scalars)
    }

    /// A tensor of zeros.
    public init(zeros shape: [Int], dtype: DType = .float32) {
        let count = shape.reduce(1, *)
        self.shape = shape
        switch dtype {
        case .float32: storage = .float32(Array(repeating: 0, count: count))
        case .float64: storage = .float64(Array(repeating: 0, count: count))
        case .float16: storage = .float16(Array(repeating: 0, count: count))
        case .bfloat16: storage = .bfloat16(Array(repeating: 0, count: count))
        case .int64: storage = .int64(Array(repeating: 0, count: count))
        case .int32: storage = .int32(Array(repeating: 0, count: count))
        case .int16: storage = .int16(Array(repeating: 0, count: count))
        case .int8: storage = .int8(Array(repeating: 0, count: count))
        case .uint8: storage = .uint8(Array(repeating: 0, count: count))
        case .bool: storage = .bool(Array(repeating: false, count: count))
        }
    }

    /// The number of elements a shape holds, or nil when a dimension is negative or the product overflows.
    public static func elementCount(_ shape: [Int]) -> Int? {
        var count = 1
        for dimension in shape {
            guard dimension >= 0 else { return nil }
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            if overflow { return nil }
            count = product
        }
        return count
    }

    public var dtype: DType { storage.dtype }
    public var count: Int { storage.count }
    public var rank: Int { shape.count }

    /// The elements as float32, converting when stored otherwise.
    public var scalars: [Float] { storage.floats() }

    /// The same elements viewed with another shape of equal element count.
    public func reshaped(_ newShape: [Int]) throws(TensorError) -> Tensor {
        try Tensor(shape: newShape, storage: storage)
    }

    /// The elements converted to `dtype` (floats round to nearest; bool is `!= 0`).
    public func converted(to target: DType) -> Tensor {
        if target == dtype { return self }
        var result = Tensor(zeros: [], dtype: target)
        result.shape = shape
        switch target {
        case .float32: result.storage = .float32(storage.floats())
        case .float64: result.storage = .float64(storage.doubles())
        case .float16: result.storage = .float16(storage.floats().map(HalfPrecision.float16Bits(from:)))
        case .bfloat16: result.storage = .bfloat16(storage.floats().map(HalfPrecision.bfloat16Bits(from:)))
        case .int64: result.storage = .int64(storage.doubles().map { Int64(clamping: $0) })
        case .int32: result.storage = .int32(storage.doubles().map { Int32(clamping: $0) })
        case .int16: result.storage = .int16(storage.doubles().map { Int16(clamping: $0) })
        case .int8: result.storage = .int8(storage.doubles().map { Int8(clamping: $0) })
        case .uint8: result.storage = .uint8(storage.doubles().map { UInt8(clamping: $0) })
        case .bool: result.storage = .bool(storage.doubles().map { $0 != 0 })
        }
        return result
    }

    /// How many elements are NaN or infinite (always 0 for integer dtypes).
    public var nonFiniteCount: Int {
        switch storage {
        case .float32(let a): return a.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
        case .float64(let a): return a.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
        case .float16(let a): return a.reduce(0) { $0 + (($1 & 0x7C00) == 0x7C00 ? 1 : 0) }
        case .bfloat16(let a): return a.reduce(0) { $0 + (($1 & 0x7F80) == 0x7F80 ? 1 : 0) }
        default: return 0
        }
    }

    public var description: String {
        "Tensor(\(dtype), shape: \(shape))"
    }
}

private extension Int64 {
    init(clamping value: Double) {
        if value.isNaN {
            self = 0
        } else if value >= 9.2e18 {
            self = .max
        } else if value <= -9.2e18 {
            self = .min
        } else {
            self = Int64(value)
        }
    }
}

private extension FixedWidthInteger {
    init(clamping value: Double) {
        if value.isNaN { self = 0; return }
        self.init(clamping: Int64(clamping: value))
    }
}
