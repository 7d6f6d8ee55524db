internal import CDNNL

/// One step oneDNN applies to a primitive's output before it leaves the kernel, while the block
/// is still in cache.
enum OneDNNPostOp {
    /// The output plus what the destination held (a residual add).
    case sum
    case activation(ConvolutionActivation)
    /// A 3x3 depthwise convolution of stride 1 or 2 and padding 1 over the output so far, its
    /// weights and bias passed at run time (`DNNL_ARG_ATTR_POST_OP_DW`).
    case depthwise3x3(stride: Int)
}

/// A primitive's attributes: a user scratchpad (each call passes its own, so that one primitive
/// runs on several threads at once) and the post-ops; the one owner of the handle.
final class OneDNNAttributes {
    private let handle: dnnl_primitive_attr_t

    init(postOps: [OneDNNPostOp] = []) throws(OneDNNFallback) {
        var made: dnnl_primitive_attr_t?
        try OneDNN.check(dnnl_primitive_attr_create(&made), "dnnl_primitive_attr_create")
        guard let made else { throw .failed(call: "dnnl_primitive_attr_create", status: .runtimeError) }
        do {
            try OneDNN.check(
                dnnl_primitive_attr_set_scratchpad_mode(made, dnnl_scratchpad_mode_user), "dnnl_primitive_attr_set_scratchpad_mode")
            if !postOps.isEmpty { try Self.set(postOps, on: made) }
        } catch {
            dnnl_primitive_attr_destroy(made)
            throw error
        }
        handle = made
    }

    deinit { dnnl_primitive_attr_destroy(handle) }

    /// `body` with the handle, valid while it runs.
    func withHandle<Result>(_ body: (dnnl_primitive_attr_t) -> Result) -> Result {
        withExtendedLifetime(self) { body(handle) }
    }

    private static func set(_ steps: [OneDNNPostOp], on attributes: dnnl_primitive_attr_t) throws(OneDNNFallback) {
        var postOps: dnnl_post_ops_t?
        try OneDNN.check(dnnl_post_ops_create(&postOps), "dnnl_post_ops_create")
        defer { dnnl_post_ops_destroy(postOps) }
        for step in steps {
            switch step {
            case .sum: try OneDNN.check(dnnl_post_ops_append_sum(postOps, 1), "dnnl_post_ops_append_sum")
            case .activation(let activation):
                let (algorithm, alpha, beta): (dnnl_alg_kind_t, Float, Float) =
                    switch activation {
                    case .relu: (dnnl_eltwise_relu, 0, 0)
                    case .clamp(let low, let high): (dnnl_eltwise_clip, low, high)
                    case .silu: (dnnl_eltwise_swish, 1, 0)
                    case .sigmoid: (dnnl_eltwise_logistic, 0, 0)
                    // oneDNN 2.6 ignores these; later versions read them as PyTorch's 1/6 and 1/2.
                    case .hardswish: (dnnl_eltwise_hardswish, 1.0 / 6, 0.5)
                    }
                try OneDNN.check(dnnl_post_ops_append_eltwise(postOps, 1, algorithm, alpha, beta), "dnnl_post_ops_append_eltwise")
            case .depthwise3x3(let stride):
                let status =
                    stride == 1
                    ? dnnl_post_ops_append_dw_k3s1p1(postOps, dnnl_f32, dnnl_f32, dnnl_f32, 0, 0, nil)
                    : dnnl_post_ops_append_dw_k3s2p1(postOps, dnnl_f32, dnnl_f32, dnnl_f32, 0, 0, nil)
                try OneDNN.check(status, "dnnl_post_ops_append_dw")
            }
        }
        try OneDNN.check(dnnl_primitive_attr_set_post_ops(attributes, postOps), "dnnl_primitive_attr_set_post_ops")
    }
}
