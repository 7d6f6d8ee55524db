import Tensor

/// 2-d transposed convolution over an NCHW float32 input, as PyTorch's `nn.ConvTranspose2d`:
/// the gradient of Conv2d with respect to its input.
///
/// - Input `(N, C_in, H, W)`; output `(N, C_out, H_out, W_out)` with
///   `H_out = (H - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kernel_size[0] - 1) + output_padding[0] + 1`.
/// - `weight`: `(C_in, C_out / groups, kH, kW)`, unlike Conv2d; `bias`: `(C_out)`.
public final class ConvTranspose2d: ModuleBase, Layer, EpilogueFusing, ConvolutionKernelChoosing {
    public let inChannels: Int
    public let outChannels: Int
    public let kernelSize: IntPair
    public let stride: IntPair
    public let padding: IntPair
    public let outputPadding: IntPair
    public let groups: Int
    public let dilation: IntPair
    private let parameters: WeightAndBias
    let oneDNNPlans = OneDNNPlans()
    /// Which kernels this layer runs on (oneDNN or zoo's own; weights kept prepared or not).
    public var kernels = ConvolutionKernels()
    public var weight: Tensor { self[parameters.weight] }
    public var bias: Tensor? { parameters.bias.map { self[$0] } }
    /// Why the last call that fell back from oneDNN to zoo's own kernels did; nil when none has.
    public var oneDNNFallback: OneDNNFallback? { oneDNNPlans.fallback }

    /// Weight and bias are drawn as PyTorch's `reset_parameters()` draws them:
    /// U(-1/sqrt(fan_in), 1/sqrt(fan_in)), where PyTorch takes fan_in from
    /// `weight.size(1) * kH * kW`, which for a transposed convolution is `out_channels / groups * kH * kW`.
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
        parameters = WeightAndBias(
            weightShape: [inChannels, outChannels / groups, kernelSize.height, kernelSize.width], biasCount: outChannels, hasBias: bias,
            fanIn: outChannels / groups * kernelSize.height * kernelSize.width)
        super.init(state: parameters.slots)
    }

    public override func stateDidChange() { oneDNNPlans.removeAll() }

    public func forward(_ input: Tensor) throws -> Tensor {
        try forward(input, epilogue: nil)
    }

    /// `forward`, with a following eval-mode BatchNorm and ReLU applied in the output pass.
    func forward(_ input: Tensor, epilogue: ConvolutionEpilogue?) throws -> Tensor {
        guard input.rank == 4, input.shape[1] == inChannels else {
            throw NNError.inputShape(
                layer: "ConvTranspose2d(\(inChannels), \(outChannels))", expected: "(N, \(inChannels), H, W)", got: input.shape)
        }
        let problem = try convolutionProblem(input.shape)
        let call = ConvolutionKernelCall(kernels: kernels, plans: oneDNNPlans, weight: weight, bias: bias)
        return call.run(input, problem, oneDNN: oneDNNShape(problem), epilogue: epilogue, fallback: col2imTransposedConvolution)
    }

    /// The sliding window of the matching forward convolution: its image is this layer's output.
    func convolutionProblem(_ shape: [Int]) throws -> ConvolutionProblem {
        let (height, width) = (shape[2], shape[3])
        let outHeight =
            (height - 1) * stride.height - 2 * padding.height + dilation.height * (kernelSize.height - 1) + outputPadding.height + 1
        let outWidth = (width - 1) * stride.width - 2 * padding.width + dilation.width * (kernelSize.width - 1) + outputPadding.width + 1
        guard outHeight > 0, outWidth > 0 else {
            throw NNError.inputShape(layer: "ConvTranspose2d", expected: "an input that gives a positive output size", got: shape)
        }
        let geometry = ConvGeometry(
            channels: outChannels / groups, height: outHeight, width: outWidth, kernel: kernelSize, stride: stride,
            dilation: dilation, padTop: padding.height, padLeft: padding.width, outHeight: height, outWidth: width)
        return ConvolutionProblem(
            batch: shape[0], inChannels: inChannels, outChannels: outChannels, groups: groups, geometry: geometry,
            outputShape: [shape[0], outChannels, outHeight, outWidth])
    }

    /// What this layer asks oneDNN for; PyTorch adds output_padding at the bottom and right only,
    /// which oneDNN cannot describe when it exceeds the padding.
    func oneDNNShape(_ problem: ConvolutionProblem) -> Result<OneDNNConvolutionShape, OneDNNFallback> {
        let geometry = problem.geometry
        let padAfter = IntPair(padding.height - outputPadding.height, padding.width - outputPadding.width)
        guard padAfter.height >= 0, padAfter.width >= 0 else {
            return .failure(.unsupported(reason: "output_padding \(outputPadding) is larger than the padding \(padding)"))
        }
        return .success(
            OneDNNConvolutionShape(
                kind: .deconvolution, source: [problem.batch, inChannels, geometry.outHeight, geometry.outWidth],
                destination: problem.outputShape, groups: groups, kernel: kernelSize,
                stride: stride, dilation: dilation, padBefore: padding, padAfter: padAfter, hasBias: bias != nil,
                keepsPreparedWeights: kernels.keepsPreparedWeights))
    }
}
