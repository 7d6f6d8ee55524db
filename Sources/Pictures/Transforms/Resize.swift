import Foundation

extension Picture {
    /// The picture resized to `width` x `height` with PIL's bilinear filter, as
    /// `Image.resize((width, height), Image.BILINEAR)`: a triangle filter widened by the scale
    /// when shrinking (antialiasing), coefficients in 22-bit fixed point, a horizontal pass then
    /// a vertical one, each rounded and clipped to 8 bits. Channels are resampled one by one
    /// (PIL premultiplies alpha first; zoo's pipelines convert to L or RGB before resizing).
    public func resized(width newWidth: Int, height newHeight: Int) -> Picture {
        precondition(newWidth > 0 && newHeight > 0, "a picture needs a positive size")
        if newWidth == width && newHeight == height { return self }
        if mode == .I16 {
            let horizontal = BilinearCoefficients(inSize: width, outSize: newWidth)
            let vertical = BilinearCoefficients(inSize: height, outSize: newHeight)
            let values = words.map(Double.init)
            let stepped = horizontal.apply(values, rows: height, columns: width, channels: 1, alongRows: true, round: roundWord)
            let done = vertical.apply(stepped, rows: height, columns: newWidth, channels: 1, alongRows: false, round: roundWord)
            return Picture(width: newWidth, height: newHeight, grey16: done.map { UInt16($0) })
        }
        var samples = bytes.map(Int32.init)
        var columns = width
        if newWidth != width {
            samples = BilinearCoefficients(inSize: width, outSize: newWidth).apply8(
                samples, rows: height, columns: width, channels: mode.channels, alongRows: true)
            columns = newWidth
        }
        if newHeight != height {
            samples = BilinearCoefficients(inSize: height, outSize: newHeight).apply8(
                samples, rows: height, columns: columns, channels: mode.channels, alongRows: false)
        }
        return Picture(width: newWidth, height: newHeight, mode: mode, bytes: samples.map { UInt8($0) })
    }

    private func roundWord(_ value: Double) -> Double { min(max((value + 0.5).rounded(.down), 0), 65535) }
}

/// Pillow's `precompute_coeffs` for the bilinear (triangle) filter, support 1.
struct BilinearCoefficients {
    static let precisionBits: Int32 = 32 - 8 - 2
    let outSize: Int
    let kernelSize: Int
    /// Per output index: first input index and count.
    var bounds: [(start: Int, count: Int)] = []
    var weights: [Double] = []

    init(inSize: Int, outSize: Int) {
        self.outSize = outSize
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = 1.0 * filterScale
        kernelSize = Int(support.rounded(.up)) * 2 + 1
        weights = [Double](repeating: 0, count: outSize * kernelSize)
        for output in 0..<outSize {
            let center = (Double(output) + 0.5) * scale
            var total = 0.0
            let inverse = 1.0 / filterScale
            let start = max(Int(center - support + 0.5), 0)
            let end = min(Int(center + support + 0.5), inSize)
            let count = end - start
            for x in 0..<max(count, 0) {
                let distance = abs((Double(x + start) - center + 0.5) * inverse)
                let weight = distance < 1 ? 1 - distance : 0
                weights[output * kernelSize + x] = weight
                total += weight
            }
            if total != 0 { for x in 0..<max(count, 0) { weights[output * kernelSize + x] /= total } }
            bounds.append((start, max(count, 0)))
        }
    }

    /// Pillow's `normalize_coeffs_8bpc` and `ImagingResample{Horizontal,Vertical}_8bpc`.
    func apply8(_ samples: [Int32], rows: Int, columns: Int, channels: Int, alongRows: Bool) -> [Int32] {
        let one = Double(1 << Self.precisionBits)
        let fixed = weights.map { $0 < 0 ? Int32(-0.5 + $0 * one) : Int32(0.5 + $0 * one) }
        let outRows = alongRows ? rows : outSize
        let outColumns = alongRows ? outSize : columns
        var out = [Int32](repeating: 0, count: outRows * outColumns * channels)
        let half: Int32 = 1 << (Self.precisionBits - 1)
        for row in 0..<outRows {
            for column in 0..<outColumns {
                let (start, count) = bounds[alongRows ? column : row]
                let base = (alongRows ? column : row) * kernelSize
                for channel in 0..<channels {
                    var sum = half
                    for k in 0..<count {
                        let sourceRow = alongRows ? row : start + k
                        let sourceColumn = alongRows ? start + k : column
                        sum &+= samples[(sourceRow * columns + sourceColumn) * channels + channel] &* fixed[base + k]
                    }
                    out[(row * outColumns + column) * channels + channel] = min(max(sum >> Self.precisionBits, 0), 255)
                }
            }
        }
        return out
    }

    /// The same in double precision, for 16-bit grey.
    func apply(
        _ samples: [Double], rows: Int, columns: Int, channels: Int, alongRows: Bool, round: (Double) -> Double
    ) -> [Double] {
        let outRows = alongRows ? rows : outSize
        let outColumns = alongRows ? outSize : columns
        var out = [Double](repeating: 0, count: outRows * outColumns * channels)
        for row in 0..<outRows {
            for column in 0..<outColumns {
                let (start, count) = bounds[alongRows ? column : row]
                let base = (alongRows ? column : row) * kernelSize
                for channel in 0..<channels {
                    var sum = 0.0
                    for k in 0..<count {
                        let sourceRow = alongRows ? row : start + k
                        let sourceColumn = alongRows ? start + k : column
                        sum += samples[(sourceRow * columns + sourceColumn) * channels + channel] * weights[base + k]
                    }
                    out[(row * outColumns + column) * channels + channel] = round(sum)
                }
            }
        }
        return out
    }
}
