import Tensor

/// A BatchNorm and ReLU (``GraphFusion``'s `zoo.batch_norm_relu`) whose output only a 1x1
/// convolution reads (DenseNet's layers and transitions: norm, relu, conv 1x1), fused by
/// ``GraphFusion`` into one node run on zoo's kernel (``BlockedNormalizedPointwise``), where it
/// runs (AVX-512): the normalized copy of the input, as large as the input, is never written.
///
/// The node carries the BatchNorm node's arguments, and the convolution's under
/// ``convolutionPrefix`` (``GraphNodePair``). When the kernel cannot run (a plain input), the two
/// nodes run one after the other as they would unfused, the normalized value stored under its
/// name until the convolution has read it.
enum GraphNormalizedPointwise {
    static let target = "zoo.normalized_pointwise"
    static let convolutionPrefix = "convolution_"

    /// The fused node for `normalization` (a `zoo.batch_norm_relu` node) and `convolution`.
    static func node(normalization: ExportedProgram.Node, convolution: ExportedProgram.Node) -> ExportedProgram.Node {
        GraphNodePair.node(target: target, first: normalization, second: convolution, prefix: convolutionPrefix)
    }

    /// Whether `convolution` (a fused convolution or `aten.conv2d` node), reading the output of
    /// `normalization` (a `zoo.batch_norm_relu` node), is a pair zoo's kernel runs: a 1x1,
    /// stride-1, unpadded, ungrouped convolution with no residual, an activation the kernel
    /// applies or none, on a CPU the kernel runs on.
    static func fuses(
        normalization: ExportedProgram.Node, convolution: ExportedProgram.Node, shapes: [String: [ShapeExpression]],
        activation: (ExportedProgram.Argument?) -> ConvolutionActivation?
    ) -> Bool {
        guard normalization.outputs.count == 1, convolution.argument("input", at: 0) == .tensor(normalization.outputs[0]),
            BlockedNormalizedPointwise.runs, let weight = GraphNodePair.weightShape(convolution, shapes: shapes)
        else { return false }
        switch convolution.argument("activation", at: Int.max) {
        case nil, .none?: break
        case let argument?:
            guard let applied = activation(argument), BlockedDepthwise.kernelActivation(applied) != nil else { return false }
        }
        return GraphNodePair.isPointwise(convolution, weight: weight)
    }

    /// The node's layers (made on first use and kept, as a fused convolution's).
    static func layer(_ call: GraphCall) throws -> NormalizedPointwiseLayer {
        try call.layer({ try NormalizedPointwiseLayer(call) }, state: [])
    }

    /// The two nodes on plain tensors, one after the other, as unfused.
    static func plain(_ call: GraphCall) throws -> ([Tensor], Module?) {
        let layer = try layer(call)
        let normalization = call.part(layer.normalizationNode, on: layer.normalization)
        guard let normalize = GraphFusion.table["zoo.batch_norm_relu"] else {
            throw NNError.unsupportedOperator(target: target, node: call.node.name)
        }
        let (middle, _) = try normalize(normalization)
        call.values.store(middle[0], as: layer.normalizationNode.outputs[0])
        defer { call.values.remove(layer.normalizationNode.outputs[0]) }
        let (outputs, _) = try GraphFusion.fusedConvolution(call.part(layer.convolutionNode, on: layer.convolution))
        return (outputs, layer)
    }

    /// zoo's kernel on a blocked input; else both nodes as their blocked operators run them; nil
    /// when those decline too (the caller then runs ``plain(_:)``).
    static func blocked(_ call: GraphBlockedOperators.Call) throws -> (output: LayoutValue, layer: Module?)? {
        let layer = try layer(call.call)
        if let kernel = layer.kernel, case .blocked(let input)? = call.value("input", 0), input.shape.count == 4,
            input.shape[1] == kernel.inChannels
        {
            return (.blocked(try kernel.run(input)), layer)
        }
        let normalization = GraphBlockedOperators.Call(
            call: call.call.part(layer.normalizationNode, on: layer.normalization), lastUses: [])
        guard let normalize = GraphBlockedOperators.table["zoo.batch_norm_relu"], let (middle, _) = try normalize(normalization) else {
            return nil
        }
        let middleName = layer.normalizationNode.outputs[0]
        call.values.store(middle, as: middleName)
        defer { call.values.remove(middleName) }
        let convolution = GraphBlockedOperators.Call(
            call: call.call.part(layer.convolutionNode, on: layer.convolution), lastUses: [middleName])
        guard let (output, _) = try GraphBlockedOperators.fusedConvolution(convolution) else { return nil }
        return (output, layer)
    }
}

/// The layers of a fused normalized-pointwise node: the BatchNorm, the convolution (with a
/// BatchNorm after it folded in) and zoo's kernel for both, made from the current weights.
final class NormalizedPointwiseLayer: ModuleBase, Layer {
    let normalizationNode: ExportedProgram.Node
    let convolutionNode: ExportedProgram.Node
    let normalization: BatchNorm2d
    let convolution: Conv2d
    private let activation: ConvolutionActivation?
    /// zoo's kernel for the pair (nil off AVX-512, or for a BatchNorm that is not in eval mode).
    let kernel: BlockedNormalizedPointwise?

    init(_ call: GraphCall) throws {
        (normalizationNode, convolutionNode) = try GraphNodePair.parts(
            of: call.node, prefix: GraphNormalizedPointwise.convolutionPrefix, firstSuffix: ".normalization")
        let normalizationCall = call.part(normalizationNode, on: nil)
        let convolutionCall = call.part(convolutionNode, on: nil)
        normalization = try GraphFusion.batchNormLayer(normalizationCall)
        convolution = try GraphFusion.fusedConvolutionLayer(convolutionCall)
        activation = GraphFusion.fusedActivation(convolutionCall)
        kernel = normalization.evalAffineMap.flatMap { [convolution, activation] map in
            BlockedNormalizedPointwise(
                scale: map.scale, shift: map.shift, weight: convolution.weight.scalars, bias: convolution.bias?.scalars,
                inChannels: convolution.inChannels, outChannels: convolution.outChannels, activation: activation)
        }
        super.init()
    }

    public func forward(_ input: Tensor) throws -> Tensor {
        let normalized = try normalization.forward(input).scalars.map { $0 > 0 ? $0 : ($0.isNaN ? $0 : 0) }
        return try convolution.forward(
            Tensor(shape: input.shape, scalars: normalized),
            epilogue: activation.map { ConvolutionEpilogue(scale: nil, shift: nil, activation: $0) })
    }

    public func outputShape(for shape: [Int]) throws -> [Int] { try convolution.outputShape(for: shape) }
}
