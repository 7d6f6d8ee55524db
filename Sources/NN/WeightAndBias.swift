import Tensor

/// The `weight` and optional `bias` that Conv2d, ConvTranspose2d and Linear own, with the
/// state_dict naming and shape checks they share.
struct WeightAndBias {
    private(set) var weight: Tensor
    private(set) var bias: Tensor?

    init(weightShape: [Int], biasCount: Int, hasBias: Bool) {
        weight = Tensor(zeros: weightShape)
        bias = hasBias ? Tensor(zeros: [biasCount]) : nil
    }

    var entries: [(name: String, tensor: Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    mutating func set(_ name: String, to tensor: Tensor) throws {
        switch name {
        case "weight":
            try requireShape(tensor, weight.shape, key: name)
            weight = tensor.converted(to: .float32)
        case "bias":
            guard let bias else { throw NNError.unknownStateKey(key: name) }
            try requireShape(tensor, bias.shape, key: name)
            self.bias = tensor.converted(to: .float32)
        default:
            throw NNError.unknownStateKey(key: name)
        }
    }
}

/// The argument checks PyTorch makes for both convolutions.
func validateConvolution(
    layer: String, inChannels: Int, outChannels: Int, groups: Int, kernelSize: IntPair, stride: IntPair, dilation: IntPair
) throws {
    guard groups > 0 else { throw NNError.invalidArgument(layer: layer, argument: "groups", reason: "must be positive") }
    guard inChannels > 0, inChannels % groups == 0 else {
        throw NNError.invalidArgument(layer: layer, argument: "in_channels", reason: "\(inChannels) must be divisible by groups (\(groups))")
    }
    guard outChannels > 0, outChannels % groups == 0 else {
        throw NNError.invalidArgument(layer: layer, argument: "out_channels", reason: "\(outChannels) must be divisible by groups (\(groups))")
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
