import Tensor

/// `y = x W^T + b` on the last axis of an input of any rank, as PyTorch's `nn.Linear`.
///
/// - Input `(*, in_features)`; output `(*, out_features)`.
/// - `weight`: `(out_features, in_features)`; `bias`: `(out_features)`.
public final class Linear: ModuleBase, Layer {
    public let inFeatures: Int
    public let outFeatures: Int
    private let parameters: WeightAndBias
    public var weight: Tensor { self[parameters.weight] }
    public var bias: Tensor? { parameters.bias.map { self[$0] } }

    /// Weight and bias are drawn as PyTorch's `Linear.reset_parameters()` draws them:
    /// U(-1/sqrt(in_features), 1/sqrt(in_features)).
    public init(inFeatures: Int, outFeatures: Int, bias: Bool = true) throws {
        guard inFeatures >= 0, outFeatures >= 0 else {
            throw NNError.invalidArgument(layer: "Linear", argument: "features", reason: "must be non-negative")
        }
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        parameters = WeightAndBias(weightShape: [outFeatures, inFeatures], biasCount: outFeatures, hasBias: bias, fanIn: inFeatures)
        super.init(state: parameters.slots)
    }

    public func forward(_ input: Tensor) throws -> Tensor {
        guard input.rank >= 1, input.shape.last == inFeatures else {
            throw NNError.inputShape(layer: "Linear(\(inFeatures), \(outFeatures))", expected: "(*, \(inFeatures))", got: input.shape)
        }
        let rows = input.shape.dropLast().reduce(1, *)
        let shape = Array(input.shape.dropLast()) + [outFeatures]
        if let narrow = narrowProduct(flattening: nil) {
            var y = [Float](unsafeUninitializedCapacity: rows * outFeatures) { buffer, count in count = buffer.count }
            input.scalars.withUnsafeBufferPointer { x in
                y.withUnsafeMutableBufferPointer { y in narrow.apply(x.baseAddress!, rows: rows, bias: bias?.scalars, into: y.baseAddress!)
                }
            }
            return Tensor(shape: shape, scalars: y)
        }
        if !isTraining, rows == 1, inFeatures > 0, outFeatures > 0 {
            return Tensor(shape: shape, scalars: onePacked(input.scalars))
        }
        if let product = packedProduct(rows: rows) {
            var y = [Float](unsafeUninitializedCapacity: rows * outFeatures) { buffer, count in count = buffer.count }
            let done = input.scalars.withUnsafeBufferPointer { x in
                y.withUnsafeMutableBufferPointer { y in (try? product.run(input: x.baseAddress!, output: y.baseAddress!)) != nil }
            }
            if done { return Tensor(shape: shape, scalars: y) }
        }
        let y = affineRows(
            input.scalars, rows: rows, inFeatures: inFeatures, weight: weight.scalars, bias: bias?.scalars, outFeatures: outFeatures)
        return Tensor(shape: shape, scalars: y)
    }

    /// Eval mode's inner products by number of rows, each with the weights packed once (see
    /// ``OneDNNInnerProduct``); emptied when the weights change.
    private let packedProducts = PlanCache<Int, OneDNNInnerProduct>()

    /// Eval mode's inner products on flattened blocked activations, by the activation's shape.
    private let flatteningProducts = PlanCache<[Int], OneDNNInnerProduct>()

    /// Eval mode's weights for few outputs, packed for zoo's narrow product kernel
    /// (NarrowProduct.swift): by the shape of the blocked activation they read, `[]` for rows.
    private let narrowProducts = PlanCache<[Int], NarrowProductWeights?>()

    /// Eval mode's weights for one row, packed for zoo's product kernel (StreamedProduct.swift).
    private let packedRow = StreamedProductCache()

    /// The same for one flattened blocked sample, the columns in its order: by its shape.
    private let flatteningRows = PlanCache<[Int], StreamedProductWeights>()

    public override func stateDidChange() {
        packedRow.removeAll()
        narrowProducts.removeAll()
        packedProducts.removeAll()
        flatteningProducts.removeAll()
        flatteningRows.removeAll()
    }

    /// `forward(x.flatten(1))` for a blocked `x` `(N, C, H, W)` with `C * H * W` in-features,
    /// read where it is: by zoo's narrow product for up to 16 outputs, by its streamed product for
    /// one sample (the weights' columns put in the blocked order once, so that no reorder to
    /// plain NCHW comes first), else see ``OneDNNInnerProduct``. `(N, out_features)`; nil in train
    /// mode and where oneDNN has no kernel; the caller then flattens the plain tensor.
    func forward(flattening input: BlockedActivation) -> Tensor? {
        guard !isTraining, input.shape.dropFirst().reduce(1, *) == inFeatures, inFeatures > 0, outFeatures > 0 else { return nil }
        if let narrow = narrowProduct(flattening: input.shape) {
            let y = [Float](unsafeUninitializedCapacity: input.shape[0] * outFeatures) { buffer, count in
                narrow.apply(input.floats, rows: input.shape[0], bias: bias?.scalars, into: buffer.baseAddress!)
                count = buffer.count
            }
            return Tensor(shape: [input.shape[0], outFeatures], scalars: y)
        }
        if input.shape[0] == 1 {
            let (weight, outputs) = (weight.scalars, outFeatures)
            let streamed = try? flatteningRows.plan(for: input.shape) {
                let blocked = BlockedActivation.flattenedWeights(weight, outputs: outputs, shape: input.shape)
                return StreamedProductWeights(weight: Tensor(shape: [outputs, blocked.count / outputs], scalars: blocked))
            }
            return streamed.map { Tensor(shape: [1, outFeatures], scalars: $0.apply(to: input.floats, rows: 1, bias: bias?.scalars)) }
        }
        let product = try? flatteningProducts.plan(for: input.shape) { () throws(OneDNNFallback) in
            try OneDNNInnerProduct(flattening: input.shape, outFeatures: outFeatures, weight: weight.scalars, bias: bias?.scalars)
        }
        guard let product else { return nil }
        var y = [Float](unsafeUninitializedCapacity: input.shape[0] * outFeatures) { buffer, count in count = buffer.count }
        let done = y.withUnsafeMutableBufferPointer { y in (try? product.run(input: input.floats, output: y.baseAddress!)) != nil }
        return done ? Tensor(shape: [input.shape[0], outFeatures], scalars: y) : nil
    }

    /// Whether rows run on zoo's narrow product (``NarrowProductWeights``) in the layer's mode.
    var runsNarrowProduct: Bool { narrowProduct(flattening: nil) != nil }

    /// The narrow product's weights in eval mode when the outputs are few enough
    /// (``NarrowProductWeights/mostOutputs``) and the kernel runs on this CPU: for rows, or for
    /// the samples of a blocked activation of shape `flattening`; nil otherwise.
    private func narrowProduct(flattening shape: [Int]?) -> NarrowProductWeights? {
        guard !isTraining, outFeatures <= NarrowProductWeights.mostOutputs, NarrowProductWeights.runs else { return nil }
        let (weight, outputs) = (weight.scalars, outFeatures)
        let made = try? narrowProducts.plan(for: shape ?? []) { () throws(OneDNNFallback) in
            guard let shape else { return NarrowProductWeights(weight: weight, inputs: weight.count / max(1, outputs), outputs: outputs) }
            let blocked = BlockedActivation.flattenedWeights(weight, outputs: outputs, shape: shape)
            return NarrowProductWeights(weight: blocked, inputs: blocked.count / max(1, outputs), outputs: outputs)
        }
        return made ?? nil
    }

    /// One row times the weights on zoo's streamed product (StreamedProduct.swift), the weights'
    /// panels shared out to the compute threads: efficientnet_b0's 1280 -> 1000 classifier took
    /// 139-173 µs a call where oneDNN's GEMM took 185-211 (fastest of 50 calls, three runs, two
    /// threads).
    private func onePacked(_ x: [Float]) -> [Float] {
        packedRow.weights(for: weight, keeping: true).apply(to: x, rows: 1, bias: bias?.scalars)
    }

    /// The packed inner product for `rows` rows in eval mode; nil for one row (the streamed product
    /// runs it), in train mode (the weights change every step) and where oneDNN has
    /// no kernel.
    func packedProduct(rows: Int) -> OneDNNInnerProduct? {
        guard !isTraining, rows >= 2, inFeatures > 0, outFeatures > 0 else { return nil }
        let (weight, bias) = (weight.scalars, bias?.scalars)
        return try? packedProducts.plan(for: rows) { () throws(OneDNNFallback) in
            try OneDNNInnerProduct(rows: rows, inFeatures: inFeatures, outFeatures: outFeatures, weight: weight, bias: bias)
        }
    }
}
