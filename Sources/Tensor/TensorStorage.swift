/// Row-major element storage, one case per ``DType``. Half-precision values are kept as their
/// IEEE (float16) or truncated-float32 (bfloat16) bit patterns.
public enum TensorStorage: Sendable, Equatable {
    case float32([Float])
    case float64([Double])
    case float16([UInt16])
    case bfloat16([UInt16])
    case int64([Int64])
    case int32([Int32])
    case int16([Int16])
    case int8([Int8])
    case uint8([UInt8])
    case bool([Bool])

    public var dtype: DType {
        switch self {
        case .float32: return .float32
        case .float64: return .float64
        case .float16: return .float16
        case .bfloat16: return .bfloat16
        case .int64: return .int64
        case .int32: return .int32
        case .int16: return .int16
        case .int8: return .int8
        case .uint8: return .uint8
        case .bool: return .bool
        }
    }

    public var count: Int {
        switch self {
        case .float32(let a): return a.count
        case .float64(let a): return a.count
        case .float16(let a): return a.count
        case .bfloat16(let a): return a.count
        case .int64(let a): return a.count
        case .int32(let a): return a.count
        case .int16(let a): return a.count
        case .int8(let a): return a.count
        case .uint8(let a): return a.count
        case .bool(let a): return a.count
        }
    }

    /// Every element widened to Double (exact for all dtypes but int64 beyond 2^53).
    public func doubles() -> [Double] {
        switch self {
        case .float32(let a): return a.map(Double.init)
        case .float64(let a): return a
        case .float16(let a): return a.map { Double(HalfPrecision.float(fromFloat16Bits: $0)) }
        case .bfloat16(let a): return a.map { Double(HalfPrecision.float(fromBFloat16Bits: $0)) }
        case .int64(let a): return a.map(Double.init)
        case .int32(let a): return a.map(Double.init)
        case .int16(let a): return a.map(Double.init)
        case .int8(let a): return a.map(Double.init)
        case .uint8(let a): return a.map(Double.init)
        case .bool(let a): return a.map { $0 ? 1 : 0 }
        }
    }

    /// Every element as Float, the compute type.
    public func floats() -> [Float] {
        switch self {
        case .float32(let a): return a
        case .float16(let a): return HalfPrecision.widen(a, HalfPrecision.float(fromFloat16Bits:))
        case .bfloat16(let a): return HalfPrecision.widen(a, HalfPrecision.float(fromBFloat16Bits:))
        default: return doubles().map(Float.init)
        }
    }
}

/// Bit-level conversions for the 16-bit float formats, done in software so they behave the
/// same on every platform.
public enum HalfPrecision {
    /// Exact for every bit pattern, without branches so that loops over arrays vectorise: the
    /// half's exponent and mantissa placed in a float's fields are its magnitude times 2^-112
    /// (subnormal halves included), and the largest exponent marks infinities and NaNs.
    @inline(__always)
    public static func float(fromFloat16Bits bits: UInt16) -> Float {
        let magnitudeBits = UInt32(bits & 0x7FFF) << 13
        let scaled = Float(bitPattern: magnitudeBits) * 0x1p112
        let special = Float(bitPattern: magnitudeBits | 0x7F80_0000)
        let magnitude = bits & 0x7C00 == 0x7C00 ? special : scaled
        return Float(bitPattern: magnitude.bitPattern | UInt32(bits & 0x8000) << 16)
    }

    /// Every element of a float16 or bfloat16 array widened to Float, in one loop over the buffers.
    static func widen(_ halves: [UInt16], _ widen: (UInt16) -> Float) -> [Float] {
        [Float](unsafeUninitializedCapacity: halves.count) { floats, initialised in
            halves.withUnsafeBufferPointer { halves in
                for index in 0..<halves.count { floats[index] = widen(halves[index]) }
            }
            initialised = halves.count
        }
    }

    /// Round to nearest, ties to even, as PyTorch's `.half()` does.
    public static func float16Bits(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        let sign = UInt16((bits >> 16) & 0x8000)
        let exponent = Int((bits >> 23) & 0xFF)
        let mantissa = bits & 0x7F_FFFF
        if exponent == 0xFF {
            return sign | 0x7C00 | (mantissa != 0 ? 0x200 | UInt16(mantissa >> 13) : 0)
        }
        let halfExponent = exponent - 127 + 15
        if halfExponent >= 0x1F { return sign | 0x7C00 }
        if halfExponent <= 0 {
            if halfExponent < -10 { return sign }
            let full = mantissa | 0x80_0000
            let shift = UInt32(14 - halfExponent)
            var half = full >> shift
            let remainder = full & ((1 << shift) - 1)
            let halfway = UInt32(1) << (shift - 1)
            if remainder > halfway || (remainder == halfway && half & 1 == 1) { half += 1 }
            return sign | UInt16(half)
        }
        var half = UInt32(halfExponent) << 10 | (mantissa >> 13)
        let remainder = mantissa & 0x1FFF
        if remainder > 0x1000 || (remainder == 0x1000 && half & 1 == 1) { half += 1 }
        return sign | UInt16(half)
    }

    @inline(__always)
    public static func float(fromBFloat16Bits bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// Round to nearest, ties to even; NaN stays a quiet NaN.
    public static func bfloat16Bits(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(bits >> 16) | 0x0040 }
        let rounding = 0x7FFF + ((bits >> 16) & 1)
        return UInt16((bits &+ rounding) >> 16)
    }
}

extension TensorStorage {
    /// The elements' bytes in host order, without copying; bool elements are one byte, 0 or 1.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch self {
        case .float32(let a): return try a.withUnsafeBytes(body)
        case .float64(let a): return try a.withUnsafeBytes(body)
        case .float16(let a), .bfloat16(let a): return try a.withUnsafeBytes(body)
        case .int64(let a): return try a.withUnsafeBytes(body)
        case .int32(let a): return try a.withUnsafeBytes(body)
        case .int16(let a): return try a.withUnsafeBytes(body)
        case .int8(let a): return try a.withUnsafeBytes(body)
        case .uint8(let a): return try a.withUnsafeBytes(body)
        case .bool(let a): return try a.withUnsafeBytes(body)
        }
    }
}
