import Tensor

/// The pass that makes eval-mode forward passes do fewer passes over the activations, with the
/// same float operations and so the same results.
///
/// ``apply(to:)`` puts the model in eval mode and lets every container that can plan fused
/// steps do so: a ``Sequential`` groups each ``Conv2d`` or ``ConvTranspose2d`` with a following
/// ``BatchNorm2d`` (of as many channels) and ``ReLU``, which the convolution then applies in its
/// output pass; a ``BasicBlock`` does the same for its two convolutions and adds the shortcut and
/// applies the last ReLU in one pass. BatchNorm is applied, not folded into the weights, and its
/// map is read from its running statistics on every call, so loading new weights after the pass
/// is fine. ``ModuleBase/train(_:)`` with true removes the plans; a step whose layers are in
/// train mode runs them one by one.
public enum InferenceFusion {
    /// Eval mode and fused steps for `model` and every submodule.
    public static func apply(to model: Module) {
        model.eval()
        for case let container as any InferenceFusing in model.modules { container.applyFusion() }
    }
}

/// A container that can plan fused steps for its children.
protocol InferenceFusing: ModuleBase {
    func applyFusion()
    func removeFusion()
}

/// A layer that can take over a following eval-mode BatchNorm2d and ReLU in its output pass.
protocol EpilogueFusing: Layer {
    var outChannels: Int { get }
    func forward(_ input: Tensor, epilogue: ConvolutionEpilogue?) throws -> Tensor
}

/// One step of a fused Sequential: a child on its own, a convolution with what follows it, or a
/// `Flatten` and the `Linear` that reads its rows (which can read a blocked activation as it is).
enum FusedStep {
    case layer(Module)
    case convolution(FusedConvolution)
    case flattenThenLinear(Flatten, Linear)

    func forward(_ input: Tensor) throws -> Tensor {
        switch self {
        case .layer(let layer): try layer.forward(input)
        case .convolution(let fused): try fused.forward(input)
        case .flattenThenLinear(let flatten, let linear): try linear.forward(try flatten.forward(input))
        }
    }

    /// `layers` grouped: a convolution takes a following BatchNorm2d of its width, then a ReLU;
    /// a `Flatten` of every axis after the batch takes a following Linear.
    static func plan(_ layers: [Module]) -> [FusedStep] {
        var steps: [FusedStep] = []
        var index = 0
        while index < layers.count {
            if let flatten = layers[index] as? Flatten, flatten.startDim == 1, flatten.endDim == -1, index + 1 < layers.count,
                let linear = layers[index + 1] as? Linear
            {
                steps.append(.flattenThenLinear(flatten, linear))
                index += 2
                continue
            }
            guard let convolution = layers[index] as? any EpilogueFusing else {
                steps.append(.layer(layers[index]))
                index += 1
                continue
            }
            var next = index + 1
            var norm: BatchNorm2d?
            if next < layers.count, let found = layers[next] as? BatchNorm2d, found.numFeatures == convolution.outChannels {
                norm = found
                next += 1
            }
            var relu: ReLU?
            if next < layers.count, let found = layers[next] as? ReLU {
                relu = found
                next += 1
            }
            if next == index + 1 {
                steps.append(.layer(convolution))
            } else {
                steps.append(
                    .convolution(FusedConvolution(convolution: convolution, norm: norm, relu: relu, members: Array(layers[index..<next]))))
            }
            index = next
        }
        return steps
    }
}

/// A convolution with the eval-mode BatchNorm and ReLU it applies in its output pass.
struct FusedConvolution {
    let convolution: any EpilogueFusing
    let norm: BatchNorm2d?
    let relu: ReLU?
    /// The layers the step stands for, in order: what runs when fusion does not apply.
    let members: [Module]

    func forward(_ input: Tensor) throws -> Tensor {
        guard let epilogue else { return try members.reduce(input) { value, layer in try layer.forward(value) } }
        return try convolution.forward(input, epilogue: epilogue)
    }

    /// The convolution's epilogue; nil when a layer is in train mode or the BatchNorm's map depends
    /// on the batch.
    var epilogue: ConvolutionEpilogue? {
        guard !convolution.isTraining else { return nil }
        guard let norm else { return ConvolutionEpilogue(scale: nil, shift: nil, relu: relu != nil) }
        guard let map = norm.evalAffineMap else { return nil }
        return ConvolutionEpilogue(scale: map.scale, shift: map.shift, relu: relu != nil)
    }
}
