internal import CDNNL
import Foundation
import Synchronization
import Tensor

/// What a convolution layer asks oneDNN for: one (de)convolution over NCHW float32 tensors with
/// PyTorch's weight layout, for one input shape.
struct OneDNNConvolutionShape: Hashable {
    enum Kind { case convolution, deconvolution }
    var kind: Kind
    /// `(N, C_in, H, W)` and `(N, C_out, H_out, W_out)`.
    var source: [Int]
    var destination: [Int]
    /// `(C_out, C_in / groups, kH, kW)` for a convolution, `(C_in, C_out / groups, kH, kW)` for a
    /// deconvolution, as PyTorch stores them.
    var groups: Int
    var kernel: IntPair
    var stride: IntPair
    var dilation: IntPair
    /// Padding before and after, in rows and columns.
    var padBefore: IntPair
    var padAfter: IntPair
    var hasBias: Bool
    /// Whether to ask for a Winograd kernel first (see ``ConvolutionAlgorithms``).
    var winograd = false
    /// Whether the plan keeps the weights in oneDNN's layout (fast, one more copy of them) or
    /// reorders them on every call (see ``ConvolutionKernels/keepsPreparedWeights``).
    var keepsPreparedWeights = true
    /// An activation oneDNN applies to the output (a post-op) before it leaves the kernel, so
    /// that no pass of zoo's own follows; nil for none.
    var activation: ConvolutionActivation?
    /// Whether the primitive adds what its destination holds to the output before the activation
    /// (oneDNN's `sum` post-op): a residual add done in the convolution's pass, the destination
    /// given holding the residual.
    var addsToDestination = false
}

/// A oneDNN primitive for one shape, with the weights already in the layout it chose.
///
/// oneDNN's kernels (the ones PyTorch's CPU convolutions run) want activations in a blocked
/// channel layout; zoo's tensors are plain NCHW, so each call reorders in and out, as PyTorch's
/// eager mode does. Every buffer is zoo's own and the scratchpad is passed per call, so one plan
/// runs on several threads at once.
// @unchecked: oneDNN handles and layouts (C structs), immutable after creation.
final class OneDNNConvolution: @unchecked Sendable {
    private let convolution: OneDNNPrimitive
    private let source: OneDNNOperand
    private let destination: OneDNNOperand
    private let biasLayout: dnnl_memory_desc_t
    private let weightsInner: dnnl_memory_desc_t
    /// The weights in oneDNN's layout, when kept; else the layer's own values and the reorder
    /// that makes that layout on each call.
    private let preparedWeights: OneDNNBuffer?
    private let plainWeights: [Float]
    private let weightReorder: Reorder?
    private let bias: [Float]?
    /// The bias in a buffer of the plan's own, beside the prepared weights, for ``boundCalls``.
    private let preparedBias: OneDNNBuffer?
    /// Execution arguments kept from call to call when the weights are prepared.
    private let boundCalls = ReusePool<OneDNNBoundArguments>()
    /// Whether the primitive writes its output in zoo's blocked layout (``BlockedActivation``),
    /// asked once rather than on every call.
    let writesBlockedLayout: Bool
    /// oneDNN's name for the kernel it picked (`brgconv:avx512_core`, `jit_wino_4x3:avx512_core`,
    /// `x64:gemm:jit`, ...), for a debugger or a profile.
    var implementation: String { convolution.implementation }

    /// Creates the primitive and reorders `weight` (PyTorch's layout) once; throws why when
    /// oneDNN cannot run this case, so that the caller uses zoo's own kernels.
    init(_ shape: OneDNNConvolutionShape, weight: [Float], bias: [Float]?) throws(OneDNNFallback) {
        let engine = try OneDNN.engine.get()
        var layouts = try OneDNNConvolutionLayouts(shape)
        let attributes = try OneDNNAttributes(
            postOps: (shape.addsToDestination ? [.sum] : []) + (shape.activation.map { [.activation($0)] } ?? []))
        // The first algorithm oneDNN accepts, best first; the last refusal says why none did.
        var created: OneDNNPrimitive?
        var refusal = OneDNNFallback.failed(call: "dnnl_primitive_desc_create", status: .unimplemented)
        for algorithm in OneDNN.algorithms(for: shape) where created == nil {
            do {
                var operation = try layouts.forward(shape, dnnl_forward_inference, algorithm)
                created = try OneDNNPrimitive(&operation, attributes: attributes)
            } catch { refusal = error }
        }
        guard let convolution = created else { throw refusal }
        self.convolution = convolution
        source = try convolution.operand(DNNL_ARG_SRC, dnnl_query_src_md, plain: layouts.sourcePlain)
        destination = try convolution.operand(DNNL_ARG_DST, dnnl_query_dst_md, plain: layouts.destinationPlain, output: true)
        writesBlockedLayout = (try? BlockedActivation.matches(destination.layout, shape.destination)) ?? false
        weightsInner = convolution.layout(dnnl_query_weights_md)
        biasLayout = layouts.bias
        self.bias = bias
        plainWeights = weight
        weightReorder = try Reorder.between(layouts.weightsPlain, weightsInner, engine: engine)
        guard shape.keepsPreparedWeights else {
            (preparedWeights, preparedBias) = (nil, nil)
            return
        }
        preparedWeights = try OneDNNBuffer(weightsInner, preparing: weight, by: weightReorder)
        preparedBias = try bias.map { (bias) throws(OneDNNFallback) in try OneDNNBuffer(layouts.bias, preparing: bias, by: nil) }
    }

    /// `output = conv(input) + bias`, both plain NCHW; throws the status of a oneDNN call that
    /// failed. With `keepingSource`, when the primitive reads the input in a layout of its own,
    /// returns the input in that layout: a training step's backward of the same shape reads it
    /// rather than reordering the input a second time.
    @discardableResult
    func run(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, keepingSource: Bool = false) throws(OneDNNFallback)
        -> OneDNNStagedTensor?
    {
        guard keepingSource, let reorder = source.reorder else {
            try run(
                input: UnsafeRawPointer(input), inPrimitiveLayout: false, output: UnsafeMutableRawPointer(output), inPrimitiveLayout: false)
            return nil
        }
        let staged = OneDNNStagedTensor(source.layout)
        try OneDNN.withStream { (stream) throws(OneDNNFallback) in
            try reorder.run(from: UnsafeMutableRawPointer(mutating: input), to: staged.buffer.pointer, on: stream)
        }
        try run(
            input: UnsafeRawPointer(staged.buffer.pointer), inPrimitiveLayout: true, output: UnsafeMutableRawPointer(output),
            inPrimitiveLayout: false)
        return staged
    }

    /// The layout the primitive reads its input in, and the one it writes its output in.
    var sourceLayout: dnnl_memory_desc_t { source.layout }
    var destinationLayout: dnnl_memory_desc_t { destination.layout }

    /// `output = conv(input) + bias`, each buffer plain NCHW or already in the primitive's layout
    /// (``sourceLayout``, ``destinationLayout``), which skips its reorder.
    func run(
        input: UnsafeRawPointer, inPrimitiveLayout inputInner: Bool, output: UnsafeMutableRawPointer, inPrimitiveLayout outputInner: Bool
    )
        throws(OneDNNFallback)
    {
        if let preparedWeights, inputInner || source.reorder == nil, outputInner || destination.reorder == nil {
            return try boundCalls.withItem { () throws(OneDNNFallback) in
                let fixed =
                    [(DNNL_ARG_WEIGHTS, weightsInner, preparedWeights.pointer)]
                    + (preparedBias.map { [(DNNL_ARG_BIAS, biasLayout, $0.pointer)] } ?? [])
                return try OneDNNBoundArguments(convolution, source: source.layout, destination: destination.layout, fixed: fixed)
            } _: { (arguments) throws(OneDNNFallback) in
                try arguments.run(convolution, input: input, output: output)
            }
        }
        let reading = inputInner ? OneDNNOperand(argument: DNNL_ARG_SRC, layout: source.layout, reorder: nil) : source
        let writing = outputInner ? OneDNNOperand(argument: DNNL_ARG_DST, layout: destination.layout, reorder: nil) : destination
        try OneDNN.withStream { (stream) throws(OneDNNFallback) in
            if let preparedWeights {
                return try run((reading, input), (writing, output), weights: preparedWeights.pointer, on: stream)
            }
            try plainWeights.withUnsafeBufferPointer { (plain) throws(OneDNNFallback) in
                let raw = UnsafeMutableRawPointer(mutating: plain.baseAddress!)
                guard let weightReorder else { return try run((reading, input), (writing, output), weights: raw, on: stream) }
                let weights = OneDNNBuffer(weightsInner)
                try weightReorder.run(from: raw, to: weights.pointer, on: stream)
                try run((reading, input), (writing, output), weights: weights.pointer, on: stream)
            }
        }
    }

    private func run(
        _ input: (OneDNNOperand, UnsafeRawPointer), _ output: (OneDNNOperand, UnsafeMutableRawPointer), weights: UnsafeMutableRawPointer,
        on stream: dnnl_stream_t
    ) throws(OneDNNFallback) {
        try OneDNN.withOptionalBuffer(bias) { (bias) throws(OneDNNFallback) in
            try convolution.run(
                reading: [input], writing: [output],
                direct: [(DNNL_ARG_WEIGHTS, weightsInner, weights)] + (bias.map { [(DNNL_ARG_BIAS, biasLayout, $0)] } ?? []),
                on: stream)
        }
    }
}

/// A tensor already in a primitive's layout, kept from one primitive for another that reads
/// the same layout (a forward's reordered input, for the backward of the weights).
// @unchecked: the layout (a C struct) and a buffer written once, then only read.
final class OneDNNStagedTensor: @unchecked Sendable {
    let layout: dnnl_memory_desc_t
    let buffer: OneDNNBuffer

    init(_ layout: dnnl_memory_desc_t) {
        self.layout = layout
        buffer = OneDNNBuffer(layout)
    }

    /// The operand `argument` of a primitive that reads this tensor as it is: no reorder.
    func operand(_ argument: Int32) -> OneDNNOperand { OneDNNOperand(argument: argument, layout: layout, reorder: nil) }

    /// Whether a primitive that wants `layout` can read this tensor as it is.
    func matches(_ layout: dnnl_memory_desc_t) -> Bool { OneDNN.sameLayout(self.layout, layout) }
}
