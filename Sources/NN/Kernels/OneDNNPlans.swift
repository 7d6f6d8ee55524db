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

    /// The activation oneDNN can apply for `epilogue`: one with no BatchNorm map before it.
    private static func postOp(_ epilogue: ConvolutionEpilogue?) -> ConvolutionActivation? {
        guard let epilogue, epilogue.scale == nil, epilogue.shift == nil else { return nil }
        return epilogue.activation
    }

    /// The layer's output through its plan for `shape` (made on first use), with `epilogue`
    /// applied in place after oneDNN added the bias; nil, with the reason recorded in
    /// ``fallback``, when oneDNN cannot run this case.
    func convolve(
        _ input: Tensor, shape: OneDNNConvolutionShape, weight: Tensor, bias: Tensor?, epilogue: ConvolutionEpilogue?
    ) -> Tensor? {
        do {
            let make = { (shape: OneDNNConvolutionShape) throws(OneDNNFallback) in
                try OneDNNConvolution(shape, weight: weight.scalars, bias: bias?.scalars)
            }
            var (shape, epilogue) = (shape, epilogue)
            if let postOp = Self.postOp(epilogue) {
                var fused = shape
                fused.activation = postOp
                // A post-op some kernel refuses (Winograd's, a deconvolution's) is applied by zoo
                // instead: a pass over the output costs less than losing the faster kernel.
                if let plan = try? self.plan(for: fused, make: { () throws(OneDNNFallback) in try make(fused) }),
                    !shape.winograd || plan.implementation.contains("wino")
                {
                    (shape, epilogue) = (fused, nil)
                }
            }
            let plan = try plan(for: shape) { () throws(OneDNNFallback) in try make(shape) }
            var (output, _) = try Self.run(plan, input, shape: shape, keepingSource: false)
            epilogue?.apply(toPlanesOf: &output, channels: shape.destination[1], plane: shape.destination[2] * shape.destination[3])
            return Tensor(shape: shape.destination, scalars: output)
        } catch {
            record(error)
            return nil
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
