internal import CDNNL

/// The process's oneDNN engine and the small helpers around oneDNN's C API.
enum OneDNN {
    /// The CPU engine, made once; or why it could not be.
    // nonisolated(unsafe): a oneDNN engine handle, which oneDNN lets every thread use.
    nonisolated(unsafe) static let engine: Result<dnnl_engine_t, OneDNNFallback> = {
        var engine: dnnl_engine_t?
        let status = dnnl_engine_create(&engine, dnnl_cpu, 0)
        guard status == dnnl_success, let engine else {
            return .failure(.failed(call: "dnnl_engine_create", status: OneDNNStatus(status)))
        }
        return .success(engine)
    }()

    /// The algorithms to ask for, best first: Winograd F(4x4, 3x3) (or F(2x2, 3x3)) for 3x3
    /// stride-1 convolutions when allowed, which oneDNN offers for some shapes and declines for
    /// others, then direct.
    static func algorithms(for shape: OneDNNConvolutionShape) -> [dnnl_alg_kind_t] {
        switch (shape.kind, shape.winograd) {
        case (.deconvolution, _): [dnnl_deconvolution_direct]
        case (.convolution, true): [dnnl_convolution_winograd, dnnl_convolution_direct]
        case (.convolution, false): [dnnl_convolution_direct]
        }
    }

    /// A `dnnl_dims_t` (12 entries, the rest zero).
    static func dims(_ values: [Int]) -> [dnnl_dim_t] {
        values.map { dnnl_dim_t($0) } + [dnnl_dim_t](repeating: 0, count: Int(DNNL_MAX_NDIMS) - values.count)
    }

    /// Whether two layouts describe the same memory (a primitive's queried layout can differ in
    /// form from one made by tag and still be the same).
    static func sameLayout(_ a: dnnl_memory_desc_t, _ b: dnnl_memory_desc_t) -> Bool {
        var (a, b) = (a, b)
        return dnnl_memory_desc_equal(&a, &b) != 0
    }

    static func describe(_ descriptor: inout dnnl_memory_desc_t, _ shape: [Int], _ tag: dnnl_format_tag_t) throws(OneDNNFallback) {
        try check(dnnl_memory_desc_init_by_tag(&descriptor, Int32(shape.count), dims(shape), dnnl_f32, tag), "dnnl_memory_desc_init_by_tag")
    }

    /// A 64-byte aligned buffer for a tensor in `descriptor`'s layout (blocked layouts pad channels).
    static func allocate(_ descriptor: dnnl_memory_desc_t) -> UnsafeMutableRawPointer {
        var descriptor = descriptor
        return UnsafeMutableRawPointer.allocate(byteCount: Swift.max(64, dnnl_memory_desc_get_size(&descriptor)), alignment: 64)
    }

    /// `body` with a pointer to `values` (which oneDNN only reads), or nil when there are none.
    static func withOptionalBuffer(_ values: [Float]?, _ body: (UnsafeMutableRawPointer?) throws(OneDNNFallback) -> Void)
        throws(OneDNNFallback)
    {
        guard let values else { return try body(nil) }
        try values.withUnsafeBufferPointer { (buffer) throws(OneDNNFallback) in
            try body(UnsafeMutableRawPointer(mutating: buffer.baseAddress!))
        }
    }

    /// `body` with a stream of the engine, made once for the primitives of one call (streams are
    /// cheap but not free, and a stream must not be shared between threads).
    static func withStream(_ body: (dnnl_stream_t) throws(OneDNNFallback) -> Void) throws(OneDNNFallback) {
        let engine = try engine.get()
        ComputeThreads.applyToThisThread()
        var stream: dnnl_stream_t?
        try check(dnnl_stream_create(&stream, engine, UInt32(dnnl_stream_default_flags.rawValue)), "dnnl_stream_create")
        guard let stream else { throw .failed(call: "dnnl_stream_create", status: .runtimeError) }
        defer { dnnl_stream_destroy(stream) }
        try body(stream)
    }

    /// Runs `primitive` on `stream` with the given (argument, layout, buffer) triples and waits.
    static func execute(
        _ primitive: dnnl_primitive_t, on stream: dnnl_stream_t, arguments: [(Int32, dnnl_memory_desc_t, UnsafeMutableRawPointer)]
    ) throws(OneDNNFallback) {
        let engine = try engine.get()
        var memories: [dnnl_memory_t?] = []
        defer { for memory in memories { dnnl_memory_destroy(memory) } }
        var executionArguments: [dnnl_exec_arg_t] = []
        for (argument, layout, buffer) in arguments {
            var layout = layout
            var memory: dnnl_memory_t?
            try check(dnnl_memory_create(&memory, &layout, engine, buffer), "dnnl_memory_create")
            memories.append(memory)
            executionArguments.append(dnnl_exec_arg_t(arg: argument, memory: memory))
        }
        try check(dnnl_primitive_execute(primitive, stream, Int32(executionArguments.count), executionArguments), "dnnl_primitive_execute")
        try check(dnnl_stream_wait(stream), "dnnl_stream_wait")
    }
}

/// A buffer in one of oneDNN's layouts, released with its owner.
// @unchecked: written once when made (a plan's prepared weights), then only read.
final class OneDNNBuffer: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer

    init(_ layout: dnnl_memory_desc_t) { pointer = OneDNN.allocate(layout) }

    /// `values` in `layout`, reordered by `reorder` from zoo's plain one (copied when nil): a
    /// plan's weights, prepared once.
    convenience init(_ layout: dnnl_memory_desc_t, preparing values: [Float], by reorder: Reorder?) throws(OneDNNFallback) {
        self.init(layout)
        let destination = pointer
        try values.withUnsafeBufferPointer { (plain) throws(OneDNNFallback) in
            guard let source = plain.baseAddress else { return }
            let raw = UnsafeMutableRawPointer(mutating: source)
            guard let reorder else { return destination.copyMemory(from: raw, byteCount: plain.count * MemoryLayout<Float>.stride) }
            try OneDNN.withStream { (stream) throws(OneDNNFallback) in try reorder.run(from: raw, to: destination, on: stream) }
        }
    }

    deinit { pointer.deallocate() }
}
