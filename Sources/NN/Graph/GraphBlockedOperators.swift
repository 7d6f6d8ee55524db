import Tensor

/// The operators that read and write values in oneDNN's blocked layout (``BlockedActivation``),
/// so that a run of convolutions, residual adds and channel scalings passes its activations from
/// one to the next without reordering them to plain NCHW and back around every convolution.
/// ``GraphModule`` runs a node here when its target is in ``table`` and the operation takes the
/// call (nil declines: then its blocked inputs are reordered out and the node runs as usual).
/// The kernels are the same as on plain tensors, so the outputs are the same.
enum GraphBlockedOperators {
    /// A node's call with a lookup of its inputs as they are held (blocked or plain).
    struct Call {
        let call: GraphCall
        var values: GraphLayoutValues { call.values }
        /// The values no node after this one reads.
        let lastUses: [String]

        func value(_ name: String, _ index: Int) -> LayoutValue? {
            guard case .tensor(let value)? = call.argument(name, index) else { return nil }
            return values[value]
        }

        /// The argument in the blocked layout (reordered in once, when held plain).
        func blocked(_ name: String, _ index: Int) throws -> BlockedActivation? {
            guard case .tensor(let value)? = call.argument(name, index) else { return nil }
            return try values.blockedValue(value)
        }
    }

    typealias Operation = @Sendable (Call) throws -> (output: LayoutValue, layer: Module?)?

    static let table: [String: Operation] = [
        "zoo.conv2d_epilogue": fusedConvolution, "aten.conv2d.default": convolution,
        "aten.add.Tensor": { try add($0, thenReLU: false) }, "aten.add_.Tensor": { try add($0, thenReLU: false) },
        "zoo.add_relu": { try add($0, thenReLU: true) }, "zoo.scale_channels": scaleChannels,
        "aten.cat.default": concatenate, "zoo.batch_norm_relu": batchNormThenReLU,
        "aten.adaptive_avg_pool2d.default": averageToOne, GraphPointwiseDepthwise.target: GraphPointwiseDepthwise.blocked,
        "aten.max_pool2d.default": maxPool, "aten.avg_pool2d.default": averagePool,
        GraphNormalizedPointwise.target: GraphNormalizedPointwise.blocked, GraphScaledPointwise.target: GraphScaledPointwise.blocked,
    ]

    static func fusedConvolution(_ call: Call) throws -> (LayoutValue, Module?)? {
        guard let input = call.value("input", 0) else { return nil }
        let layer = try GraphFusion.fusedConvolutionLayer(call.call)
        guard case .tensor(let residualName)? = call.call.argument("residual", GraphFusion.byName) else {
            return try layer.forwardKeepingLayout(input, epilogue: GraphFusion.fusedEpilogue(call.call)).map { ($0, layer) }
        }
        let activation = GraphFusion.fusedActivation(call.call)
        guard try call.values.blockedValue(residualName) != nil else { return nil }
        // The sum is written over the residual when this node is its last reader, nothing else
        // holds it (asked before this function takes a reference), and the convolution does not
        // read it as its input too.
        let overwriting =
            call.lastUses.contains(residualName) && call.call.argument("input", 0) != .tensor(residualName)
            && call.values.isSolelyHeld(residualName)
        guard let residual = try call.values.blockedValue(residualName) else { return nil }
        if let sum = try layer.forwardAddingResidual(
            input, residual: residual, overwritingResidual: overwriting, activation: activation)
        {
            return (.blocked(sum), layer)
        }
        // The kernel takes no sum post-op: the convolution, then zoo's blocked add.
        guard activation == nil || activation == .relu, let output = try layer.forwardKeepingLayout(input, epilogue: nil) else {
            return nil
        }
        let blocked: BlockedActivation
        switch output {
        case .blocked(let value): blocked = value
        case .plain(let tensor): blocked = try BlockedActivation.blocked(tensor)
        }
        return (.blocked(try blockedAdd(blocked, residual, thenReLU: activation == .relu)), layer)
    }

    private static func convolution(_ call: Call) throws -> (LayoutValue, Module?)? {
        guard let input = call.value("input", 0) else { return nil }
        let layer = try GraphOperators.convolutionLayer(call.call)
        return try layer.forwardKeepingLayout(input, epilogue: nil).map { ($0, layer) }
    }

    /// `a + b` when either is blocked and both have one rank-4 shape (the plain one is reordered in).
    private static func add(_ call: Call, thenReLU: Bool) throws -> (LayoutValue, Module?)? {
        guard let a = call.value("self", 0), let b = call.value("other", 1), a.shape == b.shape, a.shape.count == 4,
            call.float("alpha", 2, default: 1) == 1
        else { return nil }
        if case .plain = a, case .plain = b { return nil }
        guard let x = try call.blocked("self", 0), let y = try call.blocked("other", 1) else { return nil }
        return (.blocked(try blockedAdd(x, y, thenReLU: thenReLU)), nil)
    }

    /// `cat` along the channels of rank-4 values, when one of them is blocked and every one but
    /// the last has whole 16-channel blocks (DenseNet's 64 + 32k).
    private static func concatenate(_ call: Call) throws -> (LayoutValue, Module?)? {
        guard case .tensors(let names)? = call.call.argument("tensors", 0), let first = names.first.flatMap({ call.values[$0] }),
            first.shape.count == 4
        else { return nil }
        let axis = try call.call.int("dim", 1, default: 0)
        let parts = names.compactMap { call.values[$0] }
        guard axis == 1 || axis == -3, parts.count == names.count,
            parts.contains(where: { if case .blocked = $0 { true } else { false } }),
            parts.allSatisfy({ $0.shape.count == 4 && $0.shape[0] == first.shape[0] && $0.shape[2...] == first.shape[2...] }),
            parts.dropLast().allSatisfy({ $0.shape[1] % 16 == 0 })
        else { return nil }
        let blocked = try names.map { (name) throws -> BlockedActivation in
            guard let value = try call.values.blockedValue(name) else {
                throw OneDNNFallback.failed(call: "cat", status: .invalidArguments)
            }
            return value
        }
        if case .int(let capacity)? = call.call.argument(GraphFusion.channelCapacityArgument, GraphFusion.byName),
            let grown = try call.values.growingConcatenation(of: names, parts: blocked, capacity: capacity)
        {
            return (.blocked(grown), nil)
        }
        return (.blocked(try blockedConcatenation(blocked)), nil)
    }

    /// Eval-mode `relu(batch_norm(x))` for a blocked `x`, one pass.
    private static func batchNormThenReLU(_ call: Call) throws -> (LayoutValue, Module?)? {
        guard case .blocked(let input)? = call.value("input", 0) else { return nil }
        let layer = try GraphFusion.batchNormLayer(call.call)
        guard input.shape[1] == layer.numFeatures, let map = layer.evalAffineMap else { return nil }
        return (.blocked(try blockedAffineReLU(input, scale: map.scale, shift: map.shift)), layer)
    }

    private static func maxPool(_ call: Call) throws -> (LayoutValue, Module?)? {
        guard case .blocked(let input)? = call.value("self", 0) else { return nil }
        let layer = try GraphOperators.maxPoolLayer(call.call)
        let window = try layer.window(for: input.shape)
        return (.blocked(try blockedMaxPool(input, window)), layer)
    }

    private static func averagePool(_ call: Call) throws -> (LayoutValue, Module?)? {
        guard case .blocked(let input)? = call.value("self", 0) else { return nil }
        let layer = try GraphOperators.averagePoolLayer(call.call)
        let window = try layer.window(for: input.shape)
        return (
            .blocked(try blockedAveragePool(input, window, countIncludePad: layer.countIncludePad, divisorOverride: layer.divisorOverride)),
            layer
        )
    }

    /// `adaptive_avg_pool2d(x, 1)` of a blocked `x`, as a plain `(N, C, 1, 1)` tensor (the same
    /// sums, in the same order, as on a plain tensor).
    private static func averageToOne(_ call: Call) throws -> (LayoutValue, Module?)? {
        guard case .blocked(let input)? = call.value("self", 0), try call.call.pair("output_size", 1, default: [1]) == IntPair(1, 1)
        else { return nil }
        return (.plain(input.channelMeans ?? blockedChannelMeans(input)), nil)
    }

    /// `x * s` for a blocked `x` `(N, C, H, W)` and `s` `(N, C, 1, 1)`.
    private static func scaleChannels(_ call: Call) throws -> (LayoutValue, Module?)? {
        // Asked before this function takes a reference to the planes, as for a residual.
        let overwriting =
            if case .tensor(let name)? = call.call.argument("self", 0) {
                call.lastUses.contains(name) && call.values.isSolelyHeld(name)
            } else { false }
        guard case .blocked(let planes)? = call.value("self", 0), let scales = try call.value("scales", 1)?.plain(),
            scales.shape == [planes.shape[0], planes.shape[1], 1, 1]
        else { return nil }
        return (.blocked(try blockedScaleChannels(planes, by: scales.scalars, overwriting: overwriting)), nil)
    }
}

extension GraphBlockedOperators.Call {
    func float(_ name: String, _ index: Int, default fallback: Double) -> Double { call.float(name, index, default: fallback) }
}
