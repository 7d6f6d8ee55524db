import Synchronization
import Tensor

/// The plans one layer has made, by input shape; emptied when the layer's weights change.
final class OneDNNPlans: Sendable {
    private let plans = Mutex<[OneDNNConvolutionShape: Result<OneDNNConvolution, OneDNNFallback>]>([:])
    private let lastFallback = Mutex<OneDNNFallback?>(nil)

    /// Why the last call that fell back to zoo's own kernels did; nil when none has.
    var fallback: OneDNNFallback? { lastFallback.withLock { $0 } }

    /// The plan for `shape`, made on first use (the failure remembered too, when oneDNN cannot run it).
    func plan(for shape: OneDNNConvolutionShape, make: () throws(OneDNNFallback) -> OneDNNConvolution) throws(OneDNNFallback)
        -> OneDNNConvolution
    {
        if let known = plans.withLock({ $0[shape] }) { return try known.get() }
        let made: Result<OneDNNConvolution, OneDNNFallback>
        do { made = .success(try make()) } catch { made = .failure(error) }
        plans.withLock { $0[shape] = made }
        return try made.get()
    }

    /// Records why a call falls back to zoo's own kernels.
    func record(_ fallback: OneDNNFallback) { lastFallback.withLock { $0 = fallback } }

    func removeAll() { plans.withLock { $0.removeAll() } }

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
            var output = [Float](unsafeUninitializedCapacity: shape.destination.reduce(1, *)) { buffer, count in count = buffer.count }
            try input.scalars.withUnsafeBufferPointer { (x) throws(OneDNNFallback) in
                try output.withUnsafeMutableBufferPointer { (y) throws(OneDNNFallback) in
                    try plan.run(input: x.baseAddress!, output: y.baseAddress!)
                }
            }
            epilogue?.apply(toPlanesOf: &output, channels: shape.destination[1], plane: shape.destination[2] * shape.destination[3])
            return Tensor(shape: shape.destination, scalars: output)
        } catch {
            record(error)
            return nil
        }
    }
}
