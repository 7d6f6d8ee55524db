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
}

/// A oneDNN primitive for one shape, with the weights already in the layout it chose.
///
/// oneDNN's kernels (the ones PyTorch's CPU convolutions run) want activations in a blocked
/// channel layout; zoo's tensors are plain NCHW, so each call reorders in and out, as PyTorch's
/// eager mode does. Every buffer is zoo's own and the scratchpad is passed per call, so one plan
/// runs on several threads at once.
// @unchecked: oneDNN primitive and descriptor handles, which oneDNN lets threads execute at once.
final class OneDNNConvolution: @unchecked Sendable {
    private let primitive: dnnl_primitive_t
    private let descriptor: dnnl_primitive_desc_t
    private var sourcePlain = dnnl_memory_desc_t()
    private var destinationPlain = dnnl_memory_desc_t()
    private var biasDescriptor = dnnl_memory_desc_t()
    private let sourceInner: dnnl_memory_desc_t
    private let destinationInner: dnnl_memory_desc_t
    private let weightsInner: dnnl_memory_desc_t
    private let scratchpadDescriptor: dnnl_memory_desc_t
    private let sourceReorder: Reorder?
    private let destinationReorder: Reorder?
    /// The weights in oneDNN's layout, when kept; else the layer's own values and the reorder
    /// that makes that layout on each call.
    private let preparedWeights: UnsafeMutableRawPointer?
    private let plainWeights: [Float]
    private let weightReorder: Reorder?
    private let bias: UnsafeMutableBufferPointer<Float>?
    /// oneDNN's name for the kernel it picked (`brgconv:avx512_core`, `jit_wino_4x3:avx512_core`,
    /// `x64:gemm:jit`, ...), for a debugger or a profile.
    let implementation: String

    /// Creates the primitive and reorders `weight` (PyTorch's layout) once; throws why when
    /// oneDNN cannot run this case, so that the caller uses zoo's own kernels.
    init(_ shape: OneDNNConvolutionShape, weight: [Float], bias: [Float]?) throws(OneDNNFallback) {
        let engine = try OneDNN.engine.get()
        let (outChannels, inChannels) = (shape.destination[1], shape.source[1])
        let g = shape.groups
        let kernel = [shape.kernel.height, shape.kernel.width]
        let weightDims = g == 1 ? [outChannels, inChannels] + kernel : [g, outChannels / g, inChannels / g] + kernel
        let weightTag: dnnl_format_tag_t =
            switch (shape.kind, g == 1) {
            case (.convolution, true): dnnl_oihw
            case (.convolution, false): dnnl_goihw
            case (.deconvolution, true): dnnl_iohw
            case (.deconvolution, false): dnnl_giohw
            }
        // oneDNN's blocked kernels pad channels to 16; with fewer output channels per group most
        // of their work would be padding, and its GEMM-based kernel on plain NCHW wins (a 32->3
        // transposed convolution: 0.52 ms against 1.25, Tools/bench/conv_libraries.c).
        // Depthwise convolutions (one input channel per group) are the exception: oneDNN's
        // depthwise kernels work on the blocked layout, where every channel is a lane.
        let depthwise = g > 1 && inChannels == g && shape.kind == .convolution
        let plain = outChannels / g < 16 && !depthwise
        // The blocked kernels are asked for 16-channel blocks (nChw16c) rather than left to pick
        // (brgconv picks channels-last, NHWC): reordering plain NCHW to and from 16-channel blocks
        // reads 16 planes at once, where NHWC's transpose reads as many as there are channels
        // (efficientnet_b0 b1, oneDNN's time per pass: 26.0 ms left to pick, 14.6 ms asked for
        // blocks; resnet18 b1: 25.7 and 21.4). Few input channels stay plain on the way in,
        // which the first-layer kernels read directly (efficientnet_b0's stem: 6.4 -> 0.3 ms).
        // (This was withdrawn once: resnet18's training gradients parted from autograd's. The
        // cause was the test's input, one of whose ReLU inputs sat within float32 rounding of 0,
        // where any kernel but PyTorch's own flipped it; the fixture now keeps clear of kinks.)
        let blocked = dnnl_aBcd16b
        let destinationTag = plain ? dnnl_nchw : blocked
        let sourceTag = plain ? dnnl_nchw : (inChannels / g < 16 && !depthwise ? dnnl_nchw : blocked)
        var weightsPlain = dnnl_memory_desc_t()
        var sourceAny = dnnl_memory_desc_t()
        var destinationAny = dnnl_memory_desc_t()
        var weightsAny = dnnl_memory_desc_t()
        try OneDNN.describe(&sourcePlain, shape.source, dnnl_nchw)
        try OneDNN.describe(&destinationPlain, shape.destination, dnnl_nchw)
        try OneDNN.describe(&weightsPlain, weightDims, weightTag)
        try OneDNN.describe(&sourceAny, shape.source, sourceTag)
        try OneDNN.describe(&destinationAny, shape.destination, destinationTag)
        try OneDNN.describe(&weightsAny, weightDims, dnnl_format_tag_any)
        try OneDNN.describe(&biasDescriptor, [outChannels], dnnl_a)

        let strides = OneDNN.dims([shape.stride.height, shape.stride.width])
        // oneDNN counts dilation from 0 (no gaps), PyTorch from 1.
        let dilates = OneDNN.dims([shape.dilation.height - 1, shape.dilation.width - 1])
        let padBefore = OneDNN.dims([shape.padBefore.height, shape.padBefore.width])
        let padAfter = OneDNN.dims([shape.padAfter.height, shape.padAfter.width])
        let biasLayout: UnsafeMutablePointer<dnnl_memory_desc_t>? = shape.hasBias ? .allocate(capacity: 1) : nil
        biasLayout?.initialize(to: biasDescriptor)
        defer { biasLayout?.deallocate() }
        var attributes: dnnl_primitive_attr_t?
        try OneDNN.check(dnnl_primitive_attr_create(&attributes), "dnnl_primitive_attr_create")
        defer { dnnl_primitive_attr_destroy(attributes) }
        try OneDNN.check(
            dnnl_primitive_attr_set_scratchpad_mode(attributes, dnnl_scratchpad_mode_user), "dnnl_primitive_attr_set_scratchpad_mode")
        if let activation = shape.activation { try OneDNN.setPostOp(activation, on: attributes) }

        // A deconvolution's descriptor is a convolution's (the same C type), made by its own call.
        let (initialise, initialiser) =
            shape.kind == .convolution
            ? (dnnl_dilated_convolution_forward_desc_init, "dnnl_dilated_convolution_forward_desc_init")
            : (dnnl_dilated_deconvolution_forward_desc_init, "dnnl_dilated_deconvolution_forward_desc_init")
        func describe(_ algorithm: dnnl_alg_kind_t) throws(OneDNNFallback) -> dnnl_primitive_desc_t {
            var operation = dnnl_convolution_desc_t()
            try OneDNN.check(
                initialise(
                    &operation, dnnl_forward_inference, algorithm, &sourceAny, &weightsAny, biasLayout, &destinationAny, strides, dilates,
                    padBefore, padAfter), initialiser)
            var created: dnnl_primitive_desc_t?
            try OneDNN.check(dnnl_primitive_desc_create(&created, &operation, attributes, engine, nil), "dnnl_primitive_desc_create")
            guard let created else { throw .failed(call: "dnnl_primitive_desc_create", status: .runtimeError) }
            return created
        }
        // The first algorithm oneDNN accepts, best first; the last refusal says why none did.
        var created: dnnl_primitive_desc_t?
        var refusal = OneDNNFallback.failed(call: "dnnl_primitive_desc_create", status: .unimplemented)
        for algorithm in OneDNN.algorithms(for: shape) where created == nil {
            do { created = try describe(algorithm) } catch { refusal = error }
        }
        guard let descriptor = created else { throw refusal }
        var implementationName: UnsafePointer<CChar>?
        dnnl_primitive_desc_query(descriptor, dnnl_query_impl_info_str, 0, &implementationName)
        let name = implementationName.map { String(cString: $0) } ?? "unknown"
        // oneDNN's reference kernels are slower than zoo's own.
        guard !name.hasPrefix("ref") else {
            dnnl_primitive_desc_destroy(descriptor)
            throw .referenceKernelOnly(implementation: name)
        }
        var made: dnnl_primitive_t?
        let status = dnnl_primitive_create(&made, descriptor)
        guard status == dnnl_success, let primitive = made else {
            dnnl_primitive_desc_destroy(descriptor)
            throw .failed(call: "dnnl_primitive_create", status: OneDNNStatus(status))
        }
        self.descriptor = descriptor
        self.primitive = primitive
        self.implementation = name
        sourceInner = dnnl_primitive_desc_query_md(descriptor, dnnl_query_src_md, 0).pointee
        destinationInner = dnnl_primitive_desc_query_md(descriptor, dnnl_query_dst_md, 0).pointee
        weightsInner = dnnl_primitive_desc_query_md(descriptor, dnnl_query_weights_md, 0).pointee
        scratchpadDescriptor = dnnl_primitive_desc_query_md(descriptor, dnnl_query_scratchpad_md, 0).pointee
        sourceReorder = try Reorder.between(sourcePlain, sourceInner, engine: engine)
        destinationReorder = try Reorder.between(destinationInner, destinationPlain, engine: engine)
        self.bias = bias.map { values in
            let copy = UnsafeMutableBufferPointer<Float>.allocate(capacity: values.count)
            _ = copy.initialize(from: values)
            return copy
        }
        plainWeights = weight
        weightReorder = try Reorder.between(weightsPlain, weightsInner, engine: engine)
        guard shape.keepsPreparedWeights else {
            preparedWeights = nil
            return
        }
        let prepared = OneDNN.allocate(weightsInner)
        preparedWeights = prepared
        try weight.withUnsafeBufferPointer { (plain) throws(OneDNNFallback) in
            let raw = UnsafeMutableRawPointer(mutating: plain.baseAddress!)
            guard let weightReorder else {
                prepared.copyMemory(from: raw, byteCount: plain.count * MemoryLayout<Float>.stride)
                return
            }
            try OneDNN.withStream { (stream) throws(OneDNNFallback) in
                try weightReorder.run(from: raw, to: prepared, on: stream)
            }
        }
    }

    deinit {
        dnnl_primitive_destroy(primitive)
        dnnl_primitive_desc_destroy(descriptor)
        preparedWeights?.deallocate()
        bias?.deallocate()
    }

    /// `output = conv(input) + bias`, both plain NCHW; throws the status of a oneDNN call that failed.
    func run(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) throws(OneDNNFallback) {
        try OneDNN.withStream { (stream) throws(OneDNNFallback) in
            if let preparedWeights { return try run(input: input, output: output, weights: preparedWeights, on: stream) }
            try plainWeights.withUnsafeBufferPointer { (plain) throws(OneDNNFallback) in
                let raw = UnsafeMutableRawPointer(mutating: plain.baseAddress!)
                guard let weightReorder else { return try run(input: input, output: output, weights: raw, on: stream) }
                let weights = OneDNN.allocate(weightsInner)
                defer { weights.deallocate() }
                try weightReorder.run(from: raw, to: weights, on: stream)
                try run(input: input, output: output, weights: weights, on: stream)
            }
        }
    }

    private func run(
        input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, weights: UnsafeMutableRawPointer, on stream: dnnl_stream_t
    ) throws(OneDNNFallback) {
        let source = UnsafeMutableRawPointer(mutating: input)
        let sourceBuffer = sourceReorder.map { _ in OneDNN.allocate(sourceInner) }
        let destinationBuffer = destinationReorder.map { _ in OneDNN.allocate(destinationInner) }
        let scratchpad = OneDNN.allocate(scratchpadDescriptor)
        defer {
            sourceBuffer?.deallocate()
            destinationBuffer?.deallocate()
            scratchpad.deallocate()
        }
        if let sourceReorder, let sourceBuffer { try sourceReorder.run(from: source, to: sourceBuffer, on: stream) }
        try OneDNN.execute(
            primitive, on: stream,
            arguments: [
                (DNNL_ARG_SRC, sourceInner, sourceBuffer ?? source),
                (DNNL_ARG_WEIGHTS, weightsInner, weights),
                (DNNL_ARG_DST, destinationInner, destinationBuffer ?? UnsafeMutableRawPointer(output)),
                (DNNL_ARG_SCRATCHPAD, scratchpadDescriptor, scratchpad),
            ] + (bias.map { values in [(DNNL_ARG_BIAS, biasDescriptor, UnsafeMutableRawPointer(values.baseAddress!))] } ?? []))
        if let destinationReorder, let destinationBuffer {
            try destinationReorder.run(from: destinationBuffer, to: UnsafeMutableRawPointer(output), on: stream)
        }
    }
}
