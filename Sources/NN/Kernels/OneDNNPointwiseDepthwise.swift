internal import CDNNL

/// A 1x1 convolution and the 3x3 depthwise convolution that reads its output (padding 1, stride
/// 1 or 2), as one oneDNN primitive: the depthwise one is the pointwise one's post-op, between
/// their activations. MobileNetV2's inverted residual blocks are such pairs. oneDNN 2.6 runs it
/// (on f32) as its two kernels one after the other, the whole expanded tensor between them, but
/// as one call where there were two; where zoo's own kernel runs (``BlockedPointwiseDepthwise``,
/// AVX-512), that one is taken instead.
///
/// Both activations and the output are in the blocked layout (``BlockedActivation``); the
/// output is `N x C x H_out x W_out` with `H_out = (H + 2 - 3) / stride + 1`.
// @unchecked: oneDNN handles, layouts (C structs) and buffers, immutable after creation.
final class OneDNNPointwiseDepthwise: @unchecked Sendable {
    private let primitive: OneDNNPrimitive
    private let sourceLayout: dnnl_memory_desc_t
    private let destinationLayout: dnnl_memory_desc_t
    private let destinationShape: [Int]
    /// The arguments besides the source and destination: both weights in oneDNN's layouts and
    /// both biases.
    private let direct: [(Int32, dnnl_memory_desc_t, OneDNNBuffer)]

    /// The fused primitive for `pointwise` (a 1x1, stride-1, unpadded convolution whose
    /// activation, if any, is in `pointwise.activation`), followed by a depthwise 3x3
    /// convolution of `stride` with padding 1 and `depthwiseActivation`; the weights in
    /// PyTorch's layouts (`(C_mid, C_in, 1, 1)` and `(C_mid, 1, 3, 3)`), the biases of `C_mid`.
    /// Throws why when oneDNN has no kernel for it or would not read and write the blocked layout.
    init(
        pointwise: OneDNNConvolutionShape, pointwiseWeight: [Float], pointwiseBias: [Float],
        depthwiseStride: Int, depthwiseWeight: [Float], depthwiseBias: [Float], depthwiseActivation: ConvolutionActivation?
    ) throws(OneDNNFallback) {
        let engine = try OneDNN.engine.get()
        let channels = pointwise.destination[1]
        var layouts = try OneDNNConvolutionLayouts(pointwise)
        let attributes = try OneDNNAttributes(
            postOps: (pointwise.activation.map { [.activation($0)] } ?? []) + [.depthwise3x3(stride: depthwiseStride)]
                + (depthwiseActivation.map { [.activation($0)] } ?? []))
        var operation = try layouts.forward(pointwise, dnnl_forward_inference, dnnl_convolution_direct)
        primitive = try OneDNNPrimitive(&operation, attributes: attributes)

        sourceLayout = primitive.layout(dnnl_query_src_md)
        destinationLayout = primitive.layout(dnnl_query_dst_md)
        let (height, width) = (pointwise.destination[2], pointwise.destination[3])
        destinationShape = [
            pointwise.destination[0], channels, (height - 1) / depthwiseStride + 1, (width - 1) / depthwiseStride + 1,
        ]
        guard (try? BlockedActivation.matches(sourceLayout, pointwise.source)) == true,
            (try? BlockedActivation.matches(destinationLayout, destinationShape)) == true
        else { throw .failed(call: "dnnl_primitive_desc_create", status: .unimplemented) }

        var depthwisePlain = dnnl_memory_desc_t()
        try OneDNN.describe(&depthwisePlain, [channels, 1, 1, 3, 3], dnnl_goihw)
        let depthwiseWeights = DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_WEIGHTS
        let depthwiseBiasArgument = DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_BIAS
        let pointwiseLayout = primitive.layout(dnnl_query_weights_md)
        let depthwiseLayout = dnnl_primitive_desc_query_md(primitive.descriptor, dnnl_query_exec_arg_md, depthwiseWeights).pointee
        let depthwiseBiasLayout = dnnl_primitive_desc_query_md(primitive.descriptor, dnnl_query_exec_arg_md, depthwiseBiasArgument)
            .pointee
        direct = [
            (
                DNNL_ARG_WEIGHTS, pointwiseLayout,
                try OneDNNBuffer(
                    pointwiseLayout, preparing: pointwiseWeight,
                    by: try Reorder.between(layouts.weightsPlain, pointwiseLayout, engine: engine))
            ),
            (DNNL_ARG_BIAS, layouts.bias, try OneDNNBuffer(layouts.bias, preparing: pointwiseBias, by: nil)),
            (
                depthwiseWeights, depthwiseLayout,
                try OneDNNBuffer(
                    depthwiseLayout, preparing: depthwiseWeight, by: try Reorder.between(depthwisePlain, depthwiseLayout, engine: engine))
            ),
            (
                depthwiseBiasArgument, depthwiseBiasLayout,
                try OneDNNBuffer(
                    depthwiseBiasLayout, preparing: depthwiseBias,
                    by: try Reorder.between(layouts.bias, depthwiseBiasLayout, engine: engine))
            ),
        ]
    }

    /// Both convolutions of `input`, in the blocked layout.
    func run(_ input: BlockedActivation) throws(OneDNNFallback) -> BlockedActivation {
        guard input.matches(sourceLayout) else { throw .failed(call: "dnnl_primitive_execute", status: .invalidArguments) }
        let output = BlockedActivation(shape: destinationShape, layout: destinationLayout)
        let reading = OneDNNOperand(argument: DNNL_ARG_SRC, layout: sourceLayout, reorder: nil)
        let writing = OneDNNOperand(argument: DNNL_ARG_DST, layout: destinationLayout, reorder: nil)
        try OneDNN.withStream { (stream) throws(OneDNNFallback) in
            try primitive.run(
                reading: [(reading, UnsafeRawPointer(input.buffer.pointer))], writing: [(writing, output.buffer.pointer)],
                direct: direct.map { ($0.0, $0.1, $0.2.pointer) }, on: stream)
        }
        return output
    }
}
