internal import CKernels
import Tensor

/// An eval-mode BatchNorm and ReLU, then a 1x1 convolution (DenseNet's layers and transitions),
/// on zoo's own kernel (`zoo_normalized_pointwise_f32`), which normalizes each input block of a
/// few pixels just before taking its products: the normalized copy of the input is never written.
/// The same kernel scales the input's channels by each sample's own factors instead (a
/// squeeze-and-excitation block's scale before its 1x1 projection, EfficientNet's), and adds a
/// residual.
///
/// - input: `(N, C_in, H, W)` in the blocked layout (``BlockedActivation``).
/// - scale, shift: `(C_in)`, the BatchNorm as `x * scale + shift` (``BatchNorm2d/evalAffineMap``);
///   or scales `(N, C_in, 1, 1)` given with each call.
/// - weight: `(C_out, C_in, 1, 1)`, as PyTorch stores it; bias: `(C_out)`; then the residual
///   `(N, C_out, H, W)`, blocked, when there is one; then the activation.
/// - output: `(N, C_out, H, W)` in the blocked layout.
struct BlockedNormalizedPointwise: BlockedKernel {
    private let convolution: PointwiseKernelWeights
    /// The BatchNorm's scale and shift, 16 a block of input channels, zero for the padding
    /// channels; nil for a kernel that scales by factors given with each call.
    private let normalization: (scale: [Float], shift: [Float])?
    private let activation: (code: Int32, low: Float, high: Float)

    var inChannels: Int { convolution.inChannels }

    /// Whether the kernel runs on this CPU (vector code, AVX-512).
    static var runs: Bool { zoo_normalized_pointwise_is_vectorised() != 0 }

    /// The kernel for `scale` and `shift` (`(inChannels)`), then `weight`, `bias` and
    /// `activation`; nil when it does not run on this CPU (AVX-512), the activation is one it
    /// does not apply (``BlockedDepthwise/kernelActivation(_:)``) or a size is off.
    init?(
        scale: [Float], shift: [Float], weight: [Float], bias: [Float]?, inChannels: Int, outChannels: Int,
        activation: ConvolutionActivation?
    ) {
        guard scale.count == inChannels, shift.count == inChannels else { return nil }
        let lanes = (inChannels + 15) / 16 * 16
        self.init(
            normalization: ((0..<lanes).map { $0 < inChannels ? scale[$0] : 0 }, (0..<lanes).map { $0 < inChannels ? shift[$0] : 0 }),
            weight: weight, bias: bias, inChannels: inChannels, outChannels: outChannels, activation: activation)
    }

    /// The kernel that scales its input's channels by factors given with each call
    /// (``run(scaling:by:residual:)``), then `weight`, `bias` and `activation`; nil as the
    /// normalizing one.
    init?(scalingWith weight: [Float], bias: [Float]?, inChannels: Int, outChannels: Int, activation: ConvolutionActivation?) {
        self.init(normalization: nil, weight: weight, bias: bias, inChannels: inChannels, outChannels: outChannels, activation: activation)
    }

    private init?(
        normalization: (scale: [Float], shift: [Float])?, weight: [Float], bias: [Float]?, inChannels: Int, outChannels: Int,
        activation: ConvolutionActivation?
    ) {
        guard Self.runs, let activation = BlockedDepthwise.kernelActivation(activation),
            let convolution = PointwiseKernelWeights(weight: weight, bias: bias, inChannels: inChannels, outChannels: outChannels)
        else { return nil }
        (self.convolution, self.normalization, self.activation) = (convolution, normalization, activation)
    }

    /// The convolution of the normalized `input`, whose channels must be ``inChannels``. With
    /// `keepingMeans`, the output keeps its channels' means, taken by a pass of their own.
    func run(_ input: BlockedActivation, keepingMeans: Bool = false) throws(OneDNNFallback) -> BlockedActivation {
        try run(concatenating: [input], keepingMeans: keepingMeans)
    }

    /// The convolution of `input` with each sample's channels scaled by its `scales`
    /// (`(N, inChannels, 1, 1)`), plus `residual` (of the output's shape) when given; for the
    /// kernel made by ``init(scalingWith:bias:inChannels:outChannels:activation:)``.
    func run(scaling input: BlockedActivation, by scales: Tensor, residual: BlockedActivation?) throws(OneDNNFallback)
        -> BlockedActivation
    {
        let samples = input.shape.first ?? 0
        guard normalization == nil, scales.shape == [samples, inChannels, 1, 1] else {
            throw .failed(call: "zoo_normalized_pointwise_f32", status: .invalidArguments)
        }
        let lanes = (inChannels + 15) / 16 * 16
        var factors = [Float](repeating: 0, count: samples * lanes)
        scales.scalars.withUnsafeBufferPointer { source in
            for sample in 0..<samples {
                for channel in 0..<inChannels { factors[sample * lanes + channel] = source[sample * inChannels + channel] }
            }
        }
        return try run(parts: [input], scales: (factors, lanes), shift: nil, residual: residual, keepingMeans: false)
    }

    /// Whether ``run(concatenating:keepingMeans:)`` reads `parts`, of these shapes, as their
    /// channel concatenation: rank 4, the same batch and plane, ``inChannels`` in all, and every
    /// part but the last a whole number of 16-channel blocks (so that its padding is not inside
    /// the concatenation).
    func reads(concatenationOf shapes: [[Int]]) -> Bool {
        guard let first = shapes.first, shapes.allSatisfy({ $0.count == 4 && $0[0] == first[0] && $0[2...] == first[2...] }) else {
            return false
        }
        return shapes.reduce(0) { $0 + $1[1] } == inChannels && shapes.dropLast().allSatisfy { $0[1] % 16 == 0 }
    }

    /// The convolution of the normalized channel concatenation of `parts`, read where the parts
    /// lie (``reads(concatenationOf:)`` must hold); with `keepingMeans`, the output keeps its
    /// channels' means, taken by a pass of their own.
    func run(concatenating parts: [BlockedActivation], keepingMeans: Bool = false) throws(OneDNNFallback) -> BlockedActivation {
        guard let normalization else { throw .failed(call: "zoo_normalized_pointwise_f32", status: .invalidArguments) }
        return try run(
            parts: parts, scales: (normalization.scale, 0), shift: normalization.shift, residual: nil, keepingMeans: keepingMeans)
    }

    /// The kernel on `parts`: `scales.factors` from `scales.stride` floats into them for each
    /// sample (0: the same for all), `shift` (nil: scaled only, no ReLU).
    private func run(
        parts: [BlockedActivation], scales: (factors: [Float], stride: Int), shift: [Float]?, residual: BlockedActivation?,
        keepingMeans: Bool
    ) throws(OneDNNFallback) -> BlockedActivation {
        guard reads(concatenationOf: parts.map(\.shape)) else {
            throw .failed(call: "zoo_normalized_pointwise_f32", status: .invalidArguments)
        }
        let input = parts[0].shape
        let outputShape = [input[0], convolution.outChannels, input[2], input[3]]
        guard residual.map({ $0.shape == outputShape }) ?? true else {
            throw .failed(call: "zoo_normalized_pointwise_f32", status: .invalidArguments)
        }
        let output = try BlockedActivation(shape: outputShape)
        let shape = zoo_normalized_pointwise_shape(
            in_channels: inChannels, out_channels: convolution.outChannels, height: input[2], width: input[3],
            activation: activation.code, low: activation.low, high: activation.high)
        let items = withUnsafePointer(to: shape) { zoo_normalized_pointwise_items($0) }
        // Where each sample's input blocks lie: the parts' blocks one after the other.
        let (samples, plane) = (input[0], input[2] * input[3] * 16)
        let inBlocks = (inChannels + 15) / 16
        var blocks = [UnsafePointer<Float>?]()
        blocks.reserveCapacity(samples * inBlocks)
        for sample in 0..<samples {
            for part in parts {
                let (partBlocks, first) = (part.paddedChannels / 16, UnsafePointer(part.floats))
                for block in 0..<partBlocks { blocks.append(first + (sample * partBlocks + block) * plane) }
            }
        }
        // Each sample's items: chunks of pixels, in groups of four output blocks.
        let splits = partsPerSample(samples)
        let (destination, residual) = (SharedPointer(output.floats), residual.map { SharedPointer($0.floats) })
        let (destinationSample, scaleStride) = (output.paddedCount / samples, scales.stride)
        blocks.withUnsafeBufferPointer { blocks in
            scales.factors.withUnsafeBufferPointer { scale in
                withOptionalFloats(shift) { shift in
                    convolution.weights.withUnsafeBufferPointer { weights in
                        convolution.bias.withUnsafeBufferPointer { bias in
                            let operands = (
                                SharedPointer(blocks.baseAddress!), SharedPointer(scale.baseAddress!), shift.map(SharedPointer.init),
                                SharedPointer(weights.baseAddress!), SharedPointer(bias.baseAddress!)
                            )
                            parallelFor(samples * splits) { item in
                                let (sample, split) = item.quotientAndRemainder(dividingBy: splits)
                                withUnsafePointer(to: shape) { shape in
                                    zoo_normalized_pointwise_f32(
                                        operands.0.base + sample * inBlocks, operands.1.base + sample * scaleStride, operands.2?.base,
                                        operands.3.base, operands.4.base, residual.map { $0.base + sample * destinationSample },
                                        destination.base + sample * destinationSample, shape, items * split / splits,
                                        items * (split + 1) / splits)
                                }
                            }
                        }
                    }
                }
            }
        }
        if keepingMeans { output.keep(channelMeans: blockedChannelMeans(output)) }
        return output
    }
}
