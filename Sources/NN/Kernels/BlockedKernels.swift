internal import CKernels
import Tensor

/// zoo's own element-wise work on activations in oneDNN's blocked layout, so that the values
/// between two convolutions need not leave it. Each maps zero padding to zero padding, works on
/// one 16-channel block (one vector) at a time, and runs the blocks on the compute threads.

/// `body(sample, block, start)` for every 16-channel block of every sample of `x`, `start`
/// being the block's first float.
/// `costPerFloat` is in ``parallelFor(_:costPerIndex:_:)``'s elementary operations (an exp about 16).
private func forEachBlock(_ x: BlockedActivation, costPerFloat: Int = 1, _ body: @Sendable (Int, Int, Int) -> Void) {
    let blocks = x.paddedChannels / 16
    let span = x.shape[2] * x.shape[3] * 16
    parallelFor(x.shape[0] * blocks, costPerIndex: span * costPerFloat) { index in body(index / blocks, index % blocks, index * span) }
}

@inline(__always)
private func vector(_ base: SharedPointer<Float>, _ offset: Int) -> SIMD16<Float> {
    UnsafeRawPointer(base.base + offset).loadUnaligned(as: SIMD16<Float>.self)
}

@inline(__always)
private func store(_ value: SIMD16<Float>, _ base: SharedPointer<Float>, _ offset: Int) {
    UnsafeMutableRawPointer(base.base + offset).storeBytes(of: value, as: SIMD16<Float>.self)
}

/// ReLU's result for every input, NaN included (`0 >= NaN` is false), lane by lane.
@inline(__always)
private func relu(_ value: SIMD16<Float>) -> SIMD16<Float> { value.replacing(with: 0, where: value .<= 0) }

/// `relu?(x * factors + shifts)` over one block's `pixels` pixels on CKernels' vector loop
/// (`zoo_blocked_channel_map_f32`: a vector operation a step where Swift's SIMD16 takes four SSE
/// ones); a nil `factors` or `shifts` skips that step.
@inline(__always)
private func mapBlock(
    _ source: UnsafePointer<Float>, _ destination: UnsafeMutablePointer<Float>, pixels: Int, factors: SIMD16<Float>?,
    shifts: SIMD16<Float>?, relu: Bool
) {
    withLanes(factors) { factors in
        withLanes(shifts) { shifts in zoo_blocked_channel_map_f32(source, destination, pixels, factors, shifts, relu ? 1 : 0) }
    }
}

/// `body` with a pointer to the 16 floats of `lanes`, or nil.
@inline(__always)
private func withLanes(_ lanes: SIMD16<Float>?, _ body: (UnsafePointer<Float>?) -> Void) {
    guard var lanes else { return body(nil) }
    withUnsafeBytes(of: &lanes) { body($0.baseAddress?.assumingMemoryBound(to: Float.self)) }
}

/// 16 of `values`' entries from `first`, zeros past `values`' end (padding channels).
private func lanes(_ values: [Float], from first: Int, upTo end: Int) -> SIMD16<Float> {
    var lanes = SIMD16<Float>(repeating: 0)
    for lane in 0..<16 where first + lane < end { lanes[lane] = values[first + lane] }
    return lanes
}

/// `a + b` (then `relu` when asked) for two blocked activations of one shape; the same float
/// operations as on plain tensors, padding included (0 + 0).
func blockedAdd(_ a: BlockedActivation, _ b: BlockedActivation, thenReLU: Bool) throws(OneDNNFallback) -> BlockedActivation {
    let sum = try BlockedActivation(shape: a.shape)
    let (x, y, z) = (SharedPointer(a.floats), SharedPointer(b.floats), SharedPointer(sum.floats))
    let pixels = a.shape[2] * a.shape[3]
    forEachBlock(a) { _, _, start in
        for offset in stride(from: start, to: start + pixels * 16, by: 16) {
            let value = vector(x, offset) + vector(y, offset)
            store(thenReLU ? relu(value) : value, z, offset)
        }
    }
    return sum
}

/// `x * s` for a blocked `x` `(N, C, H, W)` and plain `s` `(N, C, 1, 1)` (squeeze-and-excitation);
/// the padding channels are scaled by 0. With `overwriting`, the product is written over `x`
/// (the caller's last use of it, held nowhere else): one read and one write of each cache line
/// instead of a second buffer's.
func blockedScaleChannels(_ x: BlockedActivation, by scales: [Float], overwriting: Bool = false) throws(OneDNNFallback)
    -> BlockedActivation
{
    let scaled = overwriting ? x : try BlockedActivation(shape: x.shape)
    let (source, destination) = (SharedPointer(x.floats), SharedPointer(scaled.floats))
    let (channels, pixels) = (x.shape[1], x.shape[2] * x.shape[3])
    forEachBlock(x) { sample, block, start in
        let factors = lanes(scales, from: sample * channels + block * 16, upTo: sample * channels + channels)
        mapBlock(source.base + start, destination.base + start, pixels: pixels, factors: factors, shifts: nil, relu: false)
    }
    return scaled
}

/// Blocked activations of one batch and spatial size side by side along the channels; every
/// part but the last has whole 16-channel blocks, so each sample's blocks are copied as they are.
func blockedConcatenation(_ parts: [BlockedActivation]) throws(OneDNNFallback) -> BlockedActivation {
    let first = parts[0].shape
    let output = try BlockedActivation(shape: [first[0], parts.reduce(0) { $0 + $1.shape[1] }, first[2], first[3]])
    let plane = first[2] * first[3]
    let sampleSpan = output.paddedChannels * plane
    for sample in 0..<first[0] {
        var offset = sample * sampleSpan
        for part in parts {
            let span = part.paddedChannels * plane
            (output.floats + offset).update(from: part.floats + sample * span, count: span)
            offset += span
        }
    }
    return output
}

/// `relu(x * scale + shift)` per channel of a blocked `x` (an eval-mode BatchNorm and its ReLU),
/// with the float operations of the plain pass; padding channels map to 0.
func blockedAffineReLU(_ x: BlockedActivation, scale: [Float], shift: [Float]) throws(OneDNNFallback) -> BlockedActivation {
    let output = try BlockedActivation(shape: x.shape)
    applyBlockedEpilogue(ConvolutionEpilogue(scale: scale, shift: shift, activation: .relu), from: x, to: output)
    return output
}

/// `epilogue` (no bias) from `x` into `y` of the same shape, which may be `x`, with
/// ``ConvolutionEpilogue/apply(_:into:count:bias:channel:)``'s float operations; padding channels
/// get scale and shift 0, so an activation that keeps 0 (``ConvolutionActivation/keepsZero``)
/// keeps them 0.
func applyBlockedEpilogue(_ epilogue: ConvolutionEpilogue, from x: BlockedActivation, to y: BlockedActivation) {
    let (rest, vector) = epilogue.separatingVectorActivation(sigmoid: false)
    if let rest { applyBlockedMap(rest, from: x, to: y) }
    // Over the padding channels too: SiLU keeps their zeros.
    vector?.apply(rest == nil ? x.floats : y.floats, into: y.floats, count: y.paddedCount)
}

/// ``applyBlockedEpilogue(_:from:to:)`` for an epilogue without a SiLU.
private func applyBlockedMap(_ epilogue: ConvolutionEpilogue, from x: BlockedActivation, to y: BlockedActivation) {
    let (source, destination) = (SharedPointer(x.floats), SharedPointer(y.floats))
    let (channels, pixels) = (x.shape[1], x.shape[2] * x.shape[3])
    forEachBlock(x) { _, block, start in
        let factors = epilogue.scale.map { lanes($0, from: block * 16, upTo: channels) }
        let shifts = epilogue.shift.map { lanes($0, from: block * 16, upTo: channels) } ?? SIMD16(repeating: 0)
        if epilogue.activation == nil || epilogue.activation == .relu {
            mapBlock(
                source.base + start, destination.base + start, pixels: pixels, factors: factors, shifts: shifts,
                relu: epilogue.activation != nil)
            return
        }
        for offset in stride(from: start, to: start + pixels * 16, by: 16) {
            var value = vector(source, offset) + 0
            if let factors { value = value * factors + shifts } else { value += shifts }
            switch epilogue.activation {
            case nil: break
            case .relu?: value = relu(value)
            case let activation?: for lane in 0..<16 { value[lane] = activation.apply(value[lane]) }
            }
            store(value, destination, offset)
        }
    }
}

/// The mean of each channel's plane of a blocked `x`, as a plain `(N, C, 1, 1)` tensor: each
/// channel summed in float over its pixels in row-major order, as the plain pooling does.
func blockedChannelMeans(_ x: BlockedActivation) -> Tensor {
    let source = SharedPointer(x.floats)
    let pixels = x.shape[2] * x.shape[3]
    return channelMeans(of: x) { _, _, start in blockSums(source, start: start, pixels: pixels) }
}

/// The 16 sums over `pixels` pixels of the block whose first float is `start`, added in pixel order.
func blockSums(_ source: SharedPointer<Float>, start: Int, pixels: Int) -> SIMD16<Float> {
    var sums = SIMD16<Float>(repeating: 0)
    for offset in stride(from: start, to: start + pixels * 16, by: 16) { sums += vector(source, offset) }
    return sums
}

/// SiLU over a blocked `x` in place, and the mean of each channel's plane of the result as
/// ``blockedChannelMeans(_:)`` gives it (the same sums), taken as the SiLU writes each block: a
/// squeeze-and-excitation block pools the SiLU's output, which then needs no pass of its own.
func applyBlockedSiLUKeepingMeans(_ x: BlockedActivation) -> Tensor {
    let floats = SharedPointer(x.floats)
    let pixels = x.shape[2] * x.shape[3]
    return channelMeans(of: x, costPerFloat: 16) { _, _, start in
        var sums = SIMD16<Float>(repeating: 0)
        withUnsafeMutableBytes(of: &sums) { sums in
            zoo_silu_block_sums_f32(floats.base + start, floats.base + start, pixels, sums.baseAddress?.assumingMemoryBound(to: Float.self))
        }
        return sums
    }
}

/// The `(N, C, 1, 1)` means of a blocked `x`'s channels from `sums(sample, block, start)`, the 16
/// sums over the pixels of that block, whose first float is `start`, run for each block on the
/// compute threads (a pass that writes `x` may compute the block there and return its sums).
func channelMeans(of x: BlockedActivation, costPerFloat: Int = 1, _ sums: @Sendable (Int, Int, Int) -> SIMD16<Float>) -> Tensor {
    let (channels, pixels) = (x.shape[1], x.shape[2] * x.shape[3])
    let means = makeValues(zeroed: x.shape[0] * channels) { means in
        let target = SharedPointer(means)
        forEachBlock(x, costPerFloat: costPerFloat) { sample, block, start in
            storeMeans(sums(sample, block, start), sample: sample, block: block, channels: channels, pixels: pixels, into: target)
        }
    }
    return Tensor(shape: [x.shape[0], channels, 1, 1], scalars: means)
}

/// The `(N, C, 1, 1)` means of a blocked `x`'s channels from the 16 sums over the pixels of each
/// block, taken by a kernel that wrote `x` (`sums[(sample * blocks + block) * 16 + lane]`),
/// divided as ``channelMeans(of:costPerFloat:_:)`` divides them.
func channelMeans(of x: BlockedActivation, blockSums sums: UnsafeBufferPointer<Float>) -> Tensor {
    let (channels, pixels, blocks) = (x.shape[1], x.shape[2] * x.shape[3], x.paddedChannels / 16)
    let means = makeValues(zeroed: x.shape[0] * channels) { means in
        let target = SharedPointer(means)
        for sample in 0..<x.shape[0] {
            for block in 0..<blocks {
                let start = (sample * blocks + block) * 16
                let blockSums = SIMD16<Float>(sums[start..<(start + 16)])
                storeMeans(blockSums, sample: sample, block: block, channels: channels, pixels: pixels, into: target)
            }
        }
    }
    return Tensor(shape: [x.shape[0], channels, 1, 1], scalars: means)
}

/// One block's means, its 16 sums over `pixels` pixels, into `(N, C)` means (the padding lanes left out).
@inline(__always)
private func storeMeans(_ sums: SIMD16<Float>, sample: Int, block: Int, channels: Int, pixels: Int, into target: SharedPointer<Float>) {
    let averages = sums / Float(pixels)
    for lane in 0..<16 where block * 16 + lane < channels { target.base[sample * channels + block * 16 + lane] = averages[lane] }
}
