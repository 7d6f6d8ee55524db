import Tensor

/// What a convolution applies to its output in the same pass: a following eval-mode
/// BatchNorm's per-channel map, then ReLU. The float operations are those the layers would do
/// one after the other, so the results are the same.
struct ConvolutionEpilogue {
    var scale: [Float]?
    var shift: [Float]?
    var relu: Bool

    /// `destination = relu?((source + bias) * scale + shift)` for one channel's values, one
    /// specialised loop per case so that each vectorises; `source` may be `destination`.
    @inline(__always)
    func apply(_ source: UnsafePointer<Float>, into destination: UnsafeMutablePointer<Float>, count: Int, bias: Float, channel: Int) {
        let shift = self.shift?[channel] ?? 0
        switch (scale?[channel], relu) {
        case (let a?, true):
            for index in 0..<count {
                let value = (source[index] + bias) * a + shift
                // ReLU's result for every input, NaN included (0 >= NaN is false), as a select.
                destination[index] = 0 >= value ? 0 : value
            }
        case (let a?, false):
            for index in 0..<count { destination[index] = (source[index] + bias) * a + shift }
        case (nil, true):
            for index in 0..<count {
                let value = source[index] + bias
                destination[index] = 0 >= value ? 0 : value
            }
        case (nil, false):
            for index in 0..<count { destination[index] = source[index] + bias }
        }
    }

    /// Applies the epilogue in place to NCHW values whose bias is already added.
    func apply(toPlanesOf values: inout [Float], channels: Int, plane: Int) {
        values.withUnsafeMutableBufferPointer { buffer in
            for index in 0..<(buffer.count / Swift.max(1, plane)) {
                let start = buffer.baseAddress! + index * plane
                apply(start, into: start, count: plane, bias: 0, channel: index % channels)
            }
        }
    }
}
