import Tensor

/// The `weight` and optional `bias` slots that Conv2d, ConvTranspose2d and Linear declare, both
/// drawn as PyTorch's `reset_parameters()` draws them: the weight from
/// `kaiming_uniform_(a=sqrt(5))`, which is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), then the bias from
/// the same bound.
struct WeightAndBias {
    let weight: StateSlot
    let bias: StateSlot?

    init(weightShape: [Int], biasCount: Int, hasBias: Bool, fanIn: Int) {
        let bound = fanIn > 0 ? 1 / Float(fanIn).squareRoot() : 0
        weight = .parameter("weight", shape: weightShape, initialisation: .uniform(bound: bound))
        bias = hasBias ? .parameter("bias", shape: [biasCount], initialisation: .uniform(bound: bound)) : nil
    }

    /// The slots in PyTorch's registration order.
    var slots: [StateSlot] { [weight] + (bias.map { [$0] } ?? []) }
}

extension ModuleBase {
    /// `kaiming_normal_(mode="fan_out", nonlinearity="relu")` on `slot`: N(0, 2 / fan_out).
    func resetKaimingNormal(_ slot: StateSlot, fanOut: Int, using generator: inout SeededGenerator) {
        let standardDeviation = Float((2.0 / Double(Swift.max(fanOut, 1))).squareRoot())
        self[slot] = Tensor(
            shape: slot.shape, scalars: generator.normal(count: slot.shape.reduce(1, *), standardDeviation: standardDeviation))
    }
}

/// The argument checks PyTorch makes for both convolutions.
func validateConvolution(
    layer: String, inChannels: Int, outChannels: Int, groups: Int, kernelSize: IntPair, stride: IntPair, dilation: IntPair
) throws {
    guard groups > 0 else { throw NNError.invalidArgument(layer: layer, argument: "groups", reason: "must be positive") }
    guard inChannels > 0, inChannels % groups == 0 else {
        throw NNError.invalidArgument(
            layer: layer, argument: "in_channels", reason: "\(inChannels) must be divisible by groups (\(groups))")
    }
    guard outChannels > 0, outChannels % groups == 0 else {
        throw NNError.invalidArgument(
            layer: layer, argument: "out_channels", reason: "\(outChannels) must be divisible by groups (\(groups))")
    }
    try validatePositive(kernelSize, "kernel_size", layer)
    try validatePositive(stride, "stride", layer)
    try validatePositive(dilation, "dilation", layer)
}

func validatePositive(_ pair: IntPair, _ argument: String, _ layer: String) throws {
    guard pair.height > 0, pair.width > 0 else {
        throw NNError.invalidArgument(layer: layer, argument: argument, reason: "must be positive, got \(pair)")
    }
}
