import Tensor

/// For one output row or column: the two source indices it reads and the weight of the second.
typealias SourceTaps = (lower: Int, upper: Int, weight: Float)

/// Every plane of NCHW values resampled through `rows` and `columns`: the nearest source pixel,
/// or the bilinear blend `(1 - w) * a + w * b` along each axis.
func resample(
    _ x: [Float], planes: Int, height: Int, width: Int, rows: [SourceTaps], columns: [SourceTaps], nearest: Bool
) -> [Float] {
    let (outHeight, outWidth) = (rows.count, columns.count)
    var y = [Float](repeating: 0, count: planes * outHeight * outWidth)
    for plane in 0..<planes {
        let inBase = plane * height * width
        let outBase = plane * outHeight * outWidth
        for (oh, (h0, h1, hl)) in rows.enumerated() {
            for (ow, (w0, w1, wl)) in columns.enumerated() {
                let top = (1 - wl) * x[inBase + h0 * width + w0] + wl * x[inBase + h0 * width + w1]
                let bottom = (1 - wl) * x[inBase + h1 * width + w0] + wl * x[inBase + h1 * width + w1]
                y[outBase + oh * outWidth + ow] = nearest ? x[inBase + h0 * width + w0] : (1 - hl) * top + hl * bottom
            }
        }
    }
    return y
}

/// PyTorch's float scale: `1 / scale_factor` when one was given, else `in / out`.
private func sourceScale(input: Int, output: Int, scale: Double?) -> Float {
    if let scale, scale > 0 { return Float(1.0 / scale) }
    return Float(input) / Float(output)
}

/// `nearest`: source `floor(dst * scale)`, the identity when the sizes agree.
func nearestTaps(input: Int, output: Int, scale: Double?) -> [SourceTaps] {
    let factor = sourceScale(input: input, output: output, scale: scale)
    return (0..<output).map { index in
        let source = output == input ? index : Swift.min(Int((Float(index) * factor).rounded(.down)), input - 1)
        return (source, source, 0)
    }
}

/// `bilinear`: source `(dst + 0.5) * scale - 0.5` clamped at 0, or `dst * (in - 1) / (out - 1)`
/// with `alignCorners`; the lower index, the next one, and the weight of the next.
func linearTaps(input: Int, output: Int, scale: Double?, alignCorners: Bool) -> [SourceTaps] {
    let factor: Float =
        alignCorners
        ? (output > 1 ? Float(input - 1) / Float(output - 1) : 0)
        : sourceScale(input: input, output: output, scale: scale)
    return (0..<output).map { index in
        let source: Float =
            alignCorners
            ? factor * Float(index)
            : Swift.max(factor * (Float(index) + 0.5) - 0.5, 0)
        let lower = Swift.min(Int(source), input - 1)
        let upper = lower + (lower < input - 1 ? 1 : 0)
        let weight = Swift.min(Swift.max(source - Float(lower), 0), 1)
        return (lower, upper, weight)
    }
}
