internal import CDNNL

/// `y = x W^T + b` for one number of rows by oneDNN's inner product, with `W` reordered once into
/// the layout its kernel reads (pre-packed, as ONNX Runtime packs its GEMM weights) rather than
/// read in PyTorch's `(out_features, in_features)` layout by a GEMM on every call.
///
/// Measured with `Tools/bench/inner_product.c` (best of 300, two threads): 64 rows of 4096 -> 128
/// (simplecnn's first Linear at batch 64) 1097 us by `dnnl_sgemm` against 342; 8 rows of
/// 1280 -> 1000 (mobilenet_v2's classifier at batch 8) 146 against 110. For one row both read
/// the weights once and neither wins, so one row stays on the GEMM.
///
/// The rows may also be the samples of a blocked activation (nChw16c) that a `Flatten` would
/// turn into rows: the weights are then put into the blocked order once, so the activation is
/// read where a convolution wrote it instead of being reordered to NCHW first (net at batch 64
/// reordered 8 MiB per pass for its `Linear(32768, 10)`: 2.20 -> 1.11 ms a pass).
// @unchecked: oneDNN handles and layouts (C structs), and weights written once when made.
final class OneDNNInnerProduct: @unchecked Sendable {
    private let primitive: OneDNNPrimitive
    private let source: OneDNNOperand
    private let destination: OneDNNOperand
    private let weightsLayout: dnnl_memory_desc_t
    private let biasLayout: dnnl_memory_desc_t
    private let preparedWeights: OneDNNBuffer
    private let bias: [Float]?

    /// The primitive for flattened blocked activations of `shape` `(N, C, H, W)`, with
    /// `C * H * W` in-features; `weight` is `(outFeatures, C * H * W)` row-major, PyTorch's
    /// order over NCHW.
    ///
    /// oneDNN 2.6 has two kernels for this, and which is faster depends on the out-features
    /// (`Tools/bench/inner_product.c`, one thread, best of 300, us): its GEMM kernel
    /// reads the 4-d blocked source as it is, with the weights reordered to match, and wins for
    /// few outputs (64 x 32 x 32 x 32 -> 10: 1422 against 1958; -> 32: 1936 against 2357); its
    /// brgemm kernel takes rows only, and wins from about 64 outputs (64 x 64 x 8 x 8 -> 128: 673
    /// against 898; 8 x 256 x 6 x 6 -> 4096: 5478 against 9264). For brgemm each sample's padded
    /// blocks are one row, and the weights are put into the same order once, with zeros for the
    /// padding channels.
    convenience init(flattening shape: [Int], outFeatures: Int, weight: [Float], bias: [Float]?) throws(OneDNNFallback) {
        if Self.readsBlockedSource(outFeatures: outFeatures) {
            try self.init(source: shape, blocked: true, outFeatures: outFeatures, weight: weight, bias: bias)
            return
        }
        let blockedWeight = BlockedActivation.flattenedWeights(weight, outputs: outFeatures, shape: shape)
        try self.init(
            rows: shape[0], inFeatures: blockedWeight.count / outFeatures, outFeatures: outFeatures, weight: blockedWeight, bias: bias)
    }

    /// Whether ``init(flattening:outFeatures:weight:bias:)`` reads the 4-d blocked source with
    /// oneDNN's GEMM kernel (else the rows, with brgemm).
    static func readsBlockedSource(outFeatures: Int) -> Bool { outFeatures < 64 }

    /// The primitive for `rows` rows, `weight` `(outFeatures, inFeatures)` row-major reordered
    /// into its layout; throws why when oneDNN cannot run it (the caller uses the GEMM).
    convenience init(rows: Int, inFeatures: Int, outFeatures: Int, weight: [Float], bias: [Float]?) throws(OneDNNFallback) {
        try self.init(source: [rows, inFeatures], blocked: false, outFeatures: outFeatures, weight: weight, bias: bias)
    }

    /// `source` is `(rows, inFeatures)` row-major, or a blocked `(N, C, H, W)` read with a weight
    /// `(outFeatures, C, H, W)`.
    private init(source sourceShape: [Int], blocked: Bool, outFeatures: Int, weight: [Float], bias: [Float]?) throws(OneDNNFallback) {
        let engine = try OneDNN.engine.get()
        var (sourcePlain, destinationPlain, weightsPlain, weightsAny, biasLayout) = (
            dnnl_memory_desc_t(), dnnl_memory_desc_t(), dnnl_memory_desc_t(), dnnl_memory_desc_t(), dnnl_memory_desc_t()
        )
        let weightShape = [outFeatures] + sourceShape.dropFirst()
        try OneDNN.describe(&sourcePlain, sourceShape, blocked ? dnnl_aBcd16b : dnnl_nc)
        try OneDNN.describe(&destinationPlain, [sourceShape[0], outFeatures], dnnl_nc)
        try OneDNN.describe(&weightsPlain, weightShape, blocked ? dnnl_abcd : dnnl_oi)
        try OneDNN.describe(&weightsAny, weightShape, dnnl_format_tag_any)
        try OneDNN.describe(&biasLayout, [outFeatures], dnnl_x)
        var operation = dnnl_inner_product_desc_t()
        let status = withUnsafePointer(to: biasLayout) { biasPointer in
            dnnl_inner_product_forward_desc_init(
                &operation, dnnl_forward_inference, &sourcePlain, &weightsAny, bias == nil ? nil : biasPointer, &destinationPlain)
        }
        try OneDNN.check(status, "dnnl_inner_product_forward_desc_init")
        let attributes = try OneDNNAttributes()
        primitive = try OneDNNPrimitive(&operation, attributes: attributes)
        source = try primitive.operand(DNNL_ARG_SRC, dnnl_query_src_md, plain: sourcePlain)
        destination = try primitive.operand(DNNL_ARG_DST, dnnl_query_dst_md, plain: destinationPlain, output: true)
        weightsLayout = primitive.layout(dnnl_query_weights_md)
        self.biasLayout = biasLayout
        self.bias = bias
        preparedWeights = try OneDNNBuffer(
            weightsLayout, preparing: weight, by: try Reorder.between(weightsPlain, weightsLayout, engine: engine))
    }

    /// `output = input W^T + b`: `input` in the source's layout (rows, or the blocked
    /// activation), `output` row-major.
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
