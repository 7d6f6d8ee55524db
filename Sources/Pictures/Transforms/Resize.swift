extension Picture {
    /// The picture resized to `width` x `height` as PIL's `Image.resize((width, height), filter)`
    /// makes it, sample for sample: the filter widened by the scale when shrinking
    /// (antialiasing), one pass per axis that changes, each rounded and clipped to the sample
    /// range (8-bit: coefficients in 22-bit fixed point; `I;16`: in double precision). Channels
    /// are resampled one by one (PIL premultiplies alpha first; zoo's pipelines convert to L or
    /// RGB before resizing).
    public func resized(width newWidth: Int, height newHeight: Int, interpolation: Interpolation = .bilinear) -> Picture {
        precondition(newWidth > 0 && newHeight > 0, "a picture needs a positive size")
        if newWidth == width && newHeight == height { return self }
        if mode == .I16 {
            let plane = SamplePlane(values: words.map(Double.init), rows: height, columns: width, channels: 1)
                .resized(width: newWidth, height: newHeight, interpolation: interpolation, arithmetic: WordArithmetic.self)
            return Picture(width: newWidth, height: newHeight, grey16: plane.values.map { UInt16($0) })
        }
        let plane = SamplePlane(values: bytes.map(Int32.init), rows: height, columns: width, channels: mode.channels)
            .resized(width: newWidth, height: newHeight, interpolation: interpolation, arithmetic: ByteArithmetic.self)
        return Picture(width: newWidth, height: newHeight, mode: mode, bytes: plane.values.map { UInt8($0) })
    }
}

/// Samples row-major with channels interleaved, as a resampling pass reads and writes them.
struct SamplePlane<Value> {
    var values: [Value]
    var rows: Int
    var columns: Int
    let channels: Int

    /// Which pass runs first, as Pillow 13 decides it (python-pillow/Pillow#9549): vertical when
    /// the height loses more than twice as many rows as the width loses columns, horizontal
    /// otherwise (Pillow 12 and older: always horizontal). The order shows in the result, since
    /// the intermediate picture is rounded and clipped: by a level with bilinear, by several with
    /// bicubic, whose overshoot the first pass clips (a 23x41 RGB picture resized to 20x16 moves
    /// by 4 levels when done horizontally first).
    static func verticalFirst(width: Int, height: Int, newWidth: Int, newHeight: Int) -> Bool {
        newHeight < height && height - newHeight > 2 * (width - newWidth)
    }

    func resized<Arithmetic: ResampleArithmetic>(
        width newWidth: Int, height newHeight: Int, interpolation: Interpolation, arithmetic: Arithmetic.Type
    ) -> SamplePlane where Arithmetic.Value == Value {
        let vertical = Self.verticalFirst(width: columns, height: rows, newWidth: newWidth, newHeight: newHeight)
        var plane = self
        for alongRows in vertical ? [false, true] : [true, false] {
            let (inSize, outSize) = alongRows ? (plane.columns, newWidth) : (plane.rows, newHeight)
            if inSize == outSize { continue }
            let coefficients = ResampleCoefficients(inSize: inSize, outSize: outSize, filter: interpolation)
            plane = plane.resampled(alongRows: alongRows, coefficients, arithmetic: arithmetic)
        }
        return plane
    }

    /// One pass (Pillow's `ImagingResampleHorizontal` when `alongRows`, `ImagingResampleVertical`
    /// otherwise): each output sample from the run of input samples its coefficients name.
    func resampled<Arithmetic: ResampleArithmetic>(
        alongRows: Bool, _ coefficients: ResampleCoefficients, arithmetic: Arithmetic.Type
    ) -> SamplePlane where Arithmetic.Value == Value {
        let weights = Arithmetic.weights(coefficients)
        let outRows = alongRows ? rows : coefficients.outSize
        let outColumns = alongRows ? coefficients.outSize : columns
        // From one input sample of a run to the next: a pixel along a row, a row down a column.
        let step = alongRows ? channels : columns * channels
        var out = [Value](repeating: Arithmetic.start, count: outRows * outColumns * channels)
        for row in 0..<outRows {
            for column in 0..<outColumns {
                let output = alongRows ? column : row
                let (start, count) = coefficients.bounds[output]
                let base = output * coefficients.kernelSize
                let first = alongRows ? (row * columns + start) * channels : (start * columns + column) * channels
                for channel in 0..<channels {
                    var sum = Arithmetic.start
                    for k in 0..<count {
                        sum = Arithmetic.accumulate(sum, values[first + k * step + channel], weights[base + k])
                    }
                    out[(row * outColumns + column) * channels + channel] = Arithmetic.store(sum)
                }
            }
        }
        return SamplePlane(values: out, rows: outRows, columns: outColumns, channels: channels)
    }
}

/// How a pass sums and stores: the only difference between PIL's 8-bit and 16-bit resampling.
/// Static, so that the pass loop is specialised for each rather than calling through closures.
protocol ResampleArithmetic {
    associatedtype Value
    associatedtype Weight
    static func weights(_ coefficients: ResampleCoefficients) -> [Weight]
    static var start: Value { get }
    static func accumulate(_ sum: Value, _ sample: Value, _ weight: Weight) -> Value
    static func store(_ sum: Value) -> Value
}

/// 8-bit samples (Pillow's `_8bpc` passes): 32-bit integer sums of fixed-point weights, started
/// at a half for rounding, shifted back and clipped to 0...255.
enum ByteArithmetic: ResampleArithmetic {
    static func weights(_ coefficients: ResampleCoefficients) -> [Int32] { coefficients.fixedPointWeights }
    static var start: Int32 { 1 << (ResampleCoefficients.precisionBits - 1) }
    static func accumulate(_ sum: Int32, _ sample: Int32, _ weight: Int32) -> Int32 { sum &+ sample &* weight }
    static func store(_ sum: Int32) -> Int32 { min(max(sum >> ResampleCoefficients.precisionBits, 0), 255) }
}

/// 16-bit grey (Pillow's `_16bpc` passes): double sums, rounded half up and clipped to 0...65535.
enum WordArithmetic: ResampleArithmetic {
    static func weights(_ coefficients: ResampleCoefficients) -> [Double] { coefficients.weights }
    static var start: Double { 0 }
    static func accumulate(_ sum: Double, _ sample: Double, _ weight: Double) -> Double { sum + sample * weight }
    static func store(_ sum: Double) -> Double { min(max((sum + 0.5).rounded(.down), 0), 65535) }
}
