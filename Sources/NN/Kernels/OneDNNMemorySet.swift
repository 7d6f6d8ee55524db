internal import CDNNL

/// oneDNN memory objects for one primitive's arguments, made once and pointed at each call's
/// buffers: making and destroying one per argument on every call cost about a microsecond a
/// convolution, as much as a small kernel's work. The one owner of its handles.
// @unchecked: oneDNN memory handles; a set is used by one call at a time (OneDNNPrimitive takes
// it out of its pool for the call).
final class OneDNNMemorySet: @unchecked Sendable {
    private let layouts: [dnnl_memory_desc_t]
    private var memories: [dnnl_memory_t?] = []
    private let executionArguments: [dnnl_exec_arg_t]

    /// Memory objects for `arguments` (argument, layout), without buffers yet.
    init(_ arguments: [(Int32, dnnl_memory_desc_t)]) throws(OneDNNFallback) {
        let engine = try OneDNN.engine.get()
        var memories: [dnnl_memory_t?] = []
        var executionArguments: [dnnl_exec_arg_t] = []
        do {
            for (argument, layout) in arguments {
                var layout = layout
                var memory: dnnl_memory_t?
                try OneDNN.check(dnnl_memory_create(&memory, &layout, engine, nil), "dnnl_memory_create")
                memories.append(memory)
                executionArguments.append(dnnl_exec_arg_t(arg: argument, memory: memory))
            }
        } catch {
            for memory in memories { dnnl_memory_destroy(memory) }
            throw error
        }
        (self.layouts, self.memories, self.executionArguments) = (arguments.map(\.1), memories, executionArguments)
    }

    deinit { for memory in memories { dnnl_memory_destroy(memory) } }

    /// Whether the set was made for these layouts, in this order.
    func fits(_ arguments: [(Int32, dnnl_memory_desc_t, UnsafeMutableRawPointer)]) -> Bool {
        arguments.count == layouts.count
            && zip(arguments, zip(layouts, executionArguments)).allSatisfy { argument, made in
                argument.0 == made.1.arg && OneDNN.sameLayout(argument.1, made.0)
            }
    }

    /// Runs `primitive` on `stream` with each memory pointed at its buffer, and waits.
    func execute(_ primitive: dnnl_primitive_t, buffers: [UnsafeMutableRawPointer], on stream: dnnl_stream_t) throws(OneDNNFallback) {
        for (memory, buffer) in zip(memories, buffers) {
            try OneDNN.check(dnnl_memory_set_data_handle(memory, buffer), "dnnl_memory_set_data_handle")
        }
        try OneDNN.check(
            dnnl_primitive_execute(primitive, stream, Int32(executionArguments.count), executionArguments), "dnnl_primitive_execute")
        try OneDNN.check(dnnl_stream_wait(stream), "dnnl_stream_wait")
    }
}
