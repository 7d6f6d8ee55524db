import Tensor

/// 2-d convolution over an NCHW float32 input, as PyTorch's `nn.Conv2d`.
///
/// - Input `(N, C_in, H, W)`; output `(N, C_out, H_out, W_out)` with
///   `H_out = floor((H + pad_top + pad_bottom - dilation[0] * (kernel_size[0] - 1) - 1) / stride[0] + 1)`
///   (and likewise for W), where explicit padding pads both sides equally.
/// - `weight`: `(C_out, C_in / groups, kH, kW)`; `bias`: `(C_out)`.
/// - `padding: .same` pads so that `H_out == H` (stride 1 only), putting the odd pixel at the
///   bottom/right as PyTorch does; `.valid` is no padding.
/// - `paddingMode` other than `.zeros` pads the input first (reflect, replicate, circular).
public final class Conv2d: Module, EpilogueFusing, ConvolutionKernelChoosing {
    public let inChannels: Int
    public let outChannels: Int
    public let kernelSize: IntPair
    public let stride: IntPair
    public let padding: Padding2d
    public let dilation: IntPair
    public let groups: Int
    public let paddingMode: PaddingMode
    private var parameters: WeightAndBias { didSet { oneDNNPlans.removeAll() } }
    private let oneDNNPlans = OneDNNPlans()
    /// Which kernels this layer runs on (oneDNN or zoo's own; weights kept prepared or not).
    public var kernels = ConvolutionKernels()
    public var weight: Tensor { parameters.weight }
    public var bias: Tensor? { parameters.bias }

    public init(
        inChannels: Int, outChannels: Int, kernelSize: IntPair, stride: IntPair = 1,
        padding: Padding2d = 0, dilation: IntPair = 1, groups: Int = 1, bias: Bool = true,
        paddingMode: PaddingMode = .zeros
    ) throws {
        let name = "Conv2d"
        try validateConvolution(
            layer: name, inChannels: inChannels, outChannels: outChannels, groups: groups, kernelSize: kernelSize,
            stride: stride, dilation: dilation)
        if case .explicit(let pad) = padding, pad.height < 0 || pad.width < 0 {
            throw NNError.invalidArgument(layer: name, argument: "padding", reason: "must be non-negative")
        }
        if padding == .same && (stride.height != 1 || stride.width != 1) {
            throw NNError.invalidArgument(
                layer: name, argument: "padding", reason: "padding='same' is not supported for strided convolutions")
        }
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        self.paddingMode = paddingMode
        self.parameters = WeightAndBias(
            weightShape: [outChannels, inChannels / groups, kernelSize.height, kernelSize.width], biasCount: outChannels, hasBias: bias)
    }

    public override var localState: [(name: String, tensor: Tensor)] { parameters.entries }

    public override var localStateLayout: [(name: String, shape: [Int], dtype: DType)] { parameters.layout }

    public override func setLocalState(_ name: String, to tensor: Tensor) throws { try parameters.set(name, to: tensor) }

    /// PyTorch's `Conv2d.reset_parameters()`: weight and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
    /// `fan_in = in_channels / groups * kH * kW`.
    public override func resetParameters(using generator: inout SeededGenerator) throws {
        parameters.reset(fanIn: inChannels / groups * kernelSize.height * kernelSize.width, using: &generator)
    }

    /// `nn.init.kaiming_normal_(weight, mode="fan_out", nonlinearity="relu")`, as torchvision's
    /// ResNet initialises its convolutions: N(0, 2 / fan_out), `fan_out = out_channels * kH * kW`.
    public func resetWeightKaimingNormalFanOut(using generator: inout SeededGenerator) {
        parameters.resetKaimingNormal(fanOut: outChannels * kernelSize.height * kernelSize.width, using: &generator)
    }

    /// Top, bottom, left, right padding in pixels.
    var paddingAmounts: (top: Int, bottom: Int, left: Int, right: Int) {
        switch padding {
        case .explicit(let pad): return (pad.height, pad.height, pad.width, pad.width)
        case .valid: return (0, 0, 0, 0)
        case .same:
            let totalH = dilation.height * (kernelSize.height - 1)
            let totalW = dilation.width * (kernelSize.width - 1)
            return (totalH / 2, totalH - totalH / 2, totalW / 2, totalW - totalW / 2)
        }
    }

    public override func forward(_ input: Tensor) throws -> Tensor {
        try forward(input, epilogue: nil)
    }

    /// `forward`, with the next layers' work folded into the output pass when `epilogue` is given.
    func forward(_ input: Tensor, epilogue: ConvolutionEpilogue?) throws -> Tensor {
        guard input.rank == 4, input.shape[1] == inChannels else {
            throw NNError.inputShape(layer: "Conv2d(\(inChannels), \(outChannels))", expected: "(N, \(inChannels), H, W)", got: input.shape)
        }
        var pads = paddingAmounts
        var source = input
        if paddingMode != .zeros && (pads.top + pads.bottom + pads.left + pads.right) > 0 {
            source = try padBorders(input, top: pads.top, bottom: pads.bottom, left: pads.left, right: pads.right, mode: paddingMode)
            pads = (0, 0, 0, 0)
        }
        return try convolve(source, pads: pads, epilogue: epilogue)
    }

    private func convolve(_ input: Tensor, pads: (top: Int, bottom: Int, left: Int, right: Int), epilogue: ConvolutionEpilogue?) throws
        -> Tensor
    {
        let (batch, height, width) = (input.shape[0], input.shape[2], input.shape[3])
        let geometry = ConvGeometry(
            channels: inChannels / groups, height: height, width: width,
            kernel: kernelSize, stride: stride, dilation: dilation, padTop: pads.top, padLeft: pads.left,
            outHeight: (height + pads.top + pads.bottom - dilation.height * (kernelSize.height - 1) - 1) / stride.height + 1,
            outWidth: (width + pads.left + pads.right - dilation.width * (kernelSize.width - 1) - 1) / stride.width + 1)
        guard height + pads.top + pads.bottom >= dilation.height * (kernelSize.height - 1) + 1,
            width + pads.left + pads.right >= dilation.width * (kernelSize.width - 1) + 1
        else {
            throw NNError.inputShape(
                layer: "Conv2d", expected: "a padded input at least as large as the dilated kernel \(kernelSize)", got: input.shape)
        }
        let outputShape = [batch, outChannels, geometry.outHeight, geometry.outWidth]
        if kernels.usesOneDNN, let output = convolveWithOneDNN(input, outputShape: outputShape, pads: pads, epilogue: epilogue) {
            return output
        }
        let outPlane = geometry.outHeight * geometry.outWidth
        let outPerGroup = outChannels / groups
        let patch = geometry.patchSize
        // Small output planes leave a per-sample GEMM too narrow to keep BLAS busy, so several
        // samples share one (their columns side by side) until it is about 65536 columns wide
        // or its column matrix reaches 32 MB.
        let samplesPerChunk = Swift.max(1, Swift.min(batch, 65536 / Swift.max(1, outPlane), (8 << 20) / Swift.max(1, patch * outPlane)))
        let inputValues = input.scalars
        let weightValues = weight.scalars
        let biasValues = bias?.scalars
        var output = [Float](repeating: 0, count: batch * outChannels * outPlane)
        var columns = [Float](repeating: 0, count: patch * samplesPerChunk * outPlane)
        var product = [Float](repeating: 0, count: samplesPerChunk > 1 ? outPerGroup * samplesPerChunk * outPlane : 0)
        inputValues.withUnsafeBufferPointer { x in
            weightValues.withUnsafeBufferPointer { w in
                output.withUnsafeMutableBufferPointer { y in
                    columns.withUnsafeMutableBufferPointer { cols in
                        product.withUnsafeMutableBufferPointer { result in
                            for first in Swift.stride(from: 0, to: batch, by: samplesPerChunk) {
                                let count = Swift.min(samplesPerChunk, batch - first)
                                let span = count * outPlane
                                for g in 0..<groups {
                                    nonisolated(unsafe) let (images, columns) = (x.baseAddress!, cols.baseAddress!)
                                    parallelFor(count) { j in
                                        let image = images + ((first + j) * inChannels + g * geometry.channels) * height * width
                                        geometry.im2col(image, into: columns + j * outPlane, rowStride: span)
                                    }
                                    // One sample's product already has the output's layout: write it in place.
                                    let target =
                                        count == 1
                                        ? y.baseAddress! + (first * outChannels + g * outPerGroup) * outPlane
                                        : result.baseAddress!
                                    gemm(
                                        transposeA: false, transposeB: false, m: outPerGroup, n: span, k: patch,
                                        a: w.baseAddress! + g * outPerGroup * patch, lda: patch, b: cols.baseAddress!, ldb: span,
                                        c: target, ldc: span)
                                    for j in 0..<count {
                                        for o in 0..<outPerGroup {
                                            let channel = g * outPerGroup + o
                                            let source = result.baseAddress! + o * span + j * outPlane
                                            let destination = y.baseAddress! + ((first + j) * outChannels + channel) * outPlane
                                            let shift = biasValues?[channel] ?? 0
                                            let from = count == 1 ? UnsafePointer(destination) : UnsafePointer(source)
                                            if let epilogue {
                                                epilogue.apply(from, into: destination, count: outPlane, bias: shift, channel: channel)
                                            } else if count == 1 {
                                                if shift != 0 { for index in 0..<outPlane { destination[index] += shift } }
                                            } else {
                                                for index in 0..<outPlane { destination[index] = source[index] + shift }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return Tensor(shape: outputShape, scalars: output)
    }

    /// The convolution through oneDNN (bias added there, the epilogue here); nil when oneDNN
    /// cannot run this case and zoo's own im2col and GEMM should.
    private func convolveWithOneDNN(
        _ input: Tensor, outputShape: [Int], pads: (top: Int, bottom: Int, left: Int, right: Int), epilogue: ConvolutionEpilogue?
    ) -> Tensor? {
        let shape = OneDNNConvolutionShape(
            kind: .convolution, source: input.shape, destination: outputShape, groups: groups, kernel: kernelSize, stride: stride,
            dilation: dilation, padBefore: IntPair(pads.top, pads.left), padAfter: IntPair(pads.bottom, pads.right),
            hasBias: bias != nil,
            // Winograd's transformed weights are four times the weights: worth it only kept, and
            // only with channels enough to fill its tiles (net's 3 -> 32 ran 2x slower on it).
            winograd: ConvolutionAlgorithms.allowsWinograd && kernels.keepsPreparedWeights && kernelSize == 3 && stride == 1
                && dilation == 1
                && groups == 1 && inChannels >= 16 && outChannels >= 16,
            keepsPreparedWeights: kernels.keepsPreparedWeights)
        return oneDNNPlans.convolve(input, shape: shape, weight: weight, bias: bias, epilogue: epilogue)
    }
}
