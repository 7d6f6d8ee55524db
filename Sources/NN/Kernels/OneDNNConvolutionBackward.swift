internal import CDNNL

/// Which backward primitives a layer asks for: its shape (direct algorithm, no post-op, weights
/// not kept) and whether the input gradient is wanted (not for a model's first layer).
struct OneDNNBackwardKey: Hashable {
    let shape: OneDNNConvolutionShape
    let needsInput: Bool

    init(_ shape: OneDNNConvolutionShape, needsInput: Bool) {
        var plain = shape
        (plain.winograd, plain.keepsPreparedWeights, plain.activation, plain.addsToDestination) = (false, false, nil, false)
        (self.shape, self.needsInput) = (plain, needsInput)
    }
}

/// oneDNN's backward primitives for one shape, as PyTorch's CPU autograd runs them: the input
/// gradient (backward data) and the weight and bias gradients (backward weights), each described
/// with a forward-training descriptor as oneDNN's hint. Tensors cross in zoo's plain layouts,
/// reordered where a primitive chose another. A plan holds no weights (a training step changes
/// them), so it outlives the step and the layer's current weights are reordered on each call.
// @unchecked: oneDNN handles and layouts (C structs), immutable after creation.
final class OneDNNConvolutionBackward: @unchecked Sendable {
    private struct Data {
        let primitive: OneDNNPrimitive
        let outputGradient: OneDNNOperand
        let weights: OneDNNOperand
        let inputGradient: OneDNNOperand
    }
    private let data: Data?
    private let weights: OneDNNPrimitive
    private let source: OneDNNOperand
    private let outputGradient: OneDNNOperand
    private let weightGradient: OneDNNOperand
    private let biasLayout: dnnl_memory_desc_t?
    private let biasCount: Int
    /// Whether both primitives want the output's gradient in one layout other than zoo's, so
    /// that it is reordered once for both.
    private let sharesOutputGradient: Bool
    /// The kernels oneDNN picked (`backward data: ..., backward weights: ...`), for a profile.
    let implementation: String

    init(_ key: OneDNNBackwardKey) throws(OneDNNFallback) {
        let shape = key.shape
        var layouts = try OneDNNConvolutionLayouts(shape)
        let algorithm = shape.kind == .convolution ? dnnl_convolution_direct : dnnl_deconvolution_direct
        let attributes = try OneDNNAttributes()
        var forward = try layouts.forward(shape, dnnl_forward_training, algorithm)
        let hint = try OneDNNPrimitive(&forward, attributes: attributes)

        var weightsOperation = try layouts.backwardWeights(shape, algorithm)
        weights = try OneDNNPrimitive(&weightsOperation, attributes: attributes, hint: hint.descriptor)
        source = try weights.operand(DNNL_ARG_SRC, dnnl_query_src_md, plain: layouts.sourcePlain)
        outputGradient = try weights.operand(DNNL_ARG_DIFF_DST, dnnl_query_diff_dst_md, plain: layouts.destinationPlain)
        weightGradient = try weights.operand(
            DNNL_ARG_DIFF_WEIGHTS, dnnl_query_diff_weights_md, plain: layouts.weightsPlain, output: true)
        biasLayout = shape.hasBias ? layouts.bias : nil
        biasCount = shape.hasBias ? shape.destination[1] : 0
        var names = ["backward weights: \(weights.implementation)"]

        if key.needsInput {
            var dataOperation = try layouts.backwardData(shape, algorithm)
            let primitive = try OneDNNPrimitive(&dataOperation, attributes: attributes, hint: hint.descriptor)
            data = Data(
                primitive: primitive,
                outputGradient: try primitive.operand(DNNL_ARG_DIFF_DST, dnnl_query_diff_dst_md, plain: layouts.destinationPlain),
                weights: try primitive.operand(DNNL_ARG_WEIGHTS, dnnl_query_weights_md, plain: layouts.weightsPlain),
                inputGradient: try primitive.operand(
                    DNNL_ARG_DIFF_SRC, dnnl_query_diff_src_md, plain: layouts.sourcePlain, output: true))
            names.insert("backward data: \(primitive.implementation)", at: 0)
        } else {
            data = nil
        }
        implementation = names.joined(separator: ", ")
        sharesOutputGradient =
            data != nil && outputGradient.reorder != nil
            && OneDNN.sameLayout(outputGradient.layout, data?.outputGradient.layout ?? outputGradient.layout)
    }

    /// The gradients with respect to the input (zeros when the plan was made without it), the
    /// weight and the bias (empty without one), all in zoo's layouts, from the layer's `input`,
    /// `weight` and its output's `gradient`; the backward of the weights reads `stagedSource`
    /// instead of `input` when it is in the layout it wants.
    func gradients(input: [Float], gradient: [Float], weight: [Float], stagedSource: OneDNNStagedTensor? = nil)
        throws(OneDNNFallback) -> ConvolutionGradients
    {
        // Every value is written by a primitive, but the input gradient's when it is not wanted.
        var inputValues = data == nil ? [Float](repeating: 0, count: input.count) : Self.uninitialized(input.count)
        var weightValues = Self.uninitialized(weight.count)
        var biasValues = Self.uninitialized(biasCount)
        try OneDNN.withStream { (stream) throws(OneDNNFallback) in
            try input.withUnsafeBufferPointer { (x) throws(OneDNNFallback) in
                try gradient.withUnsafeBufferPointer { (dy) throws(OneDNNFallback) in
                    var (outputGradient, outputGradientValues) = (outputGradient, UnsafeRawPointer(dy.baseAddress!))
                    var dataOutputGradient = data?.outputGradient
                    let staged = sharesOutputGradient ? OneDNNBuffer(outputGradient.layout) : nil
                    if let staged, let reorder = outputGradient.reorder {
                        try reorder.run(from: UnsafeMutableRawPointer(mutating: outputGradientValues), to: staged.pointer, on: stream)
                        outputGradient = OneDNNOperand(argument: DNNL_ARG_DIFF_DST, layout: outputGradient.layout, reorder: nil)
                        (dataOutputGradient, outputGradientValues) = (outputGradient, UnsafeRawPointer(staged.pointer))
                    }
                    try weightValues.withUnsafeMutableBufferPointer { (dw) throws(OneDNNFallback) in
                        try biasValues.withUnsafeMutableBufferPointer { (db) throws(OneDNNFallback) in
                            let bias = biasLayout.map { [(DNNL_ARG_DIFF_BIAS, $0, UnsafeMutableRawPointer(db.baseAddress!))] } ?? []
                            let staged = stagedSource.flatMap { $0.reorderedSource(for: source) }
                            try weights.run(
                                reading: [staged ?? (source, UnsafeRawPointer(x.baseAddress!)), (outputGradient, outputGradientValues)],
                                writing: [(weightGradient, UnsafeMutableRawPointer(dw.baseAddress!))], direct: bias, on: stream)
                        }
                    }
                    guard let data, let dataOutputGradient else { return }
                    try weight.withUnsafeBufferPointer { (w) throws(OneDNNFallback) in
                        try inputValues.withUnsafeMutableBufferPointer { (dx) throws(OneDNNFallback) in
                            try data.primitive.run(
                                reading: [(dataOutputGradient, outputGradientValues), (data.weights, UnsafeRawPointer(w.baseAddress!))],
                                writing: [(data.inputGradient, UnsafeMutableRawPointer(dx.baseAddress!))], on: stream)
                        }
                    }
                }
            }
        }
        return ConvolutionGradients(input: inputValues, weight: weightValues, bias: biasValues)
    }

    private static func uninitialized(_ count: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
    }
}

extension OneDNNStagedTensor {
    /// This tensor as the operand `source` reads, when it is in the layout `source` reorders zoo's
    /// tensor into; nil when it is not (or when `source` reads zoo's layout as it is).
    fileprivate func reorderedSource(for source: OneDNNOperand) -> (OneDNNOperand, UnsafeRawPointer)? {
        guard source.reorder != nil, matches(source.layout) else { return nil }
        return (operand(source.argument), UnsafeRawPointer(buffer.pointer))
    }
}
