/// One axis of PIL's resampling (Pillow's `precompute_coeffs`), for any ``Interpolation``: per
/// output sample, the run of input samples it reads and their weights.
///
/// When shrinking, the filter is stretched by the scale (its support and its argument both), so
/// that every input sample contributes: PIL's antialiasing, which torchvision's `Resize` on a PIL
/// picture always gets. The weights of each output sample are divided by their sum.
struct ResampleCoefficients {
    /// Pillow's `PRECISION_BITS`: 8 bits of result and 2 of headroom for bicubic's overshoot
    /// within a 32-bit sum.
    static let precisionBits: Int32 = 32 - 8 - 2

    let outSize: Int
    /// The most weights an output sample can have; the row stride of `weights`.
    let kernelSize: Int
    /// Per output index: first input index and how many input samples it reads.
    private(set) var bounds: [(start: Int, count: Int)] = []
    private(set) var weights: [Double] = []

    init(inSize: Int, outSize: Int, filter: Interpolation) {
        self.outSize = outSize
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = filter.support * filterScale
        kernelSize = Int(support.rounded(.up)) * 2 + 1
        weights = [Double](repeating: 0, count: outSize * kernelSize)
        // Multiplied by the inverse, not divided by the scale: Pillow's arithmetic, bit for bit.
        let inverse = 1.0 / filterScale
        for output in 0..<outSize {
            let center = (Double(output) + 0.5) * scale
            // Truncated after adding a half, as C's (int) cast rounds these.
            let start = max(Int(center - support + 0.5), 0)
            let count = max(min(Int(center + support + 0.5), inSize) - start, 0)
            var total = 0.0
            for x in 0..<count {
                let weight = filter.weight(at: (Double(x + start) - center + 0.5) * inverse)
                weights[output * kernelSize + x] = weight
                total += weight
            }
            if total != 0 { for x in 0..<count { weights[output * kernelSize + x] /= total } }
            bounds.append((start, count))
        }
    }

    /// The weights in fixed point (Pillow's `normalize_coeffs_8bpc`): scaled by 2^22 and rounded
    /// half away from zero, negative ones down and positive ones up.
    var fixedPointWeights: [Int32] {
        let one = Double(1 << Self.precisionBits)
        return weights.map { $0 < 0 ? Int32(-0.5 + $0 * one) : Int32(0.5 + $0 * one) }
    }
}
