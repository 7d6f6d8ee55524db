/// Sums of float values in double precision kept in eight running sums, one per vector lane,
/// added together when read: one running sum is a chain of dependent additions, several cycles
/// each, where eight lanes advance at once. The order of the additions depends only on the
/// counts, so the bits do not depend on the thread count.
struct LaneSums {
    private var lanes = SIMD8<Double>()
    private var rest = 0.0

    var total: Double { lanes.sum() + rest }

    /// Adds `values[0..<count]`.
    @inline(__always)
    mutating func add(_ values: UnsafePointer<Float>, count: Int) {
        var index = 0
        while index + 8 <= count {
            lanes += Self.widened(values + index)
            index += 8
        }
        for index in index..<count { rest += Double(values[index]) }
    }

    /// Adds `(values[i] - center)²` for `i` in `0..<count`.
    @inline(__always)
    mutating func addSquares(_ values: UnsafePointer<Float>, count: Int, from center: Double) {
        var index = 0
        while index + 8 <= count {
            let deviation = Self.widened(values + index) - center
            lanes += deviation * deviation
            index += 8
        }
        for index in index..<count {
            let deviation = Double(values[index]) - center
            rest += deviation * deviation
        }
    }

    /// Adds `a[i]` to `self` and `a[i] * (b[i] - center)` to `products`, for `i` in `0..<count`:
    /// BatchNorm's backward sums, reading `a` once for both.
    @inline(__always)
    mutating func add(
        _ a: UnsafePointer<Float>, count: Int, andProductsWith b: UnsafePointer<Float>, from center: Double, into products: inout LaneSums
    ) {
        var index = 0
        while index + 8 <= count {
            let value = Self.widened(a + index)
            lanes += value
            products.lanes += value * (Self.widened(b + index) - center)
            index += 8
        }
        for index in index..<count {
            let value = Double(a[index])
            rest += value
            products.rest += value * (Double(b[index]) - center)
        }
    }

    @inline(__always)
    private static func widened(_ values: UnsafePointer<Float>) -> SIMD8<Double> {
        SIMD8<Double>(UnsafeRawPointer(values).loadUnaligned(as: SIMD8<Float>.self))
    }
}
