import Tensor

/// The `weight` and optional `bias` that Conv2d, ConvTranspose2d and Linear own, with the
/// state_dict naming and shape checks they share.
struct WeightAndBias {
    let weightShape: [Int]
    let biasCount: Int?
    /// nil until loaded or initialised: the zeros a fresh layer holds are made only when read,
    /// so that a model built to be loaded never holds a second copy of its weights (zoo verify's
    /// peak memory is the checkpoint's tensors, not twice them).
    private var storedWeight: Tensor?
    private var storedBias: Tensor?

    init(weightShape: [Int], biasCount: Int, hasBias: Bool) {
        self.weightShape = weightShape
        self.biasCount = hasBias ? biasCount : nil
    }

    var weight: Tensor {
        get { storedWeight ?? Tensor(zeros: weightShape) }
        set { storedWeight = newValue }
    }

    var bias: Tensor? {
        get { biasCount.map { storedBias ?? Tensor(zeros: [$0]) } }
        set { storedBias = newValue }
    }

    /// Names, shapes and dtypes, without making any zeros.
    var layout: [(name: String, shape: [Int], dtype: DType)] {
        [("weight", weightShape, .float32)] + (biasCount.map { [("bias", [$0], .float32)] } ?? [])
    }

    /// PyTorch's `reset_parameters()` for convolutions and Linear: the weight from
    /// `kaiming_uniform_(a=sqrt(5))`, which is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), then the bias
    /// from the same bound.
    mutating func reset(fanIn: Int, using generator: inout SeededGenerator) {
        let bound = fanIn > 0 ? 1 / Float(fanIn).squareRoot() : 0
        weight = Tensor(shape: weightShape, scalars: generator.uniform(count: weightShape.reduce(1, *), bound: bound))
        if let biasCount { bias = Tensor(shape: [biasCount], scalars: generator.uniform(count: biasCount, bound: bound)) }
    }

    /// `kaiming_normal_(mode="fan_out", nonlinearity="relu")`: N(0, 2 / fan_out) on the weight;
    /// the bias is left as it is.
    mutating func resetKaimingNormal(fanOut: Int, using generator: inout SeededGenerator) {
        let standardDeviation = Float((2.0 / Double(Swift.max(fanOut, 1))).squareRoot())
        weight = Tensor(
            shape: weightShape, scalars: generator.normal(count: weightShape.reduce(1, *), standardDeviation: standardDeviation))
    }

    var entries: [(name: String, tensor: Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    mutating func set(_ name: String, to tensor: Tensor) throws {
        switch name {
        case "weight":
            try requireShape(tensor, weightShape, key: name)
            weight = tensor.converted(to: .float32)
        case "bias":
            guard let biasCount else { throw NNError.unknownStateKey(key: name) }
            try requireShape(tensor, [biasCount], key: name)
            bias = tensor.converted(to: .float32)
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
