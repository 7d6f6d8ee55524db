import Tensor

/// A squeeze-and-excitation block's scale (``GraphFusion``'s `zoo.scale_channels`) whose output
/// only a 1x1 convolution reads (EfficientNet's projections, with or without their residual),
/// fused by ``GraphFusion`` into one node run on zoo's kernel
/// (``BlockedNormalizedPointwise/run(scaling:by:residual:)``) where it runs (AVX-512): each input
/// block of a few pixels is scaled just before its products are taken, so the scaled copy of the
/// expanded activation is never written.
///
/// The node carries the scale node's arguments, and the convolution's under
/// ``convolutionPrefix`` (``GraphNodePair``). When the kernel cannot run (a plain input), the two
/// nodes run one after the other as they would unfused, the scaled value stored under its name
/// until the convolution has read it.
enum GraphScaledPointwise {
    static let target = "zoo.scaled_pointwise"
    static let convolutionPrefix = "convolution_"

    /// The fused node for `scale` (a `zoo.scale_channels` node) and `convolution`.
    static func node(scale: ExportedProgram.Node, convolution: ExportedProgram.Node) -> ExportedProgram.Node {
        GraphNodePair.node(target: target, first: scale, second: convolution, prefix: convolutionPrefix)
    }

    /// Whether `convolution` (a fused convolution node) reading the output of `scale` is a pair
    /// zoo's kernel runs: a 1x1, stride-1, unpadded, ungrouped convolution, with a residual or
    /// not, and an activation the kernel applies or none, on a CPU the kernel runs on.
    static func fuses(
        scale: ExportedProgram.Node, convolution: ExportedProgram.Node, shapes: [String: [ShapeExpression]],
        activation: (ExportedProgram.Argument?) -> ConvolutionActivation?
    ) -> Bool {
        GraphNodePair.runsOnPointwiseKernel(convolution, reading: scale, shapes: shapes, activation: activation, residual: true)
    }

    /// The node's layers (made on first use and kept, as a fused convolution's).
    static func layer(_ call: GraphCall) throws -> ScaledPointwiseLayer {
        try call.layer({ try ScaledPointwiseLayer(call) }, state: [])
    }

    /// The two nodes on plain tensors, one after the other, as unfused.
    static func plain(_ call: GraphCall) throws -> ([Tensor], Module?) {
        let layer = try layer(call)
        let outputs = try call.runApart([
            (layer.scaleNode, nil, GraphFusion.scaleChannels), (layer.convolutionNode, layer.convolution, GraphFusion.fusedConvolution),
        ])
        return (outputs, layer)
    }

    /// zoo's kernel on a blocked input, its scales and its residual (blocked); else both nodes as
    /// their blocked operators run them; nil when those decline too (the caller then runs
    /// ``plain(_:)``).
    static func blocked(_ call: GraphBlockedOperators.Call) throws -> (output: LayoutValue, layer: Module?)? {
        let layer = try layer(call.call)
        if let kernel = layer.kernel, case .blocked(let input)? = call.value("self", 0), input.shape.count == 4,
            input.shape[1] == kernel.inChannels, let scales = try call.value("scales", 1)?.plain(),
            scales.shape == [input.shape[0], input.shape[1], 1, 1]
        {
            switch layer.convolutionNode.argument("residual", at: GraphFusion.byName) {
            case nil:
                return (.blocked(try kernel.run(scaling: input, by: scales, residual: nil)), layer)
            case .tensor(let name)?:
                if let residual = try call.values.blockedValue(name) {
                    return (.blocked(try kernel.run(scaling: input, by: scales, residual: residual)), layer)
                }
            default: break
            }
        }
        guard let scaleChannels = GraphBlockedOperators.table["zoo.scale_channels"] else { return nil }
        let output = try call.runApart([
            (layer.scaleNode, nil, scaleChannels), (layer.convolutionNode, layer.convolution, GraphBlockedOperators.fusedConvolution),
        ])
        return output.map { ($0, layer) }
    }
}

/// The layers of a fused scaled-pointwise node: the convolution (with a BatchNorm after it folded
/// in) and zoo's kernel for the pair, made from the current weights.
final class ScaledPointwiseLayer: ModuleBase, Layer {
    let scaleNode: ExportedProgram.Node
    let convolutionNode: ExportedProgram.Node
    let convolution: Conv2d
    private let activation: ConvolutionActivation?
    /// zoo's kernel for the pair (nil off AVX-512).
    let kernel: BlockedNormalizedPointwise?

    init(_ call: GraphCall) throws {
        (scaleNode, convolutionNode) = try GraphNodePair.parts(
            of: call.node, prefix: GraphScaledPointwise.convolutionPrefix, firstSuffix: ".scale")
        let convolutionCall = call.part(convolutionNode, on: nil)
        convolution = try GraphFusion.fusedConvolutionLayer(convolutionCall)
        activation = GraphFusion.fusedActivation(convolutionCall)
        kernel = BlockedNormalizedPointwise(
            scalingWith: convolution.weight.scalars, bias: convolution.bias?.scalars, inChannels: convolution.inChannels,
            outChannels: convolution.outChannels, activation: activation)
        super.init()
    }

    /// The convolution of `input` alone (its scales and residual are the graph's to give).
    public func forward(_ input: Tensor) throws -> Tensor {
        try convolution.forward(input, epilogue: activation.map { ConvolutionEpilogue(scale: nil, shift: nil, activation: $0) })
    }

    public func outputShape(for shape: [Int]) throws -> [Int] { try convolution.outputShape(for: shape) }
}
