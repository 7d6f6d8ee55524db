import Foundation
import NN
import Tensor

/// A seeded SplitMix64 generator: the same seed gives the same weights on every platform.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func uniform(_ bound: Float) -> Float {
        Float.random(in: -bound..<bound, using: &self)
    }

    /// Box-Muller.
    mutating func normal(standardDeviation: Float) -> Float {
        let u1 = Double.random(in: Double.ulpOfOne..<1, using: &self)
        let u2 = Double.random(in: 0..<1, using: &self)
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)) * standardDeviation
    }
}

/// Initialises a model the way PyTorch does on construction.
public enum Initializer {
    public enum Scheme: Sendable {
        /// `reset_parameters()`: conv and linear weights `kaiming_uniform_(a=sqrt(5))`, i.e.
        /// U(-1/sqrt(fan_in), 1/sqrt(fan_in)), biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
        /// BatchNorm weight 1, bias 0, running mean 0, var 1, num_batches_tracked 0.
        case pytorchDefault
        /// torchvision's ResNet: conv weights `kaiming_normal_(mode="fan_out", nonlinearity="relu")`,
        /// BatchNorm weight 1, bias 0; Linear as PyTorch's default.
        case torchvisionResNet
    }

    public static func initialise(_ module: any Module, scheme: Scheme, generator: inout SeededGenerator) throws {
        if let conv = module as? Conv2d {
            let fanIn = conv.inChannels / conv.groups * conv.kernelSize.height * conv.kernelSize.width
            let fanOut = conv.outChannels * conv.kernelSize.height * conv.kernelSize.width
            let weight: [Float]
            switch scheme {
            case .pytorchDefault: weight = uniform(conv.weight.count, bound: bound(fanIn), &generator)
            case .torchvisionResNet:
                let std = Float((2.0 / Double(fanOut)).squareRoot())
                weight = (0..<conv.weight.count).map { _ in generator.normal(standardDeviation: std) }
            }
            try conv.setLocalState("weight", to: Tensor(shape: conv.weight.shape, scalars: weight))
            if let bias = conv.bias {
                try conv.setLocalState("bias", to: Tensor(shape: bias.shape, scalars: uniform(bias.count, bound: bound(fanIn), &generator)))
            }
        } else if let conv = module as? ConvTranspose2d {
            // PyTorch computes fan_in from weight.size(1) * kH * kW, which for a transposed conv is out/groups.
            let fanIn = conv.outChannels / conv.groups * conv.kernelSize.height * conv.kernelSize.width
            try conv.setLocalState("weight", to: Tensor(shape: conv.weight.shape, scalars: uniform(conv.weight.count, bound: bound(fanIn), &generator)))
            if let bias = conv.bias {
                try conv.setLocalState("bias", to: Tensor(shape: bias.shape, scalars: uniform(bias.count, bound: bound(fanIn), &generator)))
            }
        } else if let linear = module as? Linear {
            let fanIn = linear.inFeatures
            try linear.setLocalState("weight", to: Tensor(shape: linear.weight.shape, scalars: uniform(linear.weight.count, bound: bound(fanIn), &generator)))
            if let bias = linear.bias {
                try linear.setLocalState("bias", to: Tensor(shape: bias.shape, scalars: uniform(bias.count, bound: bound(fanIn), &generator)))
            }
        }
        for (_, child) in module.children { try initialise(child, scheme: scheme, generator: &generator) }
    }

    private static func bound(_ fanIn: Int) -> Float { fanIn > 0 ? 1 / Float(fanIn).squareRoot() : 0 }

    private static func uniform(_ count: Int, bound: Float, _ generator: inout SeededGenerator) -> [Float] {
        (0..<count).map { _ in bound > 0 ? generator.uniform(bound) : 0 }
    }
}
