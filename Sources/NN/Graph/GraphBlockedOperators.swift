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
        let lookup: (String) -> LayoutValue?

        func value(_ name: String, _ index: Int) -> LayoutValue? {
            guard case .tensor(let value)? = call.argument(name, index) else { return nil }
            return lookup(value)
        }
    }

    typealias Operation = @Sendable (Call) throws -> (output: LayoutValue, layer: Module?)?

    static let table: [String: Operation] = [
        "zoo.conv2d_epilogue": fusedConvolution, "aten.conv2d.default": convolution,
        "aten.add.Tensor": { try add($0, thenReLU: false) }, "aten.add_.Tensor": { try add($0, thenReLU: false) },
        "zoo.add_relu": { try add($0, thenReLU: true) }, "zoo.scale_channels": scaleChannels,
    ]

    private static func fusedConvolution(_ call: Call) throws -> (LayoutValue, Module?)? {
        guard let input = call.value("input", 0) else { return nil }
        let layer = try GraphFusion.fusedConvolutionLayer(call.call)
        return try layer.forwardKeepingLayout(input, epilogue: GraphFusion.fusedEpilogue(call.call)).map { ($0, layer) }
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
        switch (a, b) {
        case (.plain, .plain): return nil
        case (.blocked(let x), .blocked(let y)): return (.blocked(try blockedAdd(x, y, thenReLU: thenReLU)), nil)
        case (.blocked(let x), .plain(let y)):
            return (.blocked(try blockedAdd(x, try BlockedActivation.blocked(y), thenReLU: thenReLU)), nil)
        case (.plain(let x), .blocked(let y)):
            return (.blocked(try blockedAdd(try BlockedActivation.blocked(x), y, thenReLU: thenReLU)), nil)
        }
    }

    /// `x * s` for a blocked `x` `(N, C, H, W)` and `s` `(N, C, 1, 1)`.
    private static func scaleChannels(_ call: Call) throws -> (LayoutValue, Module?)? {
        guard case .blocked(let planes)? = call.value("self", 0), let scales = try call.value("scales", 1)?.plain(),
            scales.shape == [planes.shape[0], planes.shape[1], 1, 1]
        else { return nil }
        return (.blocked(try blockedScaleChannels(planes, by: scales.scalars)), nil)
    }
}

extension GraphBlockedOperators.Call {
    func float(_ name: String, _ index: Int, default fallback: Double) -> Double { call.float(name, index, default: fallback) }
}
