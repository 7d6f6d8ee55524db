import Tensor

extension Conv2d: Differentiable {
    /// Keeps the (padded) input and the weight; the backward is oneDNN's backward primitives
    /// where oneDNN has a kernel for the case, else the adjoint of im2col and GEMM (see
    /// `convolutionGradients(input:gradient:problem:weight:needsInput:)`); then, for a padding
    /// mode other than zeros, the adjoint of the border padding.
    public func forwardWithPullback(_ input: Tensor, pass: TrainingPass) throws -> (output: Tensor, pullback: Pullback) {
        try checkInput(input)
        var (source, pads) = (input, paddingAmounts)
        let padsInput = paddingMode != .zeros && pads != .zero
        if padsInput {
            source = try padBorders(input, pads, mode: paddingMode)
            pads = .zero
        }
        let problem = try convolutionProblem(source.shape, pads: pads)
        let (weight, hasBias, borders, mode) = (self.weight, bias != nil, paddingAmounts, paddingMode)
        let needsInput = pass.needsInputGradient
        let shape = kernels.usesOneDNN ? oneDNNShape(problem, pads: pads, winograd: false) : nil
        // oneDNN's forward keeps the input it reordered, which the backward of the weights reads.
        let forward = shape.flatMap { oneDNNPlans.trainingForward(source, shape: $0, weight: weight, bias: bias) }
        let output = try forward?.output ?? self.forward(input, epilogue: nil, training: true)
        let stagedSource = forward?.stagedSource
        return (
            output,
            { [self] gradient in
                try checkGradient(gradient, output: output, layer: "Conv2d")
                let result =
                    shape.flatMap {
                        oneDNNPlans.gradients(
                            input: source, gradient: gradient, shape: $0, weight: weight, needsInput: needsInput,
                            stagedSource: stagedSource)
                    }
                    ?? convolutionGradients(
                        input: source.scalars, gradient: gradient.scalars, problem: problem, weight: weight.scalars, needsInput: needsInput)
                pass.gradients.accumulate(self, result, hasBias: hasBias)
                let padded = Tensor(shape: source.shape, scalars: result.input)
                return padsInput ? foldBorders(padded, borders, mode: mode, into: input.shape) : padded
            }
        )
    }
}

extension ConvTranspose2d: Differentiable {
    /// Keeps the input and the weight; the backward is oneDNN's deconvolution backward
    /// primitives where oneDNN has a kernel for the case, else a forward convolution of the
    /// output's gradient (im2col and GEMM), the transposed convolution's adjoint.
    public func forwardWithPullback(_ input: Tensor, pass: TrainingPass) throws -> (output: Tensor, pullback: Pullback) {
        let output = try forward(input)
        let problem = try convolutionProblem(input.shape)
        let (weight, hasBias) = (self.weight, bias != nil)
        let needsInput = pass.needsInputGradient
        let shape = kernels.usesOneDNN ? try? oneDNNShape(problem).get() : nil
        return (
            output,
            { [self] gradient in
                try checkGradient(gradient, output: output, layer: "ConvTranspose2d")
                let result =
                    shape.flatMap {
                        oneDNNPlans.gradients(input: input, gradient: gradient, shape: $0, weight: weight, needsInput: needsInput)
                    }
                    ?? transposedConvolutionGradients(
                        input: input.scalars, gradient: gradient.scalars, problem: problem, weight: weight.scalars)
                pass.gradients.accumulate(self, result, hasBias: hasBias)
                return Tensor(shape: input.shape, scalars: result.input)
            }
        )
    }
}

/// Fails unless the gradient has the output's shape.
func checkGradient(_ gradient: Tensor, output: Tensor, layer: String) throws {
    guard gradient.shape == output.shape else {
        throw NNError.inputShape(
            layer: "\(layer) backward", expected: "a gradient of the output's shape \(output.shape)", got: gradient.shape)
    }
}

/// The gradients of one convolution: with respect to its input, its weight and its bias.
struct ConvolutionGradients {
    var input: [Float]
    var weight: [Float]
    var bias: [Float]
}

extension ParameterGradients {
    /// Adds a convolution's weight gradient, and its bias gradient when it has a bias.
    func accumulate(_ layer: ModuleBase, _ result: ConvolutionGradients, hasBias: Bool) {
        accumulate(layer, "weight", result.weight)
        if hasBias { accumulate(layer, "bias", result.bias) }
    }
}

/// Per group, with `cols = im2col(x)` and `W_g` the group's `(C_out/g, patch)` rows:
/// `dW_g += dy_g cols^T`, `dx += col2im(W_g^T dy_g)`; the bias gets the sum of `dy` per channel.
/// As the forward does, several samples share one GEMM (their columns side by side) so that
/// small planes still make products wide enough for BLAS; chunks run in order, so that the
/// weight gradient's sums run in one fixed order.
func convolutionGradients(input: [Float], gradient: [Float], problem: ConvolutionProblem, weight: [Float], needsInput: Bool = true)
    -> ConvolutionGradients
{
    let geometry = problem.geometry
    let (patch, outPerGroup) = (geometry.patchSize, problem.outChannels / problem.groups)
    let (inPlane, outPlane) = (geometry.height * geometry.width, geometry.outHeight * geometry.outWidth)
    let chunk = Swift.max(1, Swift.min(problem.batch, 65536 / Swift.max(1, outPlane), (8 << 20) / Swift.max(1, patch * outPlane)))
    return accumulateGradients(
        input: input, gradient: gradient, weight: weight, problem: problem, outPlane: outPlane, columns: patch * chunk * outPlane,
        side: outPerGroup * chunk * outPlane, chunk: chunk
    ) { buffers, samples, group in
        let span = samples.count * outPlane
        let (images, columns, rows, gradients) = (
            SharedPointer(buffers.x), SharedPointer(buffers.columns), SharedPointer(buffers.side), SharedPointer(buffers.dy)
        )
        let first = samples.lowerBound
        parallelFor(samples.count) { j in
            let image = ((first + j) * problem.inChannels + group * geometry.channels) * inPlane
            geometry.im2col(images.base + image, into: columns.base + j * outPlane, rowStride: span)
            for o in 0..<outPerGroup {
                (rows.base + o * span + j * outPlane).update(
                    from: gradients.base + ((first + j) * problem.outChannels + group * outPerGroup + o) * outPlane, count: outPlane)
            }
        }
        let groupWeight = group * outPerGroup * patch
        gemm(
            transposeA: false, transposeB: true, m: outPerGroup, n: patch, k: span, a: buffers.side, lda: span,
            b: buffers.columns, ldb: span, c: buffers.dw + groupWeight, ldc: patch, beta: 1)
        guard needsInput else { return }
        gemm(
            transposeA: true, transposeB: false, m: patch, n: span, k: outPerGroup, a: buffers.w + groupWeight, lda: patch,
            b: buffers.side, ldb: span, c: buffers.columns, ldc: span)
        let target = SharedPointer(buffers.dx)
        parallelFor(samples.count) { j in
            let image = ((first + j) * problem.inChannels + group * geometry.channels) * inPlane
            geometry.col2imAdd(columns.base + j * outPlane, into: target.base + image, rowStride: span)
        }
    }
}

/// The transposed convolution's geometry is the matching forward convolution's, whose image is
/// the output: per sample and group, with `cols = im2col(dy)` and `W_g` the group's
/// `(C_in/g, patch)` rows, `dx_g = W_g cols` and `dW_g += x_g cols^T`.
func transposedConvolutionGradients(input: [Float], gradient: [Float], problem: ConvolutionProblem, weight: [Float])
    -> ConvolutionGradients
{
    let geometry = problem.geometry
    let (patch, inPerGroup) = (geometry.patchSize, problem.inChannels / problem.groups)
    let (inPlane, outPlane) = (geometry.outHeight * geometry.outWidth, geometry.height * geometry.width)
    return accumulateGradients(
        input: input, gradient: gradient, weight: weight, problem: problem, outPlane: outPlane, columns: patch * inPlane, side: 0,
        chunk: 1
    ) { buffers, samples, group in
        let n = samples.lowerBound
        let source = (n * problem.inChannels + group * inPerGroup) * inPlane
        let image = (n * problem.outChannels + group * geometry.channels) * outPlane
        let groupWeight = group * inPerGroup * patch
        geometry.parallelIm2col(buffers.dy + image, into: buffers.columns, rowStride: inPlane)
        gemm(
            transposeA: false, transposeB: false, m: inPerGroup, n: inPlane, k: patch, a: buffers.w + groupWeight, lda: patch,
            b: buffers.columns, ldb: inPlane, c: buffers.dx + source, ldc: inPlane)
        gemm(
            transposeA: false, transposeB: true, m: inPerGroup, n: patch, k: inPlane, a: buffers.x + source, lda: inPlane,
            b: buffers.columns, ldb: inPlane, c: buffers.dw + groupWeight, ldc: patch, beta: 1)
    }
}

/// What a convolution's backward reads (`x`, `dy`, `w`), writes (`dx`, `dw`, zeroed first)
/// and works in (`columns`).
private struct GradientBuffers {
    let x: UnsafePointer<Float>
    let dy: UnsafePointer<Float>
    let w: UnsafePointer<Float>
    let dx: UnsafeMutablePointer<Float>
    let dw: UnsafeMutablePointer<Float>
    let columns: UnsafeMutablePointer<Float>
    /// A chunk's output gradients side by side, when samples share a GEMM.
    let side: UnsafeMutablePointer<Float>
}

/// Runs `body(buffers, samples, group)` for every chunk of `chunk` samples and every group, in
/// order, so that the weight gradient's sums run in one fixed order; the bias gradient is `dy`'s
/// sum per channel.
private func accumulateGradients(
    input: [Float], gradient: [Float], weight: [Float], problem: ConvolutionProblem, outPlane: Int, columns: Int, side: Int,
    chunk: Int, body: (GradientBuffers, Range<Int>, Int) -> Void
) -> ConvolutionGradients {
    var inputGradient: [Float] = []
    let weightGradient = makeValues(zeroed: weight.count) { dw in
        inputGradient = makeValues(zeroed: input.count) { dx in
            withReadPointers(input, gradient) { x, dy in
                withReadPointers(weight, []) { w, _ in
                    withScratch(columns) { columns in
                        withScratch(side) { side in
                            let buffers = GradientBuffers(x: x, dy: dy, w: w, dx: dx, dw: dw, columns: columns, side: side)
                            for first in stride(from: 0, to: problem.batch, by: chunk) {
                                let samples = first..<Swift.min(first + chunk, problem.batch)
                                for group in 0..<problem.groups { body(buffers, samples, group) }
                            }
                        }
                    }
                }
            }
        }
    }
    let bias = channelSums(gradient, batch: problem.batch, channels: problem.outChannels, plane: outPlane)
    return ConvolutionGradients(input: inputGradient, weight: weightGradient, bias: bias)
}

/// The sum of NCHW values per channel, accumulated in double precision.
func channelSums(_ values: [Float], batch: Int, channels: Int, plane: Int) -> [Float] {
    (0..<channels).map { c in
        var sum = 0.0
        for n in 0..<batch {
            let base = (n * channels + c) * plane
            for index in base..<(base + plane) { sum += Double(values[index]) }
        }
        return Float(sum)
    }
}

/// The adjoint of ``padBorders(_:_:mode:)``: each padded pixel's gradient added back to the
/// input pixel it was copied from.
func foldBorders(_ padded: Tensor, _ pads: BorderAmounts, mode: PaddingMode, into shape: [Int]) -> Tensor {
    let (height, width) = (shape[2], shape[3])
    let (outHeight, outWidth) = (padded.shape[2], padded.shape[3])
    let rows = (0..<outHeight).map { sourceIndex($0 - pads.top, size: height, mode: mode) }
    let columns = (0..<outWidth).map { sourceIndex($0 - pads.left, size: width, mode: mode) }
    let values = padded.scalars
    var folded = [Float](repeating: 0, count: shape.reduce(1, *))
    for plane in 0..<(shape[0] * shape[1]) {
        let (inBase, outBase) = (plane * height * width, plane * outHeight * outWidth)
        for (oh, ih) in rows.enumerated() {
            for (ow, iw) in columns.enumerated() { folded[inBase + ih * width + iw] += values[outBase + oh * outWidth + ow] }
        }
    }
    return Tensor(shape: shape, scalars: folded)
}

extension ConvGeometry {
    /// This window over one of its channels: each channel's rows of the column matrix, and its
    /// image plane, are its own, so channels can be copied on separate threads.
    private var oneChannel: ConvGeometry {
        ConvGeometry(
            channels: 1, height: height, width: width, kernel: kernel, stride: stride, dilation: dilation, padTop: padTop,
            padLeft: padLeft, outHeight: outHeight, outWidth: outWidth)
    }

    /// ``im2col(_:into:rowStride:)``, one channel per index of a parallel loop.
    func parallelIm2col(_ image: UnsafePointer<Float>, into columns: UnsafeMutablePointer<Float>, rowStride: Int) {
        let (single, plane, rows) = (oneChannel, height * width, kernel.height * kernel.width)
        let (source, target) = (SharedPointer(image), SharedPointer(columns))
        parallelFor(channels, costPerIndex: rows * outHeight * outWidth) { c in
            single.im2col(source.base + c * plane, into: target.base + c * rows * rowStride, rowStride: rowStride)
        }
    }
}
