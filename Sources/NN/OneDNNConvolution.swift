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
}

/// A oneDNN primitive for one shape, with the weights already in the layout it chose.
///
/// oneDNN's kernels (the ones PyTorch's CPU convolutions run) want activations in a blocked
/// channel layout; zoo's tensors are plain NCHW, so each call reorders in and out, as PyTorch's
/// eager mode does. Every buffer is zoo's own and the scratchpad is passed per call, so one plan
/// runs on several threads at once.
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

    /// Creates the primitive and reorders `weight` (PyTorch's layout) once; nil when oneDNN
    /// cannot run this case, so that the caller uses zoo's own kernels.
    init?(_ shape: OneDNNConvolutionShape, weight: [Float], bias: [Float]?) {
        guard let engine = OneDNN.engine else { return nil }
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
        let activationTag = outChannels / g < 16 ? dnnl_nchw : dnnl_format_tag_any
        var weightsPlain = dnnl_memory_desc_t()
        var sourceAny = dnnl_memory_desc_t()
        var destinationAny = dnnl_memory_desc_t()
        var weightsAny = dnnl_memory_desc_t()
        guard OneDNN.describe(&sourcePlain, shape.source, dnnl_nchw),
            OneDNN.describe(&destinationPlain, shape.destination, dnnl_nchw),
            OneDNN.describe(&weightsPlain, weightDims, weightTag),
            OneDNN.describe(&sourceAny, shape.source, activationTag),
            OneDNN.describe(&destinationAny, shape.destination, activationTag),
            OneDNN.describe(&weightsAny, weightDims, dnnl_format_tag_any),
            OneDNN.describe(&biasDescriptor, [outChannels], dnnl_a)
        else { return nil }

        let strides = OneDNN.dims([shape.stride.height, shape.stride.width])
        // oneDNN counts dilation from 0 (no gaps), PyTorch from 1.
        let dilates = OneDNN.dims([shape.dilation.height - 1, shape.dilation.width - 1])
        let padBefore = OneDNN.dims([shape.padBefore.height, shape.padBefore.width])
        let padAfter = OneDNN.dims([shape.padAfter.height, shape.padAfter.width])
        let biasLayout: UnsafeMutablePointer<dnnl_memory_desc_t>? = shape.hasBias ? .allocate(capacity: 1) : nil
        biasLayout?.initialize(to: biasDescriptor)
        defer { biasLayout?.deallocate() }
        var attributes: dnnl_primitive_attr_t?
        guard dnnl_primitive_attr_create(&attributes) == dnnl_success else { return nil }
        defer { dnnl_primitive_attr_destroy(attributes) }
        guard dnnl_primitive_attr_set_scratchpad_mode(attributes, dnnl_scratchpad_mode_user) == dnnl_success else { return nil }

        var created: dnnl_primitive_desc_t?
        var status = dnnl_unimplemented
        for algorithm in OneDNN.algorithms(for: shape) where status != dnnl_success {
            switch shape.kind {
            case .convolution:
                var operation = dnnl_convolution_desc_t()
                guard
                    dnnl_dilated_convolution_forward_desc_init(
                        &operation, dnnl_forward_inference, algorithm, &sourceAny, &weightsAny, biasLayout, &destinationAny, strides,
                        dilates, padBefore, padAfter) == dnnl_success
                else { continue }
                status = dnnl_primitive_desc_create(&created, &operation, attributes, engine, nil)
            case .deconvolution:
                var operation = dnnl_deconvolution_desc_t()
                guard
                    dnnl_dilated_deconvolution_forward_desc_init(
                        &operation, dnnl_forward_inference, algorithm, &sourceAny, &weightsAny, biasLayout, &destinationAny, strides,
                        dilates, padBefore, padAfter) == dnnl_success
                else { continue }
                status = dnnl_primitive_desc_create(&created, &operation, attributes, engine, nil)
            }
        }
        guard status == dnnl_success, let descriptor = created else { return nil }
        var implementationName: UnsafePointer<CChar>?
        dnnl_primitive_desc_query(descriptor, dnnl_query_impl_info_str, 0, &implementationName)
        // oneDNN's reference kernels are slower than zoo's own.
        let name = implementationName.map { String(cString: $0) } ?? "unknown"
        var made: dnnl_primitive_t?
        guard !name.hasPrefix("ref"), dnnl_primitive_create(&made, descriptor) == dnnl_success, let primitive = made else {
            dnnl_primitive_desc_destroy(descriptor)
            return nil
        }
        self.descriptor = descriptor
        self.primitive = primitive
        self.implementation = name
        sourceInner = dnnl_primitive_desc_query_md(descriptor, dnnl_query_src_md, 0).pointee
        destinationInner = dnnl_primitive_desc_query_md(descriptor, dnnl_query_dst_md, 0).pointee
        weightsInner = dnnl_primitive_desc_query_md(descriptor, dnnl_query_weights_md, 0).pointee
        scratchpadDescriptor = dnnl_primitive_desc_query_md(descriptor, dnnl_query_scratchpad_md, 0).pointee
        sourceReorder = Reorder(from: sourcePlain, to: sourceInner, engine: engine)
        destinationReorder = Reorder(from: destinationInner, to: destinationPlain, engine: engine)
        self.bias = bias.map { values in
            let copy = UnsafeMutableBufferPointer<Float>.allocate(capacity: values.count)
            _ = copy.initialize(from: values)
            return copy
        }
        plainWeights = weight
        weightReorder = Reorder(from: weightsPlain, to: weightsInner, engine: engine)
        guard shape.keepsPreparedWeights else {
            preparedWeights = nil
            return
        }
        let prepared = OneDNN.allocate(weightsInner)
        preparedWeights = prepared
        let copied = weight.withUnsafeBufferPointer { plain in
            let raw = UnsafeMutableRawPointer(mutating: plain.baseAddress!)
            guard let weightReorder else {
                prepared.copyMemory(from: raw, byteCount: plain.count * MemoryLayout<Float>.stride)
                return true
            }
            return OneDNN.withStream { weightReorder.run(from: raw, to: prepared, on: $0) }
        }
        guard copied else { return nil }
    }

    deinit {
        dnnl_primitive_destroy(primitive)
        dnnl_primitive_desc_destroy(descriptor)
        preparedWeights?.deallocate()
        bias?.deallocate()
    }

    /// `output = conv(input) + bias`, both plain NCHW. False when oneDNN reports a failure.
    func run(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) -> Bool {
        OneDNN.withStream { stream in
            if let preparedWeights { return run(input: input, output: output, weights: preparedWeights, on: stream) }
            return plainWeights.withUnsafeBufferPointer { plain in
                let raw = UnsafeMutableRawPointer(mutating: plain.baseAddress!)
                guard let weightReorder else { return run(input: input, output: output, weights: raw, on: stream) }
                let weights = OneDNN.allocate(weightsInner)
                defer { weights.deallocate() }
                guard weightReorder.run(from: raw, to: weights, on: stream) else { return false }
                return run(input: input, output: output, weights: weights, on: stream)
            }
        }
    }

    private func run(
        input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, weights: UnsafeMutableRawPointer, on stream: dnnl_stream_t
    ) -> Bool {
        let source = UnsafeMutableRawPointer(mutating: input)
        let sourceBuffer = sourceReorder.map { _ in OneDNN.allocate(sourceInner) }
        let destinationBuffer = destinationReorder.map { _ in OneDNN.allocate(destinationInner) }
        let scratchpad = OneDNN.allocate(scratchpadDescriptor)
        defer {
            sourceBuffer?.deallocate()
            destinationBuffer?.deallocate()
            scratchpad.deallocate()
        }
        if let sourceReorder, let sourceBuffer {
            guard sourceReorder.run(from: source, to: sourceBuffer, on: stream) else { return false }
        }
        let ok = OneDNN.execute(
            primitive, on: stream,
            arguments: [
                (DNNL_ARG_SRC, sourceInner, sourceBuffer ?? source),
                (DNNL_ARG_WEIGHTS, weightsInner, weights),
                (DNNL_ARG_DST, destinationInner, destinationBuffer ?? UnsafeMutableRawPointer(output)),
                (DNNL_ARG_SCRATCHPAD, scratchpadDescriptor, scratchpad),
            ] + (bias.map { values in [(DNNL_ARG_BIAS, biasDescriptor, UnsafeMutableRawPointer(values.baseAddress!))] } ?? []))
        guard ok else { return false }
        if let destinationReorder, let destinationBuffer {
            return destinationReorder.run(from: destinationBuffer, to: UnsafeMutableRawPointer(output), on: stream)
        }
        return true
    }
}

/// A oneDNN reorder between two layouts of one tensor; nil when the layouts are the same.
private final class Reorder: @unchecked Sendable {
    private let primitive: dnnl_primitive_t
    private let descriptor: dnnl_primitive_desc_t
    private let source: dnnl_memory_desc_t
    private let destination: dnnl_memory_desc_t

    init?(from source: dnnl_memory_desc_t, to destination: dnnl_memory_desc_t, engine: dnnl_engine_t) {
        var (a, b) = (source, destination)
        guard dnnl_memory_desc_equal(&a, &b) == 0 else { return nil }
        var created: dnnl_primitive_desc_t?
        var made: dnnl_primitive_t?
        guard dnnl_reorder_primitive_desc_create(&created, &a, engine, &b, engine, nil) == dnnl_success, let descriptor = created
        else { return nil }
        guard dnnl_primitive_create(&made, descriptor) == dnnl_success, let primitive = made else {
            dnnl_primitive_desc_destroy(descriptor)
            return nil
        }
        (self.descriptor, self.primitive, self.source, self.destination) = (descriptor, primitive, a, b)
    }

    deinit {
        dnnl_primitive_destroy(primitive)
        dnnl_primitive_desc_destroy(descriptor)
    }

    func run(from input: UnsafeMutableRawPointer, to output: UnsafeMutableRawPointer, on stream: dnnl_stream_t) -> Bool {
        OneDNN.execute(primitive, on: stream, arguments: [(DNNL_ARG_FROM, source, input), (DNNL_ARG_TO, destination, output)])
    }
}

/// The process's oneDNN engine and the small helpers around oneDNN's C API.
enum OneDNN {
    nonisolated(unsafe) static let engine: dnnl_engine_t? = {
        var engine: dnnl_engine_t?
        return dnnl_engine_create(&engine, dnnl_cpu, 0) == dnnl_success ? engine : nil
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

    static func describe(_ descriptor: inout dnnl_memory_desc_t, _ shape: [Int], _ tag: dnnl_format_tag_t) -> Bool {
        dnnl_memory_desc_init_by_tag(&descriptor, Int32(shape.count), dims(shape), dnnl_f32, tag) == dnnl_success
    }

    /// A 64-byte aligned buffer for a tensor in `descriptor`'s layout (blocked layouts pad channels).
    static func allocate(_ descriptor: dnnl_memory_desc_t) -> UnsafeMutableRawPointer {
        var descriptor = descriptor
        return UnsafeMutableRawPointer.allocate(byteCount: Swift.max(64, dnnl_memory_desc_get_size(&descriptor)), alignment: 64)
    }

    /// `body` with a stream of the engine, made once for the primitives of one call (streams are
    /// cheap but not free, and a stream must not be shared between threads).
    static func withStream(_ body: (dnnl_stream_t) -> Bool) -> Bool {
        guard let engine else { return false }
        ComputeThreads.applyToThisThread()
        var stream: dnnl_stream_t?
        guard dnnl_stream_create(&stream, engine, UInt32(dnnl_stream_default_flags.rawValue)) == dnnl_success, let stream else {
            return false
        }
        defer { dnnl_stream_destroy(stream) }
        return body(stream)
    }

    /// Runs `primitive` on `stream` with the given (argument, layout, buffer) triples and waits.
    static func execute(
        _ primitive: dnnl_primitive_t, on stream: dnnl_stream_t, arguments: [(Int32, dnnl_memory_desc_t, UnsafeMutableRawPointer)]
    ) -> Bool {
        guard let engine else { return false }
        var memories: [dnnl_memory_t?] = []
        defer { for memory in memories { dnnl_memory_destroy(memory) } }
        var executionArguments: [dnnl_exec_arg_t] = []
        for (argument, layout, buffer) in arguments {
            var layout = layout
            var memory: dnnl_memory_t?
            guard dnnl_memory_create(&memory, &layout, engine, buffer) == dnnl_success else { return false }
            memories.append(memory)
            executionArguments.append(dnnl_exec_arg_t(arg: argument, memory: memory))
        }
        guard dnnl_primitive_execute(primitive, stream, Int32(executionArguments.count), executionArguments) == dnnl_success
        else { return false }
        return dnnl_stream_wait(stream) == dnnl_success
    }
}

/// The plans one layer has made, by input shape; emptied when the layer's weights change.
final class OneDNNPlans: Sendable {
    private let plans = Mutex<[OneDNNConvolutionShape: OneDNNConvolution?]>([:])

    /// The plan for `shape`, made on first use (nil, remembered, when oneDNN cannot run it).
    func plan(for shape: OneDNNConvolutionShape, make: () -> OneDNNConvolution?) -> OneDNNConvolution? {
        if let known = plans.withLock({ $0[shape] }) { return known }
        let made = make()
        plans.withLock { $0[shape] = .some(made) }
        return made
    }

    func removeAll() { plans.withLock { $0.removeAll() } }

    /// The layer's output through its plan for `shape` (made on first use), with `epilogue`
    /// applied in place after oneDNN added the bias; nil when oneDNN cannot run this case.
    func convolve(
        _ input: Tensor, shape: OneDNNConvolutionShape, weight: Tensor, bias: Tensor?, epilogue: ConvolutionEpilogue?
    ) -> Tensor? {
        guard let plan = plan(for: shape, make: { OneDNNConvolution(shape, weight: weight.scalars, bias: bias?.scalars) }) else {
            return nil
        }
        var output = [Float](unsafeUninitializedCapacity: shape.destination.reduce(1, *)) { buffer, count in count = buffer.count }
        let ran = input.scalars.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in plan.run(input: x.baseAddress!, output: y.baseAddress!) }
        }
        guard ran else { return nil }
        epilogue?.apply(toPlanesOf: &output, channels: shape.destination[1], plane: shape.destination[2] * shape.destination[3])
        return Tensor(shape: shape.destination, scalars: output)
    }
}
