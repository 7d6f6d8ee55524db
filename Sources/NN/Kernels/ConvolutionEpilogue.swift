import Foundation
import Tensor

/// What a convolution applies to its output in the same pass: a following eval-mode
/// BatchNorm's per-channel map, then an activation. The float operations are those the layers
/// would do one after the other, so the results are the same.
struct ConvolutionEpilogue {
    var scale: [Float]?
    var shift: [Float]?
    var activation: ConvolutionActivation?

    init(scale: [Float]?, shift: [Float]?, activation: ConvolutionActivation?) {
        self.scale = scale
        self.shift = shift
        self.activation = activation
    }

    init(scale: [Float]?, shift: [Float]?, relu: Bool) {
        self.init(scale: scale, shift: shift, activation: relu ? .relu : nil)
    }

    /// `destination = activation?((source + bias) * scale + shift)` for one channel's values, one
    /// specialised loop per common case so that each vectorises; `source` may be `destination`.
    @inline(__always)
    func apply(_ source: UnsafePointer<Float>, into destination: UnsafeMutablePointer<Float>, count: Int, bias: Float, channel: Int) {
        let shift = self.shift?[channel] ?? 0
        switch (scale?[channel], activation) {
        case (let a?, .relu?):
            for index in 0..<count {
                let value = (source[index] + bias) * a + shift
                // ReLU's result for every input, NaN included (0 >= NaN is false), as a select.
                destination[index] = 0 >= value ? 0 : value
            }
        case (let a?, nil):
            for index in 0..<count { destination[index] = (source[index] + bias) * a + shift }
        case (nil, .relu?):
            for index in 0..<count {
                let value = source[index] + bias
                destination[index] = 0 >= value ? 0 : value
            }
        case (nil, nil):
            for index in 0..<count { destination[index] = source[index] + bias }
        case (let a, let activation?):
            let a = a ?? 1
            for index in 0..<count { destination[index] = activation.apply((source[index] + bias) * a + shift) }
        }
    }

    /// The epilogue without the activation zoo's vector kernels run as a pass of their own over
    /// the whole output after the per-channel map (``VectorActivation``), a pass that costs less
    /// than a scalar exp per element, and that activation: SiLU always, sigmoid when `sigmoid`
    /// (on plain planes; a blocked layout's padding must stay 0, which sigmoid does not keep).
    /// Nil for the rest when nothing else is left.
    func separatingVectorActivation(sigmoid: Bool) -> (rest: ConvolutionEpilogue?, vector: VectorActivation?) {
        let vector: VectorActivation? =
            switch activation {
            case .silu?: .silu
            case .sigmoid? where sigmoid: .sigmoid
            default: nil
            }
        guard let vector else { return (self, nil) }
        return (scale == nil && shift == nil ? nil : ConvolutionEpilogue(scale: scale, shift: shift, activation: nil), vector)
    }

    /// The epilogue applied to NCHW `input` (no bias), read once and written once: an eval-mode
    /// BatchNorm and its activation as one pass (a SiLU or sigmoid as a second).
    func applied(toPlanesOf input: Tensor) -> Tensor {
        let (channels, plane) = (input.shape[1], input.shape[2] * input.shape[3])
        let (rest, vector) = separatingVectorActivation(sigmoid: true)
        let x = input.scalars
        let y = [Float](unsafeUninitializedCapacity: x.count) { buffer, initialized in
            x.withUnsafeBufferPointer { source in
                guard let first = source.baseAddress, let target = buffer.baseAddress else { return }
                if let rest {
                    for index in 0..<(source.count / Swift.max(1, plane)) {
                        let offset = index * plane
                        rest.apply(first + offset, into: target + offset, count: plane, bias: 0, channel: index % channels)
                    }
                }
                vector?.apply(rest == nil ? first : UnsafePointer(target), into: target, count: source.count)
            }
            initialized = x.count
        }
        return Tensor(shape: input.shape, scalars: y)
    }

    /// Applies the epilogue in place to NCHW values whose bias is already added.
    func apply(toPlanesOf values: inout [Float], channels: Int, plane: Int) {
        let (rest, vector) = separatingVectorActivation(sigmoid: true)
        values.withUnsafeMutableBufferPointer { buffer in
            guard let first = buffer.baseAddress else { return }
            if let rest {
                for index in 0..<(buffer.count / Swift.max(1, plane)) {
                    let start = first + index * plane
                    rest.apply(start, into: start, count: plane, bias: 0, channel: index % channels)
                }
            }
            vector?.apply(first, into: first, count: buffer.count)
        }
    }
}

/// An element-wise function a convolution can apply to its output: one that oneDNN's post-ops
/// also offer, so that oneDNN applies it inside the convolution when nothing comes before it.
enum ConvolutionActivation: Hashable {
    /// `max(0, x)`, NaN kept.
    case relu
    /// `min(max(x, low), high)`, NaN kept (hardtanh, ReLU6).
    case clamp(low: Float, high: Float)
    /// `x * sigmoid(x)` (SiLU, swish).
    case silu
    /// `1 / (1 + exp(-x))` (the gates of squeeze-and-excitation blocks).
    case sigmoid
    /// `x * relu6(x + 3) / 6`.
    case hardswish

    @inline(__always)
    func apply(_ value: Float) -> Float {
        switch self {
        case .relu: return 0 >= value ? 0 : value
        case .clamp(let low, let high): return value.isNaN ? value : Swift.min(Swift.max(value, low), high)
        case .silu: return value / (1 + expf(-value))
        case .sigmoid: return 1 / (1 + expf(-value))
        case .hardswish: return value * Swift.min(Swift.max(value + 3, 0), 6) / 6
        }
    }

    /// Whether the activation maps 0 to 0, so that it may run over a blocked layout's padding.
    var keepsZero: Bool {
        switch self {
        case .relu, .silu, .hardswish: true
        case .sigmoid: false
        case .clamp(let low, let high): low <= 0 && high >= 0
        }
    }
}
