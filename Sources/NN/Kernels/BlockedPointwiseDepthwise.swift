internal import CKernels
import Tensor

/// A 1x1 convolution and the depthwise convolution that alone reads its output (an inverted
/// residual block's expansion and depthwise convolution, MobileNetV2's), on zoo's own kernel
/// (`zoo_pointwise_depthwise_f32`), which expands the input a row at a time into a ring of rows
/// as the depthwise window first needs them: the expanded tensor never leaves the cache.
///
/// - input: `(N, C_in, H, W)` in the blocked layout (``BlockedActivation``).
/// - pointwise weight: `(C_mid, C_in, 1, 1)`, as PyTorch stores it; bias: `(C_mid)`; then its
///   activation, then the depthwise convolution of `C_mid` channels (``BlockedDepthwise``).
/// - output: `(N, C_mid, H_out, W_out)` in the blocked layout, with
///   `H_out = (H + 2 * padding - kernel) / stride + 1` and `W_out` likewise.
///
/// oneDNN 2.6 runs such a pair (a convolution with a depthwise post-op, on f32) as its two
/// kernels one after the other, the whole expanded tensor between them.
struct BlockedPointwiseDepthwise: BlockedKernel {
    let inChannels: Int
    let depthwise: BlockedDepthwise
    private let activation: (code: Int32, low: Float, high: Float)
    private let pointwise: PointwiseKernelWeights

    /// The pair of `pointwiseWeight` (`(depthwise.channels, inChannels, 1, 1)`), `pointwiseBias`
    /// and `activation`, then `depthwise`; nil when the kernel does not run on this CPU or the
    /// activation is one it does not apply (``BlockedDepthwise/kernelActivation(_:)``).
    init?(
        pointwiseWeight: [Float], pointwiseBias: [Float]?, inChannels: Int, activation: ConvolutionActivation?, depthwise: BlockedDepthwise
    ) {
        guard Self.runs(kernel: depthwise.kernel, stride: depthwise.stride),
            let activation = BlockedDepthwise.kernelActivation(activation),
            let pointwise = PointwiseKernelWeights(
                weight: pointwiseWeight, bias: pointwiseBias, inChannels: inChannels, outChannels: depthwise.channels)
        else { return nil }
        (self.inChannels, self.depthwise, self.activation, self.pointwise) = (inChannels, depthwise, activation, pointwise)
    }

    /// Whether the kernel runs on this CPU for a depthwise `kernel` and `stride` (vector code,
    /// AVX-512, as zoo's depthwise kernel).
    static func runs(kernel: Int, stride: Int) -> Bool { zoo_pointwise_depthwise_is_vectorised(kernel, stride) != 0 }

    /// The output shape for an input of `shape` `(N, C_in, H, W)`.
    func outputShape(for shape: [Int]) -> [Int] { depthwise.outputShape(for: [shape[0], depthwise.channels, shape[2], shape[3]]) }

    /// Both convolutions of `input`, whose channels must be ``inChannels`` and whose planes must
    /// be at least one depthwise window (padding included) in each direction. With
    /// `keepingMeans`, the output keeps its channels' means (``BlockedActivation/channelMeans``),
    /// the sums added in the order ``blockedChannelMeans(_:)`` adds them.
    func run(_ input: BlockedActivation, keepingMeans: Bool = false) throws(OneDNNFallback) -> BlockedActivation {
        let (kernel, padding) = (depthwise.kernel, depthwise.padding)
        guard input.shape.count == 4, input.shape[1] == inChannels, input.shape[2] + 2 * padding >= kernel,
            input.shape[3] + 2 * padding >= kernel
        else { throw .failed(call: "zoo_pointwise_depthwise_f32", status: .invalidArguments) }
        let middleShape = [input.shape[0], depthwise.channels, input.shape[2], input.shape[3]]
        let output = try BlockedActivation(shape: outputShape(for: input.shape))
        let shape = zoo_pointwise_depthwise_shape(
            depthwise: depthwise.kernelShape(forInput: middleShape), in_channels: inChannels, activation: activation.code,
            low: activation.low, high: activation.high)
        // Each sample's output rows (row r of block r / rows) in parts: each part expands the
        // rows its own window needs. For the means, each part adds up the blocks it writes
        // whole, and a block two parts share is added up after.
        let (samples, blocks, rows) = (input.shape[0], output.paddedChannels / 16, output.shape[2])
        let parts = partsPerSample(samples)
        let sums = keepingMeans ? UnsafeMutableBufferPointer<Float>.allocate(capacity: samples * blocks * 16) : nil
        defer { sums?.deallocate() }
        let sumsBase = sums.map { SharedPointer($0.baseAddress!) }
        /// Part `part`'s output rows `first ..< end` of a sample's.
        @Sendable func range(_ part: Int) -> (first: Int, end: Int) { (blocks * rows * part / parts, blocks * rows * (part + 1) / parts) }
        let (source, destination) = (SharedPointer(input.floats), SharedPointer(output.floats))
        let (sourceSample, destinationSample) = (input.paddedCount / samples, output.paddedCount / samples)
        pointwise.weights.withUnsafeBufferPointer { pointwiseWeights in
            pointwise.bias.withUnsafeBufferPointer { pointwiseBias in
                depthwise.packedWeights.withUnsafeBufferPointer { depthwiseWeights in
                    depthwise.packedBias.withUnsafeBufferPointer { depthwiseBias in
                        let weights = (
                            SharedPointer(pointwiseWeights.baseAddress!), SharedPointer(pointwiseBias.baseAddress!),
                            SharedPointer(depthwiseWeights.baseAddress!), SharedPointer(depthwiseBias.baseAddress!)
                        )
                        parallelFor(samples * parts) { item in
                            let (sample, part) = item.quotientAndRemainder(dividingBy: parts)
                            let (first, end) = range(part)
                            guard end > first else { return }
                            let touched = (end - 1) / rows - first / rows + 1
                            let partSums = sumsBase.map { _ in UnsafeMutablePointer<Float>.allocate(capacity: touched * 16) }
                            defer { partSums?.deallocate() }
                            withUnsafePointer(to: shape) { shape in
                                let ring = UnsafeMutablePointer<Float>.allocate(
                                    capacity: zoo_pointwise_depthwise_ring_floats(shape, first, end))
                                defer { ring.deallocate() }
                                zoo_pointwise_depthwise_f32(
                                    source.base + sample * sourceSample, weights.0.base, weights.1.base, weights.2.base, weights.3.base,
                                    destination.base + sample * destinationSample, shape, first, end, ring, partSums)
                            }
                            guard let partSums, let sumsBase else { return }
                            for block in (first / rows)...((end - 1) / rows) where block * rows >= first && (block + 1) * rows <= end {
                                (sumsBase.base + (sample * blocks + block) * 16).update(
                                    from: partSums + (block - first / rows) * 16, count: 16)
                            }
                        }
                    }
                }
            }
        }
        if let sums {
            let pixels = output.shape[2] * output.shape[3]
            for sample in 0..<samples {
                for part in 1..<parts where range(part).first % rows != 0 {
                    let block = range(part).first / rows
                    let split = blockSums(destination, start: sample * destinationSample + block * pixels * 16, pixels: pixels)
                    for lane in 0..<16 { sums[(sample * blocks + block) * 16 + lane] = split[lane] }
                }
            }
            output.keep(channelMeans: channelMeans(of: output, blockSums: UnsafeBufferPointer(sums)))
        }
        return output
    }
}
