internal import CDNNL

/// One oneDNN primitive and its descriptor, made from an operation descriptor; the one owner of
/// both handles.
// @unchecked: oneDNN primitive and descriptor handles, which oneDNN lets threads execute at once.
final class OneDNNPrimitive: @unchecked Sendable {
    let primitive: dnnl_primitive_t
    let descriptor: dnnl_primitive_desc_t
    /// oneDNN's name for the kernel it picked (`brgconv:avx512_core`, `jit_wino_4x3:avx512_core`,
    /// `x64:gemm:jit`, ...), for a debugger or a profile.
    let implementation: String

    /// The primitive for `operation` (a backward one needs the forward's descriptor as `hint`);
    /// throws why when oneDNN has no kernel for it but its reference one, which is slower than
    /// zoo's own, so that the caller uses those.
    init(_ operation: UnsafeRawPointer, attributes: OneDNNAttributes, hint: dnnl_primitive_desc_t? = nil) throws(OneDNNFallback) {
        let engine = try OneDNN.engine.get()
        var created: dnnl_primitive_desc_t?
        try OneDNN.check(
            attributes.withHandle { dnnl_primitive_desc_create(&created, operation, $0, engine, hint) }, "dnnl_primitive_desc_create")
        guard let descriptor = created else { throw .failed(call: "dnnl_primitive_desc_create", status: .runtimeError) }
        var implementationName: UnsafePointer<CChar>?
        dnnl_primitive_desc_query(descriptor, dnnl_query_impl_info_str, 0, &implementationName)
        let name = implementationName.map { String(cString: $0) } ?? "unknown"
        // A fused convolution's "ref_fused_convolution" is no reference kernel: it runs oneDNN's
        // optimised ones for its parts (OneDNNPointwiseDepthwise.swift).
        guard !name.hasPrefix("ref") || name.hasPrefix("ref_fused_convolution") else {
            dnnl_primitive_desc_destroy(descriptor)
            throw .referenceKernelOnly(implementation: name)
        }
        var made: dnnl_primitive_t?
        let status = dnnl_primitive_create(&made, descriptor)
        guard status == dnnl_success, let primitive = made else {
            dnnl_primitive_desc_destroy(descriptor)
            throw .failed(call: "dnnl_primitive_create", status: OneDNNStatus(status))
        }
        (self.descriptor, self.primitive, self.implementation) = (descriptor, primitive, name)
    }

    deinit {
        dnnl_primitive_destroy(primitive)
        dnnl_primitive_desc_destroy(descriptor)
    }

    /// The layout the primitive chose for one of its tensors (`dnnl_query_src_md`, ...).
    func layout(_ query: dnnl_query_t) -> dnnl_memory_desc_t {
        dnnl_primitive_desc_query_md(descriptor, query, 0).pointee
    }

    /// The operand `argument` of this primitive, which zoo holds in `plain`'s layout; `output`
    /// when the primitive writes it.
    func operand(_ argument: Int32, _ query: dnnl_query_t, plain: dnnl_memory_desc_t, output: Bool = false) throws(OneDNNFallback)
        -> OneDNNOperand
    {
        let engine = try OneDNN.engine.get()
        let inner = layout(query)
        let reorder = output ? try Reorder.between(inner, plain, engine: engine) : try Reorder.between(plain, inner, engine: engine)
        return OneDNNOperand(argument: argument, layout: inner, reorder: reorder)
    }

    /// Runs the primitive on `stream`: each of `reading` reordered from zoo's layout into the
    /// primitive's (when they differ), the primitive with a fresh user scratchpad and `direct`
    /// (buffers already in the primitive's layouts), each of `writing` reordered back.
    func run(
        reading: [(OneDNNOperand, UnsafeRawPointer)], writing: [(OneDNNOperand, UnsafeMutableRawPointer)],
        direct: [(Int32, dnnl_memory_desc_t, UnsafeMutableRawPointer)] = [], on stream: dnnl_stream_t
    ) throws(OneDNNFallback) {
        let scratchpadLayout = layout(dnnl_query_scratchpad_md)
        let scratchpad = OneDNN.allocate(scratchpadLayout)
        var staged: [UnsafeMutableRawPointer] = []
        defer {
            scratchpad.deallocate()
            for buffer in staged { buffer.deallocate() }
        }
        /// The buffer the primitive sees for `operand`: zoo's own, or a fresh one in its layout.
        func buffer(_ operand: OneDNNOperand, _ plain: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
            guard operand.reorder != nil else { return plain }
            staged.append(OneDNN.allocate(operand.layout))
            return staged[staged.count - 1]
        }
        var arguments = direct + [(DNNL_ARG_SCRATCHPAD, scratchpadLayout, scratchpad)]
        for (operand, plain) in reading {
            let source = UnsafeMutableRawPointer(mutating: plain)
            let inner = buffer(operand, source)
            try operand.reorder?.run(from: source, to: inner, on: stream)
            arguments.append((operand.argument, operand.layout, inner))
        }
        var results: [(OneDNNOperand, UnsafeMutableRawPointer, UnsafeMutableRawPointer)] = []
        for (operand, plain) in writing {
            let inner = buffer(operand, plain)
            results.append((operand, inner, plain))
            arguments.append((operand.argument, operand.layout, inner))
        }
        try OneDNN.execute(primitive, on: stream, arguments: arguments)
        for (operand, inner, plain) in results { try operand.reorder?.run(from: inner, to: plain, on: stream) }
    }
}

/// One tensor a primitive reads or writes: the primitive's layout for it and the reorder between
/// zoo's plain layout and that one (nil when they are the same).
struct OneDNNOperand {
    let argument: Int32
    let layout: dnnl_memory_desc_t
    let reorder: Reorder?
}
