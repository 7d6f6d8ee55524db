internal import CKernels
import Tensor

/// A depthwise convolution (as many groups as channels, one `kernel x kernel` filter a channel,
/// dilation 1) of an activation in the blocked layout, on zoo's own kernel
/// (`zoo_blocked_depthwise_f32`), with its bias and activation applied as each output is written
/// and, for a pooling that reads the output, its channels' means taken on the way.
///
/// - input: `(N, C, H, W)` in the blocked layout (``BlockedActivation``).
/// - weight: `(C, 1, kernel, kernel)`, as PyTorch stores it; bias: `(C)`.
/// - output: `(N, C, H_out, W_out)` in the blocked layout, with
///   `H_out = (H + 2 * padding - kernel) / stride + 1` and `W_out` likewise.
///
/// oneDNN 2.6's depthwise kernel is as fast on its own, but leaves a SiLU (efficientnet_b0's) to
/// a pass of its own over the output, and a squeeze-and-excitation pooling to another.
struct BlockedDepthwise: BlockedKernel {
    let channels: Int
    let kernel: Int
    let stride: Int
    let padding: Int
    private let activation: ConvolutionActivation?
    /// `kernel * kernel` vectors of 16 a block of channels (tap-major, a lane a channel), zero
    /// for the padding channels.
    let packedWeights: [Float]
    /// 16 a block, zero for the padding channels.
    let packedBias: [Float]

    /// The convolution of `weight` (`(channels, 1, kernel, kernel)`) and `bias`; nil for a case
    /// the kernel does not run: a kernel other than 3 or 5, a stride other than 1 or 2, a
    /// padding of a kernel's size or more, or an activation other than ReLU, SiLU or a clamp that
    /// keeps 0 (the padding channels must stay 0).
    init?(weight: [Float], bias: [Float]?, channels: Int, kernel: Int, stride: Int, padding: Int, activation: ConvolutionActivation?) {
        guard Self.kernelActivation(activation) != nil, kernel == 3 || kernel == 5, stride == 1 || stride == 2,
            (0..<kernel).contains(padding), channels > 0,
            weight.count == channels * kernel * kernel, bias.map({ $0.count == channels }) ?? true
        else { return nil }
        (self.channels, self.kernel, self.stride, self.padding, self.activation) = (channels, kernel, stride, padding, activation)
        let taps = kernel * kernel
        let blocks = (channels + 15) / 16
        var packed = [Float](repeating: 0, count: blocks * taps * 16)
        for channel in 0..<channels {
            for tap in 0..<taps { packed[((channel / 16) * taps + tap) * 16 + channel % 16] = weight[channel * taps + tap] }
        }
        packedWeights = packed
        packedBias = (0..<(blocks * 16)).map { $0 < channels ? bias?[$0] ?? 0 : 0 }
    }

    /// `activation` as zoo's kernels take it (`zoo_depthwise_shape`): 0 none, 1 ReLU, 2 a clamp,
    /// 3 SiLU, with the clamp's bounds; nil for any other, and for a clamp that does not keep 0
    /// (the padding channels must stay 0).
    static func kernelActivation(_ activation: ConvolutionActivation?) -> (code: Int32, low: Float, high: Float)? {
        switch activation {
        case nil: (0, 0, 0)
        case .relu?: (1, 0, 0)
        case .clamp(let low, let high)? where low <= 0 && high >= 0: (2, low, high)
        case .silu?: (3, 0, 0)
        default: nil
        }
    }

    /// The kernel's description of this convolution of an input of `shape` `(N, C, H, W)`.
    func kernelShape(forInput shape: [Int]) -> zoo_depthwise_shape {
        let output = outputShape(for: shape)
        let (code, low, high) = Self.kernelActivation(activation) ?? (0, 0, 0)
        return zoo_depthwise_shape(
            height: shape[2], width: shape[3], out_height: output[2], out_width: output[3], kernel: kernel, stride: stride,
            padding: padding, activation: code, low: low, high: high)
    }

    /// Whether the kernel runs vector code on this CPU; off AVX-512 it runs a portable loop, slower
    /// than oneDNN's depthwise kernel, which layers then keep (``Conv2d``).
    var runsVectorised: Bool { zoo_blocked_depthwise_is_vectorised(kernel, stride) != 0 }

    /// The output shape for an input of `shape` `(N, C, H, W)`.
    func outputShape(for shape: [Int]) -> [Int] {
        [shape[0], shape[1], (shape[2] + 2 * padding - kernel) / stride + 1, (shape[3] + 2 * padding - kernel) / stride + 1]
    }

    /// The convolution of `input`, whose channels must be ``channels`` and whose planes must be
    /// at least one window (padding included) in each direction. With `keepingMeans`, the output
    /// keeps its channels' means (``BlockedActivation/channelMeans``), the sums added in the
    /// order ``blockedChannelMeans(_:)`` adds them.
    func run(_ input: BlockedActivation, keepingMeans: Bool = false) throws(OneDNNFallback) -> BlockedActivation {
        guard input.shape.count == 4, input.shape[1] == channels, input.shape[2] + 2 * padding >= kernel,
            input.shape[3] + 2 * padding >= kernel
        else { throw .failed(call: "zoo_blocked_depthwise_f32", status: .invalidArguments) }
        let outputShape = outputShape(for: input.shape)
        let output = try BlockedActivation(shape: outputShape)
        let frozen = kernelShape(forInput: input.shape)
        let (blocks, rows) = (input.paddedChannels / 16, outputShape[2])
        let (source, destination) = (SharedPointer(input.floats), SharedPointer(output.floats))
        let sourceSample = blocks * 16 * input.shape[2] * input.shape[3]
        let destinationSample = blocks * 16 * rows * outputShape[3]
        let costPerFloat = kernel * kernel + (activation == .silu ? 16 : 1)
        packedWeights.withUnsafeBufferPointer { weights in
            packedBias.withUnsafeBufferPointer { bias in
                let (weights, bias) = (SharedPointer(weights.baseAddress!), SharedPointer(bias.baseAddress!))
                /// Rows `first ..< end` of one sample's blocks (row r is row `r % rows` of block `r / rows`).
                @Sendable func convolve(sample: Int, rows first: Int, _ end: Int, sums: UnsafeMutablePointer<Float>?) {
                    withUnsafePointer(to: frozen) { shape in
                        zoo_blocked_depthwise_f32(
                            source.base + sample * sourceSample, weights.base, bias.base, destination.base + sample * destinationSample,
                            shape, first, end, sums)
                    }
                }
                guard keepingMeans else {
                    let rowsPerSample = blocks * rows
                    parallelFor(input.shape[0] * rowsPerSample, costPerIndex: outputShape[3] * 16 * costPerFloat) { row in
                        convolve(sample: row / rowsPerSample, rows: row % rowsPerSample, row % rowsPerSample + 1, sums: nil)
                    }
                    return
                }
                // The sums need a block's rows in order on one thread: one block an index, the
                // pooling's own loop over blocks.
                let means = channelMeans(of: output, costPerFloat: costPerFloat) { sample, block, _ in
                    var sums = SIMD16<Float>(repeating: 0)
                    withUnsafeMutableBytes(of: &sums) { sums in
                        convolve(
                            sample: sample, rows: block * rows, (block + 1) * rows,
                            sums: sums.baseAddress?.assumingMemoryBound(to: Float.self))
                    }
                    return sums
                }
                output.keep(channelMeans: means)
            }
        }
        return output
    }
}
