internal import CDNNL

/// `y = x W^T + b` for one number of rows by oneDNN's inner product, with `W` reordered once into
/// the layout its kernel reads (pre-packed, as ONNX Runtime packs its GEMM weights) rather than
/// read in PyTorch's `(out_features, in_features)` layout by a GEMM on every call.
///
/// Measured with `Tools/bench/inner_product.c` (best of 300, two threads): 64 rows of 4096 -> 128
/// (simplecnn's first Linear at batch 64) 1097 us by `dnnl_sgemm` against 342; 8 rows of
/// 1280 -> 1000 (mobilenet_v2's classifier at batch 8) 146 against 110. For one row both read
/// the weights once and neither wins, so one row stays on the GEMM.
// @unchecked: oneDNN handles and layouts (C structs), and weights written once when made.
final class OneDNNInnerProduct: @unchecked Sendable {
    private let primitive: OneDNNPrimitive
    private let source: OneDNNOperand
    private let destination: OneDNNOperand
    private let weightsLayout: dnnl_memory_desc_t
    private let biasLayout: dnnl_memory_desc_t
    private let preparedWeights: OneDNNBuffer
    private let bias: [Float]?

    /// The primitive for `rows` rows, `weight` `(outFeatures, inFeatures)` row-major reordered
    /// into its layout; throws why when oneDNN cannot run it (the caller uses the GEMM).
    init(rows: Int, inFeatures: Int, outFeatures: Int, weight: [Float], bias: [Float]?) throws(OneDNNFallback) {
        let engine = try OneDNN.engine.get()
        var (sourcePlain, destinationPlain, weightsPlain, weightsAny, biasLayout) = (
            dnnl_memory_desc_t(), dnnl_memory_desc_t(), dnnl_memory_desc_t(), dnnl_memory_desc_t(), dnnl_memory_desc_t()
        )
        try OneDNN.describe(&sourcePlain, [rows, inFeatures], dnnl_nc)
        try OneDNN.describe(&destinationPlain, [rows, outFeatures], dnnl_nc)
        try OneDNN.describe(&weightsPlain, [outFeatures, inFeatures], dnnl_oi)
        try OneDNN.describe(&weightsAny, [outFeatures, inFeatures], dnnl_format_tag_any)
        try OneDNN.describe(&biasLayout, [outFeatures], dnnl_x)
        var operation = dnnl_inner_product_desc_t()
        let status = withUnsafePointer(to: biasLayout) { biasPointer in
            dnnl_inner_product_forward_desc_init(
                &operation, dnnl_forward_inference, &sourcePlain, &weightsAny, bias == nil ? nil : biasPointer, &destinationPlain)
        }
        try OneDNN.check(status, "dnnl_inner_product_forward_desc_init")
        var attributes: dnnl_primitive_attr_t?
        try OneDNN.check(dnnl_primitive_attr_create(&attributes), "dnnl_primitive_attr_create")
        defer { dnnl_primitive_attr_destroy(attributes) }
        try OneDNN.check(
            dnnl_primitive_attr_set_scratchpad_mode(attributes, dnnl_scratchpad_mode_user), "dnnl_primitive_attr_set_scratchpad_mode")
        primitive = try OneDNNPrimitive(&operation, attributes: attributes)
        source = try primitive.operand(DNNL_ARG_SRC, dnnl_query_src_md, plain: sourcePlain)
        destination = try primitive.operand(DNNL_ARG_DST, dnnl_query_dst_md, plain: destinationPlain, output: true)
        weightsLayout = primitive.layout(dnnl_query_weights_md)
        self.biasLayout = biasLayout
        self.bias = bias
        preparedWeights = try OneDNNBuffer(
            weightsLayout, preparing: weight, by: try Reorder.between(weightsPlain, weightsLayout, engine: engine))
    }

    /// `output = input W^T + b`, both row-major.
    func run(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) throws(OneDNNFallback) {
        try OneDNN.withStream { (stream) throws(OneDNNFallback) in
            try OneDNN.withOptionalBuffer(bias) { (bias) throws(OneDNNFallback) in
                try primitive.run(
                    reading: [(source, UnsafeRawPointer(input))], writing: [(destination, UnsafeMutableRawPointer(output))],
                    direct: [(DNNL_ARG_WEIGHTS, weightsLayout, preparedWeights.pointer)]
                        + (bias.map { [(DNNL_ARG_BIAS, biasLayout, $0)] } ?? []),
                    on: stream)
            }
        }
    }
}
