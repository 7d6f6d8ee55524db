import Tensor

/// 2-d transposed convolution over an NCHW float32 input, as PyTorch's `nn.ConvTranspose2d`:
/// the gradient of Conv2d with respect to its input.
///
/// - Input `(N, C_in, H, W)`; output `(N, C_out, H_out, W_out)` with
///   `H_out = (H - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kernel_size[0] - 1) + output_padding[0] + 1`.
/// - `weight`: `(C_in, C_out / groups, kH, kW)`, unlike Conv2d; `bias`: `(C_out)`.
public final class ConvTranspose2d: Module, EpilogueFusing, ConvolutionKernelChoosing {
    public let inChannels: Int
    public let outChannels: Int
    public let kernelSize: IntPair
    public let stride: IntPair
    public let padding: IntPair
    public let outputPadding: IntPair
    public let groups: Int
    public let dilation: IntPair
    private var parameters: WeightAndBias { didSet { oneDNNPlans.removeAll() } }
    private let oneDNNPlans = OneDNNPlans()
    /// Which kernels this layer runs on (oneDNN or zoo's own; weights kept prepared or not).
    public var kernels = ConvolutionKernels()
    public var weight: Tensor { parameters.weight }
    public var bias: Tensor? { parameters.bias }

    public init(
        inChannels: Int, outChannels: Int, kernelSize: IntPair, stride: IntPair = 1, padding: IntPair = 0,
        outputPadding: IntPair = 0, groups: Int = 1, bias: Bool = true, dilation: IntPair = 1
    ) throws {
        let name = "ConvTranspose2d"
        try validateConvolution(
            layer: name, inChannels: inChannels, outChannels: outChannels, groups: groups, kernelSize: kernelSize,
            stride: stride, dilation: dilation)
        guard padding.height >= 0, padding.width >= 0 else {
            throw NNError.invalidArgument(layer: name, argument: "padding", reason: "must be non-negative")
        }
        guard outputPadding.height >= 0, outputPadding.width >= 0,
            outputPadding.height < Swift.max(stride.height, dilation.height),
            outputPadding.width < Swift.max(stride.width, dilation.width)
        else {
            throw NNError.invalidArgument(
                layer: name, argument: "output_padding", reason: "\(outputPadding) must be smaller than either stride or dilation")
        }
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.outputPadding = outputPadding
        self.groups = groups
        self.dilation = dilation
        self.parameters = WeightAndBias(
            weightShape: [inChannels, outChannels / groups, kernelSize.height, kernelSize.width], biasCount: outChannels, hasBias: bias)
    }

    public override var localState: [(name: String, tensor: Tensor)] { parameters.entries }

    public override var localStateLayout: [(name: String, shape: [Int], dtype: DType)] { parameters.layout }

    public override func setLocalState(_ name: String, to tensor: Tensor) throws { try parameters.set(name, to: tensor) }

    /// PyTorch's `reset_parameters()`: weight and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)), where
    /// PyTorch takes fan_in from `weight.size(1) * kH * kW`, which for a transposed convolution is
    /// `out_channels / groups * kH * kW`.
    public override func resetParameters(using generator: inout SeededGenerator) throws {
        parameters.reset(fanIn: outChannels / groups * kernelSize.height * kernelSize.width, using: &generator)
    }

    public override func forward(_ input: Tensor) throws -> Tensor {
        try forward(input, epilogue: nil)
    }

    /// `forward`, with a following eval-mode BatchNorm and ReLU applied in the output pass.
    func forward(_ input: Tensor, epilogue: ConvolutionEpilogue?) throws -> Tensor {
        guard input.rank == 4, input.shape[1] == inChannels else {
            throw NNError.inputShape(
                layer: "ConvTranspose2d(\(inChannels), \(outChannels))", expected: "(N, \(inChannels), H, W)", got: input.shape)
        }
        let (batch, height, width) = (input.shape[0], input.shape[2], input.shape[3])
        let outHeight =
            (height - 1) * stride.height - 2 * padding.height + dilation.height * (kernelSize.height - 1) + outputPadding.height + 1
        let outWidth = (width - 1) * stride.width - 2 * padding.width + dilation.width * (kernelSize.width - 1) + outputPadding.width + 1
        guard outHeight > 0, outWidth > 0 else {
            throw NNError.inputShape(layer: "ConvTranspose2d", expected: "an input that gives a positive output size", got: input.shape)
        }
        let outputShape = [batch, outChannels, outHeight, outWidth]
        if kernels.usesOneDNN, let output = convolveWithOneDNN(input, outputShape: outputShape, epilogue: epilogue) { return output }
        let inPerGroup = inChannels / groups
        let outPerGroup = outChannels / groups
        let geometry = ConvGeometry(
            channels: outPerGroup, height: outHeight, width: outWidth, kernel: kernelSize, stride: stride,
            dilation: dilation, padTop: padding.height, padLeft: padding.width, outHeight: height, outWidth: width)
        let inPlane = height * width
        let outPlane = outHeight * outWidth
        let patch = geometry.patchSize
        // Small input planes leave a per-sample GEMM too narrow: several samples share one, their
        // input planes side by side, up to about 65536 columns or a 32 MB column matrix.
        let samplesPerChunk = Swift.max(1, Swift.min(batch, 65536 / Swift.max(1, inPlane), (8 << 20) / Swift.max(1, patch * inPlane)))
        let inputValues = input.scalars
        let weightValues = weight.scalars
        var output = [Float](repeating: 0, count: batch * outChannels * outPlane)
        var columns = [Float](repeating: 0, count: patch * samplesPerChunk * inPlane)
        var gathered = [Float](repeating: 0, count: samplesPerChunk > 1 ? inPerGroup * samplesPerChunk * inPlane : 0)
        inputValues.withUnsafeBufferPointer { x in
            weightValues.withUnsafeBufferPointer { w in
                output.withUnsafeMutableBufferPointer { y in
                    columns.withUnsafeMutableBufferPointer { cols in
                        gathered.withUnsafeMutableBufferPointer { side in
                            for first in Swift.stride(from: 0, to: batch, by: samplesPerChunk) {
                                let count = Swift.min(samplesPerChunk, batch - first)
                                let span = count * inPlane
                                for g in 0..<groups {
                                    let source: UnsafePointer<Float>
                                    if count == 1 {
                                        source = UnsafePointer(x.baseAddress! + (first * inChannels + g * inPerGroup) * inPlane)
                                    } else {
                                        // (C_in, samples x H x W): each channel's planes side by side.
                                        for j in 0..<count {
                                            for c in 0..<inPerGroup {
                                                (side.baseAddress! + c * span + j * inPlane).update(
                                                    from: x.baseAddress! + ((first + j) * inChannels + g * inPerGroup + c) * inPlane,
                                                    count: inPlane)
                                            }
                                        }
                                        source = UnsafePointer(side.baseAddress!)
                                    }
                                    gemm(
                                        transposeA: true, transposeB: false, m: patch, n: span, k: inPerGroup,
                                        a: w.baseAddress! + g * inPerGroup * patch, lda: patch,
                                        b: source, ldb: span, c: cols.baseAddress!, ldc: span)
                                    nonisolated(unsafe) let (columns, output) = (cols.baseAddress!, y.baseAddress!)
                                    parallelFor(count) { j in
                                        geometry.col2imAdd(
                                            UnsafePointer(columns + j * inPlane),
                                            into: output + ((first + j) * outChannels + g * outPerGroup) * outPlane, rowStride: span)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if let biasValues = bias?.scalars {
            for n in 0..<batch {
                for o in 0..<outChannels {
                    let base = (n * outChannels + o) * outPlane
                    for index in base..<(base + outPlane) { output[index] += biasValues[o] }
                }
            }
        }
        epilogue?.apply(toPlanesOf: &output, channels: outChannels, plane: outPlane)
        return Tensor(shape: outputShape, scalars: output)
    }

    /// The transposed convolution through oneDNN; nil when oneDNN cannot run this case (for
    /// example output padding larger than the padding) and zoo's own GEMM and col2im should.
    private func convolveWithOneDNN(_ input: Tensor, outputShape: [Int], epilogue: ConvolutionEpilogue?) -> Tensor? {
        // PyTorch adds output_padding at the bottom and right only.
        let shape = OneDNNConvolutionShape(
            kind: .deconvolution, source: input.shape, destination: outputShape, groups: groups, kernel: kernelSize,
            stride: stride, dilation: dilation, padBefore: padding,
            padAfter: IntPair(padding.height - outputPadding.height, padding.width - outputPadding.width), hasBias: bias != nil,
            keepsPreparedWeights: kernels.keepsPreparedWeights)
        guard shape.padAfter.height >= 0, shape.padAfter.width >= 0 else { return nil }
        return oneDNNPlans.convolve(input, shape: shape, weight: weight, bias: bias, epilogue: epilogue)
    }
}
