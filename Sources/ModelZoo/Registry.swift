import Checkpoint
import NN
import Tensor

/// The reference models zoo ships, with the PyTorch definitions mirrored in Tools/zoo_models.py.
public enum Registry {
    public static let all: [Architecture] = [simpleCNN, grayCNN, net, cnnModel, edgeDetect, encDec, resnet18]

    public static func architecture(named name: String) throws -> Architecture {
        guard let found = all.first(where: { $0.name == name.lowercased() }) else {
            throw ModelZooError.unknownArchitecture(name, known: all.map(\.name))
        }
        return found
    }

    static func firstDimension(_ stateDict: StateDict, _ key: String, axis: Int = 0) -> Int? {
        guard let shape = stateDict[key]?.shape, shape.count > axis else { return nil }
        return shape[axis]
    }

    /// Seed 004's SimpleCNN (and, with one input channel, its grayscale twin).
    static func smallCNN(inChannels: Int, numClasses: Int) throws -> Module {
        Sequential(named: [
            ("conv1", try Conv2d(inChannels: inChannels, outChannels: 32, kernelSize: 3, padding: 1)),
            ("relu", ReLU()),
            ("pool", try MaxPool2d(kernelSize: 2, stride: 2)),
            ("conv2", try Conv2d(inChannels: 32, outChannels: 64, kernelSize: 3, padding: 1)),
            ("relu", ReLU()),
            ("pool", try MaxPool2d(kernelSize: 2, stride: 2)),
            ("flatten", Flatten()),
            ("fc1", try Linear(inFeatures: 64 * 8 * 8, outFeatures: 128)),
            ("relu", ReLU()),
            ("fc2", try Linear(inFeatures: 128, outFeatures: numClasses)),
        ])
    }

    static let numClasses = ArchitectureArgument(name: "num_classes", defaultValue: 10, summary: "size of the classifier output")

    public static let simpleCNN = Architecture(
        name: "simplecnn", summary: "two conv + pool blocks and two linear layers for 32x32 RGB images",
        origin: "seed 004: SimpleCNN", arguments: [numClasses],
        inputShape: { _ in [3, 32, 32] }, inputDescription: "3 x 32 x 32",
        builder: { try smallCNN(inChannels: 3, numClasses: $0["num_classes"]!) },
        inferrer: { sd in firstDimension(sd, "fc2.weight").map { ["num_classes": $0] } })

    public static let grayCNN = Architecture(
        name: "graycnn", summary: "SimpleCNN for 32x32 grayscale images",
        origin: "seed 004: the second CNN (conv1 takes 1 channel)", arguments: [numClasses],
        inputShape: { _ in [1, 32, 32] }, inputDescription: "1 x 32 x 32",
        builder: { try smallCNN(inChannels: 1, numClasses: $0["num_classes"]!) },
        inferrer: { sd in firstDimension(sd, "fc2.weight").map { ["num_classes": $0] } })

    public static let net = Architecture(
        name: "net", summary: "one conv + ReLU and a linear classifier over the whole 32x32 map",
        origin: "seed 004: the first Net", arguments: [],
        inputShape: { _ in [3, 32, 32] }, inputDescription: "3 x 32 x 32",
        builder: { _ in
            Sequential(named: [
                ("conv1", try Conv2d(inChannels: 3, outChannels: 32, kernelSize: 3, padding: 1)),
                ("relu", ReLU()),
                ("flatten", Flatten()),
                ("fc", try Linear(inFeatures: 32 * 32 * 32, outFeatures: 10)),
            ])
        },
        inferrer: { _ in [:] })

    public static let cnnModel = Architecture(
        name: "cnnmodel", summary: "conv + ReLU, then Linear(32, 10) on the last axis (N x 1 x H x 32 -> N x 32 x H x 10)",
        origin: "seed 003: CNNModel", arguments: [],
        inputShape: { _ in [1, 8, 32] }, inputDescription: "1 x H x 32",
        builder: { _ in
            Sequential(named: [
                (
                    "conv_layer",
                    Sequential(named: [
                        ("conv", try Conv2d(inChannels: 1, outChannels: 32, kernelSize: 3, stride: 1, padding: 1)),
                        ("relu", ReLU()),
                    ])
                ),
                ("fc_layer", Sequential(named: [("fc", try Linear(inFeatures: 32, outFeatures: 10))])),
            ])
        },
        inferrer: { _ in [:] })

    public static let edgeDetect = Architecture(
        name: "edgedetect", summary: "5x5 conv without bias; output channel 0 is the fixed edge kernel (-1, centre 24)",
        origin: "seed 001: edge detection with nn.Conv2d(1, 2, (5, 5), bias=False)", arguments: [],
        inputShape: { _ in [1, 64, 64] }, inputDescription: "1 x H x W (seed: 512 x 512)",
        builder: { _ in
            Sequential(named: [("conv", try Conv2d(inChannels: 1, outChannels: 2, kernelSize: IntPair(5, 5), bias: false))])
        },
        inferrer: { _ in [:] },
        initialiser: { model, generator in
            try model.resetAllParameters(using: &generator)
            try installEdgeKernel(model)
        })

    /// Seed 001's fixed edge kernel in output channel 0: all -1 with 24 at the centre.
    @Sendable static func installEdgeKernel(_ model: Module) throws {
        guard let conv = model.children.first?.module as? Conv2d else { return }
        var weights = conv.weight.scalars
        let plane = conv.kernelSize.height * conv.kernelSize.width
        for index in 0..<plane { weights[index] = -1 }
        weights[(conv.kernelSize.height / 2) * conv.kernelSize.width + conv.kernelSize.width / 2] = 24
        try conv.setLocalState("weight", to: Tensor(shape: conv.weight.shape, scalars: weights))
    }

    public static let encDec = Architecture(
        name: "encdec", summary: "Conv2d/ConvTranspose2d encoder-decoder (k=4, s=2, p=1) with BatchNorm and a sigmoid output",
        origin: "seed 002: the Conv2d / ConvTranspose2d pair",
        arguments: [
            ArchitectureArgument(name: "in_channels", defaultValue: 3, summary: "image channels in and out"),
            ArchitectureArgument(name: "base", defaultValue: 32, summary: "channels after the first conv"),
        ],
        inputShape: { [$0["in_channels"] ?? 3, 32, 32] }, inputDescription: "in_channels x H x W (H, W divisible by 4)",
        builder: { args in
            let c = args["in_channels"]!
            let base = args["base"]!
            return Sequential(named: [
                (
                    "encoder",
                    Sequential([
                        try Conv2d(inChannels: c, outChannels: base, kernelSize: 4, stride: 2, padding: 1, bias: false),
                        try BatchNorm2d(numFeatures: base), ReLU(),
                        try Conv2d(inChannels: base, outChannels: base * 2, kernelSize: 4, stride: 2, padding: 1, bias: false),
                        try BatchNorm2d(numFeatures: base * 2), ReLU(),
                    ])
                ),
                (
                    "decoder",
                    Sequential([
                        try ConvTranspose2d(inChannels: base * 2, outChannels: base, kernelSize: 4, stride: 2, padding: 1, bias: false),
                        try BatchNorm2d(numFeatures: base), ReLU(),
                        try ConvTranspose2d(inChannels: base, outChannels: c, kernelSize: 4, stride: 2, padding: 1),
                        Sigmoid(),
                    ])
                ),
            ])
        },
        inferrer: { sd in
            guard let shape = sd["encoder.0.weight"]?.shape, shape.count == 4 else { return nil }
            return ["in_channels": shape[1], "base": shape[0]]
        })

    public static let resnet18 = Architecture(
        name: "resnet18", summary: "torchvision's ResNet-18 with torchvision's state_dict names",
        origin: "torchvision.models.resnet18",
        arguments: [ArchitectureArgument(name: "num_classes", defaultValue: 1000, summary: "size of the classifier output")],
        inputShape: { _ in [3, 224, 224] }, inputDescription: "3 x 224 x 224",
        builder: { args in
            func layer(_ inplanes: Int, _ planes: Int, stride: Int) throws -> Sequential {
                Sequential([
                    try BasicBlock(inplanes: inplanes, planes: planes, stride: stride), try BasicBlock(inplanes: planes, planes: planes),
                ])
            }
            return Sequential(named: [
                ("conv1", try Conv2d(inChannels: 3, outChannels: 64, kernelSize: 7, stride: 2, padding: 3, bias: false)),
                ("bn1", try BatchNorm2d(numFeatures: 64)),
                ("relu", ReLU()),
                ("maxpool", try MaxPool2d(kernelSize: 3, stride: 2, padding: 1)),
                ("layer1", try layer(64, 64, stride: 1)),
                ("layer2", try layer(64, 128, stride: 2)),
                ("layer3", try layer(128, 256, stride: 2)),
                ("layer4", try layer(256, 512, stride: 2)),
                ("avgpool", AdaptiveAvgPool2d(outputSize: AdaptiveOutputSize(1))),
                ("flatten", Flatten()),
                ("fc", try Linear(inFeatures: 512, outFeatures: args["num_classes"]!)),
            ])
        },
        inferrer: { sd in firstDimension(sd, "fc.weight").map { ["num_classes": $0] } },
        initialiser: { model, generator in
            // torchvision's ResNet.__init__: kaiming_normal_(mode="fan_out") on every Conv2d
            // (none has a bias); BatchNorm weight 1 and bias 0, Linear its default.
            for module in model.modules {
                if let conv = module as? Conv2d {
                    conv.resetWeightKaimingNormalFanOut(using: &generator)
                } else {
                    try module.resetParameters(using: &generator)
                }
            }
        })
}
