import Synchronization
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
public final class Conv2d: ModuleBase, Layer, EpilogueFusing, ConvolutionKernelChoosing {
    public let inChannels: Int
    public let outChannels: Int
    public let kernelSize: IntPair
    public let stride: IntPair
    public let padding: Padding2d
    public let dilation: IntPair
    public let groups: Int
    public let paddingMode: PaddingMode
    private let parameters: WeightAndBias
    let oneDNNPlans = OneDNNPlans()
    private let packedWeights = StreamedProductCache()
    /// zoo's depthwise kernels for blocked inputs, by the activation they apply (made on first
    /// use; nil when this layer is not a depthwise convolution that kernel runs).
    private let depthwiseKernels = Mutex<[ConvolutionActivation?: BlockedDepthwise?]>([:])
    /// Which kernels this layer runs on (oneDNN or zoo's own; weights kept prepared or not).
    public var kernels = ConvolutionKernels()
    public var weight: Tensor { self[parameters.weight] }
    public var bias: Tensor? { parameters.bias.map { self[$0] } }
    /// Why the last call that fell back from oneDNN to zoo's own kernels did; nil when none has.
    public var oneDNNFallback: OneDNNFallback? { oneDNNPlans.fallback }

    /// Weight and bias are drawn as PyTorch's `Conv2d.reset_parameters()` draws them:
    /// U(-1/sqrt(fan_in), 1/sqrt(fan_in)), `fan_in = in_channels / groups * kH * kW`.
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
        parameters = WeightAndBias(
            weightShape: [outChannels, inChannels / groups, kernelSize.height, kernelSize.width], biasCount: outChannels, hasBias: bias,
            fanIn: inChannels / groups * kernelSize.height * kernelSize.width)
        super.init(state: parameters.slots)
    }

    public override func stateDidChange() {
        oneDNNPlans.removeAll()
        packedWeights.removeAll()
        depthwiseKernels.withLock { $0.removeAll() }
    }

    /// `nn.init.kaiming_normal_(weight, mode="fan_out", nonlinearity="relu")`, as torchvision's
    /// ResNet initialises its convolutions: N(0, 2 / fan_out), `fan_out = out_channels * kH * kW`.
    public func resetWeightKaimingNormalFanOut(using generator: inout SeededGenerator) {
        resetKaimingNormal(parameters.weight, fanOut: outChannels * kernelSize.height * kernelSize.width, using: &generator)
    }

    /// Top, bottom, left, right padding in pixels.
    var paddingAmounts: BorderAmounts {
        switch padding {
        case .explicit(let pad): return BorderAmounts(top: pad.height, bottom: pad.height, left: pad.width, right: pad.width)
        case .valid: return .zero
        case .same:
            let totalH = dilation.height * (kernelSize.height - 1)
            let totalW = dilation.width * (kernelSize.width - 1)
            return BorderAmounts(top: totalH / 2, bottom: totalH - totalH / 2, left: totalW / 2, right: totalW - totalW / 2)
        }
    }

    public func forward(_ input: Tensor) throws -> Tensor {
        try forward(input, epilogue: nil)
    }

    /// `forward`, with the next layers' work folded into the output pass when `epilogue` is given.
    func forward(_ input: Tensor, epilogue: ConvolutionEpilogue?) throws -> Tensor {
        try forward(input, epilogue: epilogue, training: false)
    }

    /// `training` forbids Winograd kernels: a training step changes the weights, and
    /// transforming them anew each step (oneDNN's `wino_reorder`) costs more than the kernel saves
    /// (resnet18 b8: about 45% of a step's oneDNN time).
    func forward(_ input: Tensor, epilogue: ConvolutionEpilogue?, training: Bool) throws -> Tensor {
        try checkInput(input)
        if !training, let output = onePixelProduct(input, epilogue: epilogue) { return output }
        var (source, pads) = (input, paddingAmounts)
        if paddingMode != .zeros && pads != .zero {
            source = try padBorders(input, pads, mode: paddingMode)
            pads = .zero
        }
        let problem = try convolutionProblem(source.shape, pads: pads)
        let call = ConvolutionKernelCall(kernels: kernels, plans: oneDNNPlans, weight: weight, bias: bias)
        return call.run(
            source, problem, oneDNN: .success(oneDNNShape(problem, pads: pads, winograd: !training)), epilogue: epilogue,
            fallback: im2colConvolution)
    }

    /// The eval-mode output of oneDNN's kernels for an input that may be in oneDNN's blocked
    /// layout, kept in that layout when the kernel writes it, so that a graph passes it on to
    /// the next layer without reordering; nil when oneDNN does not run this case (the caller
    /// then runs ``forward(_:epilogue:)`` on the plain input).
    func forwardKeepingLayout(_ input: LayoutValue, epilogue: ConvolutionEpilogue?) throws -> LayoutValue? {
        if runsAsProduct(input.shape), let output = onePixelProduct(try input.plain(), epilogue: epilogue) { return .plain(output) }
        if case .blocked(let value) = input, let kernel = depthwiseKernel(epilogue: epilogue) { return .blocked(try kernel.run(value)) }
        guard let shape = try oneDNNShape(forLayoutValueOf: input.shape) else { return nil }
        return oneDNNPlans.convolve(input, shape: shape, weight: weight, bias: bias, epilogue: epilogue, blockedOutput: true)
    }

    /// ``forwardKeepingLayout(_:epilogue:)`` of a blocked `input` resolved once for its shape, when
    /// that call runs a oneDNN plan from blocked input to blocked output; nil otherwise.
    func preparedForward(for input: BlockedActivation, epilogue: ConvolutionEpilogue?) -> PreparedConvolution? {
        guard !runsAsProduct(input.shape), let shape = try? oneDNNShape(forLayoutValueOf: input.shape) else { return nil }
        return oneDNNPlans.prepared(input, shape: shape, weight: weight, bias: bias, epilogue: epilogue)
    }

    /// zoo's depthwise kernel for this layer and `epilogue` on a blocked input (``BlockedDepthwise``):
    /// nil unless the layer is a depthwise convolution (as many groups as channels in and out) with
    /// a square 3x3 or 5x5 kernel, stride 1 or 2 both ways, dilation 1, equal zero padding on every
    /// side, on oneDNN's kernels (the blocked layout is theirs), and the epilogue is an activation
    /// the kernel applies, and the kernel runs vector code on this CPU.
    func depthwiseKernel(epilogue: ConvolutionEpilogue?) -> BlockedDepthwise? {
        guard kernels.usesOneDNN, groups == inChannels, outChannels == inChannels, kernelSize.height == kernelSize.width,
            stride.height == stride.width, dilation == IntPair(1, 1), epilogue?.scale == nil, epilogue?.shift == nil,
            paddingMode == .zeros || paddingAmounts == .zero
        else { return nil }
        let pads = paddingAmounts
        guard pads.top == pads.bottom, pads.top == pads.left, pads.top == pads.right else { return nil }
        let activation = epilogue?.activation
        if let known = depthwiseKernels.withLock({ $0[activation] }) { return known }
        let made = BlockedDepthwise(
            weight: weight.scalars, bias: bias?.scalars, channels: inChannels, kernel: kernelSize.height, stride: stride.height,
            padding: pads.top, activation: activation
        ).flatMap { $0.runsVectorised ? $0 : nil }
        depthwiseKernels.withLock { $0[activation] = made }
        return made
    }

    /// Whether this layer on an input of `shape` is a product of `N` rows by the weights: a 1x1
    /// convolution of one-pixel planes, as in a squeeze-and-excitation block, which runs on zoo's
    /// streamed product (StreamedProduct.swift) where the layer runs on oneDNN.
    func runsAsProduct(_ shape: [Int]) -> Bool {
        kernels.usesOneDNN && groups == 1 && kernelSize == IntPair(1, 1) && paddingAmounts == .zero && shape.count == 4
            && shape[1] == inChannels && shape[2] == 1 && shape[3] == 1
    }

    /// The output on zoo's streamed product, the epilogue applied to it, when ``runsAsProduct(_:)``;
    /// nil otherwise.
    func onePixelProduct(_ input: Tensor, epilogue: ConvolutionEpilogue?) -> Tensor? {
        guard runsAsProduct(input.shape) else { return nil }
        let (rows, outputs) = (input.shape[0], outChannels)
        let weights = packedWeights.weights(for: weight, keeping: kernels.keepsPreparedWeights)
        var values = weights.apply(to: input.scalars, rows: rows, bias: bias?.scalars)
        epilogue?.apply(toPlanesOf: &values, channels: outputs, plane: 1)
        return Tensor(shape: [rows, outputs, 1, 1], scalars: values)
    }

    /// What oneDNN is asked for on an input of `shape` that may be blocked; nil when oneDNN
    /// does not run this layer (zoo's own kernels, padding modes other than zeros).
    func oneDNNShape(forLayoutValueOf shape: [Int]) throws -> OneDNNConvolutionShape? {
        guard kernels.usesOneDNN, paddingMode == .zeros || paddingAmounts == .zero, shape.count == 4, shape[1] == inChannels else {
            return nil
        }
        return oneDNNShape(try convolutionProblem(shape, pads: paddingAmounts), pads: paddingAmounts)
    }

    /// `activation?(self(input) + residual)` in oneDNN's blocked layout, the residual added in the
    /// convolution's own pass, written over `residual` when `overwritingResidual` (see
    /// ``OneDNNPlans``); nil when oneDNN cannot run it so, for the caller to add the residual.
    func forwardAddingResidual(
        _ input: LayoutValue, residual: BlockedActivation, overwritingResidual: Bool, activation: ConvolutionActivation?
    ) throws -> BlockedActivation? {
        guard let shape = try oneDNNShape(forLayoutValueOf: input.shape) else { return nil }
        return try oneDNNPlans.convolve(
            input, shape: shape, weight: weight, bias: bias, addingTo: residual, overwritingResidual: overwritingResidual,
            activation: activation)
    }

    /// Fails unless `input` is `(N, C_in, H, W)`.
    func checkInput(_ input: Tensor) throws {
        guard input.rank == 4, input.shape[1] == inChannels else {
            throw NNError.inputShape(layer: "Conv2d(\(inChannels), \(outChannels))", expected: "(N, \(inChannels), H, W)", got: input.shape)
        }
    }

    /// The sliding window over `shape` (NCHW) with `pads`, after PyTorch's size check.
    func convolutionProblem(_ shape: [Int], pads: BorderAmounts) throws -> ConvolutionProblem {
        let (height, width) = (shape[2], shape[3])
        let span = IntPair(dilation.height * (kernelSize.height - 1) + 1, dilation.width * (kernelSize.width - 1) + 1)
        guard height + pads.top + pads.bottom >= span.height, width + pads.left + pads.right >= span.width else {
            throw NNError.inputShape(
                layer: "Conv2d", expected: "a padded input at least as large as the dilated kernel \(kernelSize)", got: shape)
        }
        let geometry = ConvGeometry(
            channels: inChannels / groups, height: height, width: width, kernel: kernelSize, stride: stride, dilation: dilation,
            padTop: pads.top, padLeft: pads.left,
            outHeight: (height + pads.top + pads.bottom - span.height) / stride.height + 1,
            outWidth: (width + pads.left + pads.right - span.width) / stride.width + 1)
        return ConvolutionProblem(
            batch: shape[0], inChannels: inChannels, outChannels: outChannels, groups: groups, geometry: geometry,
            outputShape: [shape[0], outChannels, geometry.outHeight, geometry.outWidth])
    }

    /// What this layer asks oneDNN for (bias added there, the epilogue here).
    func oneDNNShape(_ problem: ConvolutionProblem, pads: BorderAmounts, winograd: Bool = true) -> OneDNNConvolutionShape {
        let geometry = problem.geometry
        return OneDNNConvolutionShape(
            kind: .convolution, source: [problem.batch, inChannels, geometry.height, geometry.width], destination: problem.outputShape,
            groups: groups, kernel: kernelSize, stride: stride, dilation: dilation, padBefore: IntPair(pads.top, pads.left),
            padAfter: IntPair(pads.bottom, pads.right), hasBias: bias != nil,
            // Winograd's transformed weights are four times the weights: worth it only kept, and
            // only with channels enough to fill its tiles (net's 3 -> 32 ran 2x slower on it).
            winograd: winograd && ConvolutionAlgorithms.allowsWinograd && kernels.keepsPreparedWeights && kernelSize == 3 && stride == 1
                && dilation == 1 && groups == 1 && inChannels >= 16 && outChannels >= 16,
            keepsPreparedWeights: kernels.keepsPreparedWeights)
    }
}
