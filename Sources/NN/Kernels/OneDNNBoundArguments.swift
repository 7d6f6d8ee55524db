internal import CDNNL
import Synchronization

/// A primitive's execution arguments made once and kept for its next calls: oneDNN memory
/// objects over its fixed buffers (prepared weights, bias), over a scratchpad, input and output
/// that each call points at its own buffers, and a stream.
///
/// Made on every call, they cost simplecnn's two convolutions at batch 1 about 4 µs of a 70 µs
/// pass beyond the kernels' own time: a memory object takes 0.3 µs to make and destroy (a stream
/// 0.1, re-pointing a memory object 0.01), and each layout (696 bytes) was copied through several
/// Swift arrays. Re-pointing does what making does to a buffer: oneDNN zeroes a blocked layout's
/// channel padding either way. One call at a time holds a set (``ReusePool``).
// @unchecked: oneDNN handles; a set is used by one call at a time, handed over under a lock.
final class OneDNNBoundArguments: @unchecked Sendable {
    private let stream: dnnl_stream_t
    private let source: dnnl_memory_t
    private let destination: dnnl_memory_t
    private let scratchpad: dnnl_memory_t
    private let scratchpadLayout: dnnl_memory_desc_t
    private let memories: [dnnl_memory_t]
    private let arguments: [dnnl_exec_arg_t]

    /// Memory objects for `primitive`'s source and destination in the layouts it reads and
    /// writes, its scratchpad, and `fixed` (argument, layout, buffer) triples that every call shares.
    init(
        _ primitive: OneDNNPrimitive, source sourceLayout: dnnl_memory_desc_t, destination destinationLayout: dnnl_memory_desc_t,
        fixed: [(Int32, dnnl_memory_desc_t, UnsafeMutableRawPointer)]
    ) throws(OneDNNFallback) {
        let engine = try OneDNN.engine.get()
        scratchpadLayout = primitive.layout(dnnl_query_scratchpad_md)
        // The source, destination and scratchpad first, without buffers: no zero padding is
        // written until a call points them at its own.
        let wanted =
            [(DNNL_ARG_SRC, sourceLayout, nil), (DNNL_ARG_DST, destinationLayout, nil), (DNNL_ARG_SCRATCHPAD, scratchpadLayout, nil)]
            + fixed.map { ($0.0, $0.1, Optional($0.2)) }
        var memories: [dnnl_memory_t] = []
        var made: dnnl_stream_t?
        do throws(OneDNNFallback) {
            for (_, layout, buffer) in wanted {
                var layout = layout
                var memory: dnnl_memory_t?
                try OneDNN.check(dnnl_memory_create(&memory, &layout, engine, buffer), "dnnl_memory_create")
                guard let memory else { throw OneDNNFallback.failed(call: "dnnl_memory_create", status: .runtimeError) }
                memories.append(memory)
            }
            try OneDNN.check(dnnl_stream_create(&made, engine, UInt32(dnnl_stream_default_flags.rawValue)), "dnnl_stream_create")
        } catch {
            for memory in memories { dnnl_memory_destroy(memory) }
            throw error
        }
        guard let made else {
            for memory in memories { dnnl_memory_destroy(memory) }
            throw .failed(call: "dnnl_stream_create", status: .runtimeError)
        }
        stream = made
        (source, destination, scratchpad) = (memories[0], memories[1], memories[2])
        self.memories = memories
        arguments = zip(wanted, memories).map { dnnl_exec_arg_t(arg: $0.0.0, memory: $0.1) }
    }

    deinit {
        for memory in memories { dnnl_memory_destroy(memory) }
        dnnl_stream_destroy(stream)
    }

    /// Runs `primitive` from `input` into `output`, each in the layout given when the set was
    /// made, with a scratchpad of this call's own, and waits.
    func run(_ primitive: OneDNNPrimitive, input: UnsafeRawPointer, output: UnsafeMutableRawPointer) throws(OneDNNFallback) {
        let scratch = OneDNN.allocate(scratchpadLayout)
        defer { scratch.deallocate() }
        ComputeThreads.applyToThisThread()
        try OneDNN.check(dnnl_memory_set_data_handle(source, UnsafeMutableRawPointer(mutating: input)), "dnnl_memory_set_data_handle")
        try OneDNN.check(dnnl_memory_set_data_handle(destination, output), "dnnl_memory_set_data_handle")
        try OneDNN.check(dnnl_memory_set_data_handle(scratchpad, scratch), "dnnl_memory_set_data_handle")
        try OneDNN.check(
            dnnl_primitive_execute(primitive.primitive, stream, Int32(arguments.count), arguments), "dnnl_primitive_execute")
        try OneDNN.check(dnnl_stream_wait(stream), "dnnl_stream_wait")
    }
}

/// Items made when none is free and reused one holder at a time: a plan's argument sets
/// (``OneDNNBoundArguments``), as many as calls have run at once.
final class ReusePool<Item: Sendable>: Sendable {
    private let idle = Mutex<[Item]>([])

    /// How many items are made and not held.
    var idleCount: Int { idle.withLock { $0.count } }

    /// `body` with an item taken from the idle ones (`make` one when none is), given back after.
    func withItem<Failure: Error>(make: () throws(Failure) -> Item, _ body: (Item) throws(Failure) -> Void) throws(Failure) {
        let item: Item
        if let idleOne = idle.withLock({ $0.popLast() }) { item = idleOne } else { item = try make() }
        defer { idle.withLock { $0.append(item) } }
        try body(item)
    }
}
