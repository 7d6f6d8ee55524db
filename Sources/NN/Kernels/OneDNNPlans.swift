import Synchronization
import Tensor

/// Plans by key, each made on first use; a failure is remembered too, when oneDNN cannot run a case.
final class PlanCache<Key: Hashable & Sendable, Plan: Sendable>: Sendable {
    private let plans = Mutex<[Key: Result<Plan, OneDNNFallback>]>([:])

    func plan(for key: Key, make: () throws(OneDNNFallback) -> Plan) throws(OneDNNFallback) -> Plan {
        if let known = plans.withLock({ $0[key] }) { return try known.get() }
        let made: Result<Plan, OneDNNFallback>
        do { made = .success(try make()) } catch { made = .failure(error) }
        plans.withLock { $0[key] = made }
        return try made.get()
    }

    func removeAll() { plans.withLock { $0.removeAll() } }
}

/// The plans one layer has made, by input shape: forward ones, which hold the weights and are
/// emptied when they change, and backward ones, which hold none and so outlive a training step.
final class OneDNNPlans: Sendable {
    private let plans = PlanCache<OneDNNConvolutionShape, OneDNNConvolution>()
    private let backwardPlans = PlanCache<OneDNNBackwardKey, OneDNNConvolutionBackward>()
    private let lastFallback = Mutex<OneDNNFallback?>(nil)

    /// Why the last call that fell back to zoo's own kernels did; nil when none has.
    var fallback: OneDNNFallback? { lastFallback.withLock { $0 } }

    /// The plan for `shape`, made on first use (the failure remembered too, when oneDNN cannot run it).
    func plan(for shape: OneDNNConvolutionShape, make: () throws(OneDNNFallback) -> OneDNNConvolution) throws(OneDNNFallback)
        -> OneDNNConvolution
    {
        try plans.plan(for: shape, make: make)
    }

    /// Records why a call falls back to zoo's own kernels.
    func record(_ fallback: OneDNNFallback) { lastFallback.withLock { $0 = fallback } }

    /// Drops the forward plans (the weights changed); backward plans hold no weights and stay.
    func removeAll() { plans.removeAll() }

    /// The gradients of the convolution `shape` describes with respect to its input (zeros unless
    /// `needsInput`), weight and bias, by oneDNN's backward primitives (made on first use); nil,
    /// with the reason recorded in ``fallback``, when oneDNN cannot run this case.
    /// `stagedSource` is the input as the training forward kept it, read instead of `input`
    /// where the backward wants that layout.
    func gradients(
        input: Tensor, gradient: Tensor, shape: OneDNNConvolutionShape, weight: Tensor, needsInput: Bool,
        stagedSource: OneDNNStagedTensor? = nil
    ) -> ConvolutionGradients? {
        do {
            let key = OneDNNBackwardKey(shape, needsInput: needsInput)
            let plan = try backwardPlans.plan(for: key) { () throws(OneDNNFallback) in try OneDNNConvolutionBackward(key) }
            return try plan.gradients(
                input: input.scalars, gradient: gradient.scalars, weight: weight.scalars, stagedSource: stagedSource)
        } catch {
            record(error)
            return nil
        }
    }

    /// The activation oneDNN can apply for `epilogue`: one with no BatchNorm map before it, and
    /// not a SiLU, which zoo's own pass after the kernel computes in half the time oneDNN 2.6's
    /// swish post-op takes (``VectorActivation``).
    private static func postOp(_ epilogue: ConvolutionEpilogue?) -> ConvolutionActivation? {
        guard let epilogue, epilogue.scale == nil, epilogue.shift == nil, epilogue.activation != .silu else { return nil }
        return epilogue.activation
    }

    /// The layer's output through its plan for `shape` (made on first use), with `epilogue`
    /// applied in place after oneDNN added the bias; nil, with the reason recorded in
    /// ``fallback``, when oneDNN cannot run this case.
    func convolve(
        _ input: Tensor, shape: OneDNNConvolutionShape, weight: Tensor, bias: Tensor?, epilogue: ConvolutionEpilogue?
    ) -> Tensor? {
        let output = convolve(.plain(input), shape: shape, weight: weight, bias: bias, epilogue: epilogue, blockedOutput: false)
        guard case .plain(let tensor)? = output else { return nil }
        return tensor
    }

    /// ``convolve(_:shape:weight:bias:epilogue:)`` for an input that may be in oneDNN's blocked
    /// layout (read as it is when the primitive reads that layout); with `blockedOutput`, the
    /// output stays in the blocked layout when the primitive writes it and the epilogue left to
    /// zoo, if any, keeps the zero padding.
    func convolve(
        _ input: LayoutValue, shape: OneDNNConvolutionShape, weight: Tensor, bias: Tensor?, epilogue: ConvolutionEpilogue?,
        blockedOutput: Bool
    ) -> LayoutValue? {
        do {
            let (plan, shape, epilogue) = try fusedPlan(shape, weight: weight, bias: bias, epilogue: epilogue)
            var input = input
            if case .blocked(let value) = input, !value.matches(plan.sourceLayout) { input = .plain(try value.plain()) }
            if blockedOutput,
                let blocked = PreparedConvolution(plan: plan, shape: shape, epilogue: epilogue, inputShape: input.shape)
            {
                return .blocked(try blocked.output(reading: input))
            }
            var output = [Float](unsafeUninitializedCapacity: shape.destination.reduce(1, *)) { buffer, count in count = buffer.count }
            try output.withUnsafeMutableBufferPointer { (y) throws(OneDNNFallback) in
                try Self.withInput(input) { (pointer, inner) throws(OneDNNFallback) in
                    try plan.run(
                        input: pointer, inPrimitiveLayout: inner, output: UnsafeMutableRawPointer(y.baseAddress!), inPrimitiveLayout: false)
                }
            }
            epilogue?.apply(toPlanesOf: &output, channels: shape.destination[1], plane: shape.destination[2] * shape.destination[3])
            return .plain(Tensor(shape: shape.destination, scalars: output))
        } catch {
            record(error)
            return nil
        }
    }

    /// What ``convolve(_:shape:weight:bias:epilogue:blockedOutput:)`` does for `input` with a
    /// blocked output, resolved once: the plan, the part of `epilogue` left to zoo and the
    /// output's shape and layout; nil when that call would take another path (a reorder of the
    /// input, a plain output) or oneDNN cannot run it.
    func prepared(_ input: BlockedActivation, shape: OneDNNConvolutionShape, weight: Tensor, bias: Tensor?, epilogue: ConvolutionEpilogue?)
        -> PreparedConvolution?
    {
        guard let (plan, shape, epilogue) = try? fusedPlan(shape, weight: weight, bias: bias, epilogue: epilogue),
            input.matches(plan.sourceLayout)
        else { return nil }
        return PreparedConvolution(plan: plan, shape: shape, epilogue: epilogue, inputShape: input.shape)
    }

    /// `activation?(conv(input) + bias + residual)` in the blocked layout, the residual added by
    /// oneDNN in the convolution's pass (its `sum` post-op) rather than in a pass of its own over
    /// both tensors. The output is written over `residual`'s buffer when `overwritingResidual`
    /// (the caller's last use of it, held nowhere else), else into a copy of it. Nil when the
    /// kernel for `shape` takes no such post-op (Winograd's, a deconvolution's) or does not write
    /// the blocked layout: the caller then adds the residual itself.
    func convolve(
        _ input: LayoutValue, shape: OneDNNConvolutionShape, weight: Tensor, bias: Tensor?, addingTo residual: BlockedActivation,
        overwritingResidual: Bool, activation: ConvolutionActivation?
    ) throws(OneDNNFallback) -> BlockedActivation? {
        var fused = shape
        // A SiLU runs after the kernel on zoo's faster pass (``postOp(_:)``).
        (fused.addsToDestination, fused.activation) = (true, activation == .silu ? nil : activation)
        let make = { (shape: OneDNNConvolutionShape) throws(OneDNNFallback) in
            try OneDNNConvolution(shape, weight: weight.scalars, bias: bias?.scalars)
        }
        guard residual.shape == shape.destination, Self.keepsPaddingZero(fused),
            let plan = try? self.plan(for: fused, make: { () throws(OneDNNFallback) in try make(fused) }),
            residual.matches(plan.destinationLayout)
        else { return nil }
        // A Winograd kernel without the post-op beats a direct one with it (an add costs one pass).
        if shape.winograd, !plan.implementation.contains("wino"),
            let unfused = try? self.plan(for: shape, make: { () throws(OneDNNFallback) in try make(shape) }),
            unfused.implementation.contains("wino")
        {
            return nil
        }
        var input = input
        if case .blocked(let value) = input, !value.matches(plan.sourceLayout) { input = .plain(try value.plain()) }
        let output = overwritingResidual ? residual : try residual.copy()
        try Self.withInput(input) { (pointer, inner) throws(OneDNNFallback) in
            try plan.run(input: pointer, inPrimitiveLayout: inner, output: output.buffer.pointer, inPrimitiveLayout: true)
        }
        if activation == .silu { VectorActivation.silu.apply(output.floats, into: output.floats, count: output.paddedCount) }
        return output
    }

    /// Whether a blocked output of `shape` keeps zeros in its channel padding: the padding's
    /// outputs are 0 (zero weights and bias), which the post-op activation must map to 0 unless
    /// the channels fill whole blocks (a sigmoid's 0.5 would be read as values by zoo's kernels).
    fileprivate static func keepsPaddingZero(_ shape: OneDNNConvolutionShape) -> Bool {
        shape.activation.map(\.keepsZero) ?? true || shape.destination[1] % 16 == 0
    }

    /// The plan to run for `shape` and `epilogue`, the shape it was made for and the part of the
    /// epilogue left to zoo: the activation as a post-op when oneDNN takes it.
    private func fusedPlan(_ shape: OneDNNConvolutionShape, weight: Tensor, bias: Tensor?, epilogue: ConvolutionEpilogue?)
        throws(OneDNNFallback) -> (OneDNNConvolution, OneDNNConvolutionShape, ConvolutionEpilogue?)
    {
        let make = { (shape: OneDNNConvolutionShape) throws(OneDNNFallback) in
            try OneDNNConvolution(shape, weight: weight.scalars, bias: bias?.scalars)
        }
        if let postOp = Self.postOp(epilogue) {
            var fused = shape
            fused.activation = postOp
            // A post-op some kernel refuses (Winograd's, a deconvolution's) is applied by zoo
            // instead: a pass over the output costs less than losing the faster kernel.
            if let plan = try? self.plan(for: fused, make: { () throws(OneDNNFallback) in try make(fused) }),
                !shape.winograd || plan.implementation.contains("wino")
            {
                return (plan, fused, nil)
            }
        }
        return (try plan(for: shape) { () throws(OneDNNFallback) in try make(shape) }, shape, epilogue)
    }

    /// `body` with a pointer to `input`'s values and whether they are in the blocked layout.
    fileprivate static func withInput(_ input: LayoutValue, _ body: (UnsafeRawPointer, Bool) throws(OneDNNFallback) -> Void)
        throws(OneDNNFallback)
    {
        switch input {
        case .blocked(let value): try body(UnsafeRawPointer(value.buffer.pointer), true)
        case .plain(let tensor):
            try tensor.scalars.withUnsafeBufferPointer { (x) throws(OneDNNFallback) in try body(UnsafeRawPointer(x.baseAddress!), false) }
        }
    }

    /// A training forward: the layer's output through its plan for `shape` (no epilogue), and
    /// the input as the primitive read it when that was a layout of its own, for the backward
    /// (``gradients(input:gradient:shape:weight:needsInput:stagedSource:)``); nil, with the
    /// reason recorded in ``fallback``, when oneDNN cannot run this case.
    func trainingForward(_ input: Tensor, shape: OneDNNConvolutionShape, weight: Tensor, bias: Tensor?) -> (
        output: Tensor, stagedSource: OneDNNStagedTensor?
    )? {
        do {
            let plan = try plan(for: shape) { () throws(OneDNNFallback) in
                try OneDNNConvolution(shape, weight: weight.scalars, bias: bias?.scalars)
            }
            let (output, staged) = try Self.run(plan, input, shape: shape, keepingSource: true)
            return (Tensor(shape: shape.destination, scalars: output), staged)
        } catch {
            record(error)
            return nil
        }
    }

    private static func run(_ plan: OneDNNConvolution, _ input: Tensor, shape: OneDNNConvolutionShape, keepingSource: Bool)
        throws(OneDNNFallback) -> ([Float], OneDNNStagedTensor?)
    {
        var staged: OneDNNStagedTensor?
        var output = [Float](unsafeUninitializedCapacity: shape.destination.reduce(1, *)) { buffer, count in count = buffer.count }
        try input.scalars.withUnsafeBufferPointer { (x) throws(OneDNNFallback) in
            try output.withUnsafeMutableBufferPointer { (y) throws(OneDNNFallback) in
                staged = try plan.run(input: x.baseAddress!, output: y.baseAddress!, keepingSource: keepingSource)
            }
        }
        return (output, staged)
    }
}

/// A convolution to the blocked layout resolved for one input shape
/// (``OneDNNPlans/prepared(_:shape:weight:bias:epilogue:)``): a graph node runs it on every pass
/// after its first, rather than looking up its arguments, layer, shape and plan again (about a
/// tenth of mobilenet_v2's pass at batch 1 went to that, between kernels of 15-200 µs).
struct PreparedConvolution: Sendable {
    let plan: OneDNNConvolution
    let inputShape: [Int]
    let outputShape: [Int]
    /// The part of the layer's epilogue oneDNN does not apply.
    let epilogue: ConvolutionEpilogue?
    /// Whether the output keeps its channel means, taken by its SiLU pass, for a pooling that
    /// reads it (``keepingChannelMeans()``).
    private(set) var keepsChannelMeans = false

    /// The plan made for `shape`, writing the blocked layout; nil when it writes another layout,
    /// or when what is left of the epilogue would not keep the channel padding's zeros.
    init?(plan: OneDNNConvolution, shape: OneDNNConvolutionShape, epilogue: ConvolutionEpilogue?, inputShape: [Int]) {
        guard epilogue?.activation.map(\.keepsZero) ?? true, OneDNNPlans.keepsPaddingZero(shape), plan.writesBlockedLayout else {
            return nil
        }
        (self.plan, self.outputShape, self.epilogue, self.inputShape) = (plan, shape.destination, epilogue, inputShape)
    }

    /// The output for a blocked `input`; nil when it is not of the shape and layout this was prepared for.
    func run(_ input: BlockedActivation) throws(OneDNNFallback) -> BlockedActivation? {
        guard input.shape == inputShape, input.matches(plan.sourceLayout) else { return nil }
        return try output(reading: .blocked(input))
    }

    /// The output for `input`, plain or in the plan's source layout.
    func output(reading input: LayoutValue) throws(OneDNNFallback) -> BlockedActivation {
        let output = BlockedActivation(shape: outputShape, layout: plan.destinationLayout)
        try OneDNNPlans.withInput(input) { (pointer, inner) throws(OneDNNFallback) in
            try plan.run(input: pointer, inPrimitiveLayout: inner, output: output.buffer.pointer, inPrimitiveLayout: true)
        }
        if keepsChannelMeans {
            output.applySiLUKeepingMeans()
        } else if let epilogue {
            applyBlockedEpilogue(epilogue, from: output, to: output)
        }
        return output
    }

    /// This convolution with its output's channel means taken by its SiLU pass; itself when what
    /// is left of its epilogue is not a SiLU alone.
    func keepingChannelMeans() -> PreparedConvolution {
        guard let epilogue, epilogue.activation == .silu, epilogue.scale == nil, epilogue.shift == nil else { return self }
        var keeping = self
        keeping.keepsChannelMeans = true
        return keeping
    }
}
