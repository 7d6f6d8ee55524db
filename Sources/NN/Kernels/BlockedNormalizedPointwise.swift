internal import CKernels
import Tensor

/// An eval-mode BatchNorm and ReLU, then a 1x1 convolution (DenseNet's layers and transitions),
/// on zoo's own kernel (`zoo_normalized_pointwise_f32`), which normalizes each input block of a
/// few pixels just before taking its products: the normalized copy of the input is never written.
///
/// - input: `(N, C_in, H, W)` in the blocked layout (``BlockedActivation``).
/// - scale, shift: `(C_in)`, the BatchNorm as `x * scale + shift` (``BatchNorm2d/evalAffineMap``).
/// - weight: `(C_out, C_in, 1, 1)`, as PyTorch stores it; bias: `(C_out)`; then the activation.
/// - output: `(N, C_out, H, W)` in the blocked layout.
struct BlockedNormalizedPointwise: BlockedKernel {
    private let convolution: PointwiseKernelWeights
    /// 16 a block of input channels, zero for the padding channels.
    private let scale: [Float]
    private let shift: [Float]
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
        guard Self.runs, let activation = BlockedDepthwise.kernelActivation(activation),
            scale.count == inChannels, shift.count == inChannels,
            let convolution = PointwiseKernelWeights(weight: weight, bias: bias, inChannels: inChannels, outChannels: outChannels)
        else { return nil }
        let lanes = (inChannels + 15) / 16 * 16
        (self.convolution, self.activation) = (convolution, activation)
        self.scale = (0..<lanes).map { $0 < inChannels ? scale[$0] : 0 }
        self.shift = (0..<lanes).map { $0 < inChannels ? shift[$0] : 0 }
    }

    /// The convolution of the normalized `input`, whose channels must be ``inChannels``. With
    /// `keepingMeans`, the output keeps its channels' means, taken by a pass of their own.
    func run(_ input: BlockedActivation, keepingMeans: Bool = false) throws(OneDNNFallback) -> BlockedActivation {
        guard input.shape.count == 4, input.shape[1] == inChannels else {
            throw .failed(call: "zoo_normalized_pointwise_f32", status: .invalidArguments)
        }
        let output = try BlockedActivation(shape: [input.shape[0], convolution.outChannels, input.shape[2], input.shape[3]])
        let shape = zoo_normalized_pointwise_shape(
            in_channels: inChannels, out_channels: convolution.outChannels, height: input.shape[2], width: input.shape[3],
            activation: activation.code, low: activation.low, high: activation.high)
        let items = withUnsafePointer(to: shape) { zoo_normalized_pointwise_items($0) }
        // Each sample's items: rows, in groups of four output blocks.
        let samples = input.shape[0]
        let parts = partsPerSample(samples)
        let (source, destination) = (SharedPointer(input.floats), SharedPointer(output.floats))
        let (sourceSample, destinationSample) = (input.paddedCount / samples, output.paddedCount / samples)
        scale.withUnsafeBufferPointer { scale in
            shift.withUnsafeBufferPointer { shift in
                convolution.weights.withUnsafeBufferPointer { weights in
                    convolution.bias.withUnsafeBufferPointer { bias in
                        let operands = (
                            SharedPointer(scale.baseAddress!), SharedPointer(shift.baseAddress!), SharedPointer(weights.baseAddress!),
                            SharedPointer(bias.baseAddress!)
                        )
                        parallelFor(samples * parts) { item in
                            let (sample, part) = item.quotientAndRemainder(dividingBy: parts)
                            withUnsafePointer(to: shape) { shape in
                                zoo_normalized_pointwise_f32(
                                    source.base + sample * sourceSample, operands.0.base, operands.1.base, operands.2.base,
                                    operands.3.base, destination.base + sample * destinationSample, shape, items * part / parts,
                                    items * (part + 1) / parts)
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
