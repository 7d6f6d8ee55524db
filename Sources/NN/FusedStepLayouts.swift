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
            case (let pool as MaxPool2d, .blocked(let value)): return .blocked(try blockedMaxPool(value, try pool.window(for: value.shape)))
            default: return nil
            }
        }
    }

    /// `steps` run one after the other, values kept in the blocked layout while the steps take it.
    static func run(_ steps: [FusedStep], on input: Tensor) throws -> Tensor {
        var value = LayoutValue.plain(input)
        for step in steps {
            if let output = try step.forwardKeepingLayout(value) {
                value = output
                continue
            }
            value = .plain(try step.forward(try value.plain()))
        }
        return try value.plain()
    }
}
