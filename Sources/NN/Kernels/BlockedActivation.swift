internal import CDNNL
import Tensor

/// An NCHW activation held in oneDNN's 16-channel blocked layout (nChw16c), the layout its
/// blocked convolution kernels read and write: a graph passes it from one such layer to the next
/// rather than reordering it out to plain NCHW and back in around every convolution
/// (mobilenet_v2 b1: 99 of its 155 oneDNN calls were those reorders).
///
/// Channels are padded to a multiple of 16; the padding holds zeros, as oneDNN's kernels leave
/// it and as they expect to find it, so element-wise work over the whole buffer must map 0 to 0.
// @unchecked: a oneDNN memory layout (C struct) and a buffer written by the one call that makes
// the value, then only read; or, at the value's last use when nothing else holds it, once more by
// a convolution that adds into it (OneDNNPlans.convolve(_:shape:weight:bias:addingTo:
// overwritingResidual:activation:)) or a channel scaling. A growing concatenation's prefixes share
// a buffer that is only appended to past every prefix, and are never written over (sharesBuffer).
// channelMeans is set, like the buffer, by the call that makes the value, before anything reads it.
final class BlockedActivation: @unchecked Sendable {
    /// `(N, C, H, W)`, the logical shape.
    let shape: [Int]
    let layout: dnnl_memory_desc_t
    let buffer: OneDNNBuffer
    /// Whether `buffer` is also other activations': the first channels of a growing
    /// concatenation's (``GraphLayoutValues/growingConcatenation(of:parts:capacity:)``), which
    /// nothing may write over.
    let sharesBuffer: Bool
    /// The `(N, C, 1, 1)` means of the channels' planes, when the call that made the value took
    /// them on the way (``applyBlockedSiLUKeepingMeans(_:)``) for a pooling that reads it.
    private(set) var channelMeans: Tensor?

    /// An uninitialised activation of `shape` (rank 4) in the blocked layout.
    init(shape: [Int]) throws(OneDNNFallback) {
        self.shape = shape
        layout = try Self.layout(for: shape)
        buffer = OneDNNBuffer(layout)
        sharesBuffer = false
    }

    /// An uninitialised activation of `shape` in `layout`, which must be the blocked layout of
    /// `shape` (a primitive's queried one that ``matches(_:_:)`` it).
    init(shape: [Int], layout: dnnl_memory_desc_t) {
        self.shape = shape
        self.layout = layout
        buffer = OneDNNBuffer(layout)
        sharesBuffer = false
    }

    /// The first `shape[1]` channels of `buffer`, which holds one sample of more channels of the
    /// same height and width: for one sample, a channel prefix of nChw16c is the nChw16c of those
    /// channels (each 16-channel block is one plane of 16-float pixels, in channel order).
    init(channelPrefixOf buffer: OneDNNBuffer, shape: [Int]) throws(OneDNNFallback) {
        guard shape.first == 1 else { throw .failed(call: "dnnl_memory_desc_init_by_tag", status: .invalidArguments) }
        self.shape = shape
        layout = try Self.layout(for: shape)
        self.buffer = buffer
        sharesBuffer = true
    }

    /// nChw16c for `shape`.
    static func layout(for shape: [Int]) throws(OneDNNFallback) -> dnnl_memory_desc_t {
        guard shape.count == 4 else { throw .failed(call: "dnnl_memory_desc_init_by_tag", status: .invalidArguments) }
        var layout = dnnl_memory_desc_t()
        try OneDNN.describe(&layout, shape, dnnl_aBcd16b)
        return layout
    }

    /// Applies SiLU in place, keeping the channel means of the result (``channelMeans``); for
    /// the call that makes the value only.
    func applySiLUKeepingMeans() { channelMeans = applyBlockedSiLUKeepingMeans(self) }

    /// Keeps `means`, the `(N, C, 1, 1)` means of this value's channels, which the call that
    /// makes the value took on the way; for that call only.
    func keep(channelMeans means: Tensor) { channelMeans = means }

    /// Whether `other` is this activation's layout (a primitive's queried one can differ).
    func matches(_ other: dnnl_memory_desc_t) -> Bool { OneDNN.sameLayout(layout, other) }

    /// Whether `other` is the blocked layout of `shape`.
    static func matches(_ other: dnnl_memory_desc_t, _ shape: [Int]) throws(OneDNNFallback) -> Bool {
        OneDNN.sameLayout(try layout(for: shape), other)
    }

    /// Channels with their padding.
    var paddedChannels: Int { (shape[1] + 15) / 16 * 16 }

    /// A Linear's `weight` `(outputs, C * H * W)` over samples of `shape` `(N, C, H, W)` flattened
    /// in PyTorch's NCHW order, put into the order of a blocked sample's floats (its padded
    /// 16-channel blocks one after the other), zero for the padding channels: each row is then
    /// `paddedChannels * H * W` floats long, and the product reads the blocked activation where
    /// it is.
    static func flattenedWeights(_ weight: [Float], outputs: Int, shape: [Int]) -> [Float] {
        let (channels, plane) = (shape[1], shape[2] * shape[3])
        let rowLength = (channels + 15) / 16 * 16 * plane
        var blockedWeight = [Float](repeating: 0, count: outputs * rowLength)
        blockedWeight.withUnsafeMutableBufferPointer { target in
            weight.withUnsafeBufferPointer { source in
                for output in 0..<outputs {
                    for channel in 0..<channels {
                        let (block, lane) = channel.quotientAndRemainder(dividingBy: 16)
                        let (from, to) = ((output * channels + channel) * plane, output * rowLength + block * plane * 16 + lane)
                        for pixel in 0..<plane { target[to + pixel * 16] = source[from + pixel] }
                    }
                }
            }
        }
        return blockedWeight
    }

    /// Floats in the buffer, padding included.
    var paddedCount: Int { shape[0] * paddedChannels * shape[2] * shape[3] }

    var floats: UnsafeMutablePointer<Float> { buffer.pointer.assumingMemoryBound(to: Float.self) }

    /// A second activation with this one's values (its padding included).
    func copy() throws(OneDNNFallback) -> BlockedActivation {
        let copy = try BlockedActivation(shape: shape)
        copy.floats.update(from: floats, count: paddedCount)
        return copy
    }

    /// The activation as a plain NCHW tensor.
    func plain() throws(OneDNNFallback) -> Tensor {
        if shape[2] * shape[3] == 1 { return Tensor(shape: shape, scalars: plainPixelRows()) }
        let reorder = try Self.reorders.plan(for: BlockedReorderKey(shape: shape, toPlain: true)) { () throws(OneDNNFallback) in
            try Self.reorder(shape, toPlain: true)
        }
        var output = [Float](unsafeUninitializedCapacity: shape.reduce(1, *)) { buffer, count in count = buffer.count }
        try output.withUnsafeMutableBufferPointer { (plain) throws(OneDNNFallback) in
            try OneDNN.withStream { (stream) throws(OneDNNFallback) in
                try reorder.run(from: buffer.pointer, to: UnsafeMutableRawPointer(plain.baseAddress!), on: stream)
            }
        }
        return Tensor(shape: shape, scalars: output)
    }

    /// `tensor` (rank 4) in the blocked layout.
    static func blocked(_ tensor: Tensor) throws(OneDNNFallback) -> BlockedActivation {
        let value = try BlockedActivation(shape: tensor.shape)
        if tensor.shape[2] * tensor.shape[3] == 1 {
            tensor.scalars.withUnsafeBufferPointer { plain in if let base = plain.baseAddress { value.fillPixelRows(from: base) } }
            return value
        }
        let reorder = try reorders.plan(for: BlockedReorderKey(shape: tensor.shape, toPlain: false)) { () throws(OneDNNFallback) in
            try Self.reorder(tensor.shape, toPlain: false)
        }
        try tensor.scalars.withUnsafeBufferPointer { (plain) throws(OneDNNFallback) in
            try OneDNN.withStream { (stream) throws(OneDNNFallback) in
                try reorder.run(from: UnsafeMutableRawPointer(mutating: plain.baseAddress!), to: value.buffer.pointer, on: stream)
            }
        }
        return value
    }

    // For one pixel per channel (a squeeze-and-excitation's pooled values), each sample's channels
    // are consecutive in both layouts, the blocked rows padded to whole blocks: a copy per sample
    // does what a oneDNN reorder call would.

    /// The values of a one-pixel activation, plain.
    private func plainPixelRows() -> [Float] {
        let (samples, channels, padded) = (shape[0], shape[1], paddedChannels)
        return [Float](unsafeUninitializedCapacity: samples * channels) { buffer, count in
            for sample in 0..<samples {
                (buffer.baseAddress! + sample * channels).initialize(from: floats + sample * padded, count: channels)
            }
            count = samples * channels
        }
    }

    /// Fills a one-pixel activation from plain values, its padding with zeros.
    private func fillPixelRows(from plain: UnsafePointer<Float>) {
        let (samples, channels, padded) = (shape[0], shape[1], paddedChannels)
        floats.initialize(repeating: 0, count: paddedCount)
        for sample in 0..<samples { (floats + sample * padded).update(from: plain + sample * channels, count: channels) }
    }

    /// The reorders between plain and blocked, made once per shape and direction.
    private static let reorders = PlanCache<BlockedReorderKey, Reorder>()

    private static func reorder(_ shape: [Int], toPlain: Bool) throws(OneDNNFallback) -> Reorder {
        var plain = dnnl_memory_desc_t()
        try OneDNN.describe(&plain, shape, dnnl_nchw)
        let blocked = try layout(for: shape)
        let engine = try OneDNN.engine.get()
        let made = toPlain ? try Reorder.between(blocked, plain, engine: engine) : try Reorder.between(plain, blocked, engine: engine)
        guard let made else { throw .failed(call: "dnnl_reorder_primitive_desc_create", status: .invalidArguments) }
        return made
    }
}

private struct BlockedReorderKey: Hashable, Sendable {
    let shape: [Int]
    let toPlain: Bool
}

/// A value a layer reads or writes: a plain tensor, or one in oneDNN's blocked layout.
enum LayoutValue {
    case plain(Tensor)
    case blocked(BlockedActivation)

    var shape: [Int] {
        switch self {
        case .plain(let tensor): tensor.shape
        case .blocked(let value): value.shape
        }
    }

    /// The value as a plain tensor (reordered out when blocked).
    func plain() throws(OneDNNFallback) -> Tensor {
        switch self {
        case .plain(let tensor): tensor
        case .blocked(let value): try value.plain()
        }
    }
}
