internal import CDNNL

/// A oneDNN reorder between two layouts of one tensor.
// @unchecked: wraps oneDNN's primitive and descriptor handles, immutable after creation.
final class Reorder: @unchecked Sendable {
    private let primitive: dnnl_primitive_t
    private let descriptor: dnnl_primitive_desc_t
    private let source: dnnl_memory_desc_t
    private let destination: dnnl_memory_desc_t

    /// The reorder from `source` to `destination`; nil when the layouts are the same.
    static func between(_ source: dnnl_memory_desc_t, _ destination: dnnl_memory_desc_t, engine: dnnl_engine_t) throws(OneDNNFallback)
        -> Reorder?
    {
        guard !OneDNN.sameLayout(source, destination) else { return nil }
        return try Reorder(from: source, to: destination, engine: engine)
    }

    private init(from source: dnnl_memory_desc_t, to destination: dnnl_memory_desc_t, engine: dnnl_engine_t) throws(OneDNNFallback) {
        var (a, b) = (source, destination)
        var created: dnnl_primitive_desc_t?
        var made: dnnl_primitive_t?
        try OneDNN.check(dnnl_reorder_primitive_desc_create(&created, &a, engine, &b, engine, nil), "dnnl_reorder_primitive_desc_create")
        guard let descriptor = created else { throw .failed(call: "dnnl_reorder_primitive_desc_create", status: .runtimeError) }
        let status = dnnl_primitive_create(&made, descriptor)
        guard status == dnnl_success, let primitive = made else {
            dnnl_primitive_desc_destroy(descriptor)
            throw .failed(call: "dnnl_primitive_create", status: OneDNNStatus(status))
        }
        (self.descriptor, self.primitive, self.source, self.destination) = (descriptor, primitive, a, b)
    }

    deinit {
        dnnl_primitive_destroy(primitive)
        dnnl_primitive_desc_destroy(descriptor)
    }

    func run(from input: UnsafeMutableRawPointer, to output: UnsafeMutableRawPointer, on stream: dnnl_stream_t) throws(OneDNNFallback) {
        try OneDNN.execute(primitive, on: stream, arguments: [(DNNL_ARG_FROM, source, input), (DNNL_ARG_TO, destination, output)])
    }
}
