import Tensor
import Testing

struct HalfPrecisionTests {
    /// Every float16 bit pattern decodes as the platform's IEEE half does and encodes back.
    @Test func float16MatchesTheStandardLibrary() {
        #if !(os(macOS) && arch(x86_64))  // Float16 is unavailable only on Intel Macs
            var mismatches = 0
            for bits in UInt16.min...UInt16.max {
                let reference = Float(Float16(bitPattern: bits))
                let ours = HalfPrecision.float(fromFloat16Bits: bits)
                if reference.isNaN ? !ours.isNaN : reference.bitPattern != ours.bitPattern { mismatches += 1 }
                if !reference.isNaN && HalfPrecision.float16Bits(from: reference) != bits { mismatches += 1 }
            }
            #expect(mismatches == 0)
        #endif
    }

    /// The array path (one loop over the buffers) agrees with the standard library for every
    /// float16 pattern, and bfloat16 is the float's upper half.
    @Test func arraysWidenEveryPattern() {
        let patterns = (0...0xFFFF).map { UInt16($0) }
        let halves = TensorStorage.float16(patterns).floats()
        let brains = TensorStorage.bfloat16(patterns).floats()
        var mismatches = 0
        for (index, bits) in patterns.enumerated() {
            #if !(os(macOS) && arch(x86_64))
                let reference = Float(Float16(bitPattern: bits))
                if reference.isNaN ? !halves[index].isNaN : reference.bitPattern != halves[index].bitPattern { mismatches += 1 }
            #endif
            if brains[index].bitPattern != UInt32(bits) << 16 { mismatches += 1 }
        }
        #expect(mismatches == 0)
    }

    #if !(os(macOS) && arch(x86_64))
        @Test(arguments: [Float(1.0009765625), 65519.0, 65520.0, 1e-8, -2.5e-5, 0.1, 3.14159])
        func float16RoundsLikeTheStandardLibrary(value: Float) {
            #expect(HalfPrecision.float16Bits(from: value) == Float16(value).bitPattern)
        }
    #endif

    @Test func bfloat16RoundsToNearestEven() {
        #expect(HalfPrecision.bfloat16Bits(from: 1.0) == 0x3F80)
        // 1 + 2^-8 is exactly halfway between two bfloat16 values: ties to even (down).
        #expect(HalfPrecision.bfloat16Bits(from: 1.00390625) == 0x3F80)
        // 1 + 3 * 2^-8 is halfway with an odd lower neighbour: rounds up.
        #expect(HalfPrecision.bfloat16Bits(from: 1.01171875) == 0x3F82)
        #expect(HalfPrecision.float(fromBFloat16Bits: 0xC040) == -3.0)
        #expect(HalfPrecision.float(fromBFloat16Bits: HalfPrecision.bfloat16Bits(from: .nan)).isNaN)
    }

    @Test func bytesRoundTripInEveryDType() throws {
        for dtype in DType.allCases {
            let tensor = Tensor(shape: [2, 3], scalars: [0, 1, -2, 3.5, 100, -0.25]).converted(to: dtype)
            let back = try Tensor(shape: tensor.shape, dtype: dtype, littleEndianBytes: tensor.littleEndianBytes)
            #expect(back == tensor, "\(dtype)")
        }
        #expect(throws: TensorError.self) { try Tensor(shape: [2], dtype: .float32, littleEndianBytes: [0, 0, 0]) }
    }
}
