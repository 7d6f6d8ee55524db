import Tensor

/// The steps of a fused ``Sequential`` that can read and write activations in oneDNN's blocked
/// layout, so that a run of convolutions and max pools (simplecnn's conv -> ReLU -> pool ->
/// conv -> ReLU -> pool) passes them on without reordering to plain NCHW and back around every
/// convolution; the first step that cannot takes them plain. Same kernels and float operations
/// as the plain steps, so the same results.
extension FusedStep {
    /// The step's output for `input` as it is held, in the layout the step writes; nil when the
    /// step runs on plain tensors only (the caller then runs ``forward(_:)``).
    func forwardKeepingLayout(_ input: LayoutValue) throws -> LayoutValue? {
        switch self {
        case .convolution(let fused):
            guard let convolution = fused.convolution as? Conv2d, let epilogue = fused.epilogue else { return nil }
            return try convolution.forwardKeepingLayout(input, epilogue: epilogue)
        case .layer(let layer):
            guard !layer.isTraining else { return nil }
            switch (layer, input) {
            case (let convolution as Conv2d, _): return try convolution.forwardKeepingLayout(input, epilogue: nil)
            case (let sequence as Sequential, _): return try sequence.fusedSteps.map { try Self.run($0, on: input) }
            case (let block as BasicBlock, _): return try block.forwardKeepingLayout(input)
            case (let pool as MaxPool2d, .blocked(let value)): return .blocked(try blockedMaxPool(value, try pool.window(for: value.shape)))
            case (let pool as AdaptiveAvgPool2d, .blocked(let value)) where pool.outputSize == AdaptiveOutputSize(height: 1, width: 1):
                return .plain(blockedChannelMeans(value))
            default: return nil
            }
        case .flattenThenLinear(_, let linear):
            guard case .blocked(let value) = input else { return nil }
            return linear.forward(flattening: value).map(LayoutValue.plain)
        }
    }

    /// `steps` run one after the other on `input`, values kept in the blocked layout while the
    /// steps take it; the output as the last step left it.
    static func run(_ steps: [FusedStep], on input: LayoutValue) throws -> LayoutValue {
        var value = input
        for step in steps {
            if let output = try step.forwardKeepingLayout(value) {
                value = output
                continue
            }
            value = .plain(try step.forward(try value.plain()))
        }
        return value
    }
}

extension BasicBlock {
    /// The fused block's output for `input` as it is held: both convolutions and the shortcut
    /// keep the blocked layout when oneDNN writes it, and the residual add runs on it; nil when
    /// the block is not fused (train mode) or its first convolution does not run on oneDNN.
    func forwardKeepingLayout(_ input: LayoutValue) throws -> LayoutValue? {
        guard let fused, let first = fused.first.epilogue, let second = fused.second.epilogue,
            let middle = try conv1.forwardKeepingLayout(input, epilogue: first),
            let main = try conv2.forwardKeepingLayout(middle, epilogue: second)
        else { return nil }
        let shortcut =
            if let downsample {
                try downsample.fusedSteps.map { try FusedStep.run($0, on: input) } ?? .plain(try downsample(try input.plain()))
            } else { input }
        switch (main, shortcut) {
        case (.plain(let a), .plain(let b)): return .plain(try residualAdd(a, b, thenReLU: true))
        case (.blocked(let a), .blocked(let b)): return .blocked(try blockedAdd(a, b, thenReLU: true))
        case (.blocked(let a), .plain(let b)): return .blocked(try blockedAdd(a, try BlockedActivation.blocked(b), thenReLU: true))
        case (.plain(let a), .blocked(let b)): return .plain(try residualAdd(a, try b.plain(), thenReLU: true))
        }
    }
}
