import Tensor

/// Runs its children in order, as PyTorch's `nn.Sequential`. Children are named `"0"`, `"1"`,
/// ... unless names are given, which then form the state_dict prefixes (`features.0.weight`).
public final class Sequential: ModuleBase, Layer, InferenceFusing {
    private let layers: [(name: String, module: Module)]
    /// The children grouped by ``InferenceFusion``; nil when the model is not fused.
    private(set) var fusedSteps: [FusedStep]?

    public init(_ modules: [Module]) {
        layers = modules.enumerated().map { (String($0.offset), $0.element) }
        super.init()
    }

    public init(named modules: [(String, Module)]) {
        layers = modules.map { (name: $0.0, module: $0.1) }
        super.init()
    }

    public override var children: [(name: String, module: Module)] { layers }

    public func forward(_ input: Tensor) throws -> Tensor {
        if let fusedSteps { return try FusedStep.run(fusedSteps, on: .plain(input)).plain() }
        return try layers.reduce(input) { value, layer in try layer.module.forward(value) }
    }

    /// The plan depends only on the children, which never change: made once, kept until train mode.
    func applyFusion() {
        if fusedSteps == nil { fusedSteps = FusedStep.plan(layers.map(\.module)) }
    }

    func removeFusion() { fusedSteps = nil }
}

/// torchvision's ResNet `BasicBlock`: `relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))`,
/// where the shortcut is `downsample` when present, else the input.
public final class BasicBlock: ModuleBase, Layer, InferenceFusing {
    public let conv1: Conv2d
    public let bn1: BatchNorm2d
    public let conv2: Conv2d
    public let bn2: BatchNorm2d
    public let downsample: Sequential?
    private let relu = ReLU()
    /// Set by ``InferenceFusion``: each convolution applies its BatchNorm (and the first its
    /// ReLU) in its output pass, and the residual add takes the last ReLU.
    private(set) var fused: (first: FusedConvolution, second: FusedConvolution)?

    /// `inplanes -> planes` with 3x3 convolutions; a 1x1 strided conv + BatchNorm shortcut when
    /// the stride or the width changes, as torchvision builds it.
    public init(inplanes: Int, planes: Int, stride: Int = 1) throws {
        conv1 = try Conv2d(
            inChannels: inplanes, outChannels: planes, kernelSize: 3, stride: IntPair(stride, stride), padding: 1, bias: false)
        bn1 = try BatchNorm2d(numFeatures: planes)
        conv2 = try Conv2d(inChannels: planes, outChannels: planes, kernelSize: 3, padding: 1, bias: false)
        bn2 = try BatchNorm2d(numFeatures: planes)
        if stride != 1 || inplanes != planes {
            downsample = Sequential([
                try Conv2d(inChannels: inplanes, outChannels: planes, kernelSize: 1, stride: IntPair(stride, stride), bias: false),
                try BatchNorm2d(numFeatures: planes),
            ])
        } else {
            downsample = nil
        }
        super.init()
    }

    public override var children: [(name: String, module: Module)] {
        var list: [(name: String, module: Module)] = [("conv1", conv1), ("bn1", bn1), ("conv2", conv2), ("bn2", bn2)]
        if let downsample { list.append(("downsample", downsample)) }
        return list
    }

    public func forward(_ input: Tensor) throws -> Tensor {
        let shortcut = try downsample?(input) ?? input
        if let fused {
            let main = try fused.second.forward(try fused.first.forward(input))
            return try residualAdd(main, shortcut, thenReLU: true)
        }
        let main = try bn2(conv2(relu(bn1(conv1(input)))))
        return try relu(residualAdd(main, shortcut, thenReLU: false))
    }

    func applyFusion() {
        guard fused == nil else { return }
        fused = (
            FusedConvolution(convolution: conv1, norm: bn1, relu: relu, members: [conv1, bn1, relu]),
            FusedConvolution(convolution: conv2, norm: bn2, relu: nil, members: [conv2, bn2])
        )
    }

    func removeFusion() { fused = nil }
}

/// Elementwise sum of two tensors of the same shape: the residual add.
public func add(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    try residualAdd(a, b, thenReLU: false)
}
