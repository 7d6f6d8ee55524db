import Tensor

/// Runs its children in order, as PyTorch's `nn.Sequential`. Children are named `"0"`, `"1"`,
/// ... unless names are given, which then form the state_dict prefixes (`features.0.weight`).
public final class Sequential: Module {
    private let layers: [(name: String, module: Module)]

    public init(_ modules: [Module]) {
        layers = modules.enumerated().map { (String($0.offset), $0.element) }
    }

    public init(named modules: [(String, Module)]) {
        layers = modules.map { (name: $0.0, module: $0.1) }
    }

    public override var children: [(name: String, module: Module)] { layers }

    public override func forward(_ input: Tensor) throws -> Tensor {
        var value = input
        var index = 0
        while index < layers.count {
            // In eval mode a convolution takes over a following BatchNorm and ReLU.
            if let conv = layers[index].module as? any EpilogueFusing, !conv.isTraining {
                var epilogue = ConvolutionEpilogue(scale: nil, shift: nil, relu: false)
                var next = index + 1
                if next < layers.count, let norm = layers[next].module as? BatchNorm2d, let map = norm.evalAffineMap,
                    map.scale.count == conv.outChannels
                {
                    epilogue.scale = map.scale
                    epilogue.shift = map.shift
                    next += 1
                }
                if next < layers.count, layers[next].module is ReLU {
                    epilogue.relu = true
                    next += 1
                }
                if next > index + 1 {
                    value = try conv.forward(value, epilogue: epilogue)
                    index = next
                    continue
                }
            }
            value = try layers[index].module.forward(value)
            index += 1
        }
        return value
    }
}

/// torchvision's ResNet `BasicBlock`: `relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))`,
/// where the shortcut is `downsample` when present, else the input.
public final class BasicBlock: Module {
    public let conv1: Conv2d
    public let bn1: BatchNorm2d
    public let conv2: Conv2d
    public let bn2: BatchNorm2d
    public let downsample: Sequential?

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
    }

    public override var children: [(name: String, module: Module)] {
        var list: [(name: String, module: Module)] = [("conv1", conv1), ("bn1", bn1), ("conv2", conv2), ("bn2", bn2)]
        if let downsample { list.append(("downsample", downsample)) }
        return list
    }

    public override func forward(_ input: Tensor) throws -> Tensor {
        let relu = ReLU()
        let main: Tensor
        if let first = bn1.evalAffineMap, let second = bn2.evalAffineMap, !conv1.isTraining, !conv2.isTraining {
            let hidden = try conv1.forward(input, epilogue: .init(scale: first.scale, shift: first.shift, relu: true))
            main = try conv2.forward(hidden, epilogue: .init(scale: second.scale, shift: second.shift, relu: false))
        } else {
            main = try bn2(conv2(relu(bn1(conv1(input)))))
        }
        let shortcut = try downsample?(input) ?? input
        return try add(main, shortcut, thenReLU: true)
    }
}

/// Elementwise sum of two tensors of the same shape: the residual add.
public func add(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    try add(a, b, thenReLU: false)
}

/// `a + b`, then `relu` when asked, in one pass (the same float operations as two).
func add(_ a: Tensor, _ b: Tensor, thenReLU: Bool) throws -> Tensor {
    guard a.shape == b.shape else {
        throw NNError.inputShape(layer: "add", expected: "shape \(a.shape)", got: b.shape)
    }
    let (x, y) = (a.scalars, b.scalars)
    let sum = [Float](unsafeUninitializedCapacity: x.count) { buffer, initialized in
        x.withUnsafeBufferPointer { x in
            y.withUnsafeBufferPointer { y in
                if thenReLU {
                    for index in 0..<x.count {
                        let value = x[index] + y[index]
                        buffer[index] = 0 >= value ? 0 : value
                    }
                } else {
                    for index in 0..<x.count { buffer[index] = x[index] + y[index] }
                }
            }
        }
        initialized = x.count
    }
    return Tensor(shape: a.shape, scalars: sum)
}
