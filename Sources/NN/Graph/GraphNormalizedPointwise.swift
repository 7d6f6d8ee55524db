import Tensor

/// A BatchNorm and ReLU (``GraphFusion``'s `zoo.batch_norm_relu`) whose output only a 1x1
/// convolution reads (DenseNet's layers and transitions: norm, relu, conv 1x1), fused by
/// ``GraphFusion`` into one node run on zoo's kernel (``BlockedNormalizedPointwise``), where it
/// runs (AVX-512): the normalized copy of the input, as large as the input, is never written.
///
/// The node carries the BatchNorm node's arguments, and the convolution's under
/// ``convolutionPrefix`` (``GraphNodePair``). Its input may be the parts of a channel `cat` that
/// only it reads (DenseNet's growing concatenations): the kernel then reads each part where it
/// lies, and the `cat` is not made. When the kernel cannot run (a plain input), the nodes run one
/// after the other as they would unfused (the `cat` too), each value stored under its name until
/// the next node has read it.
enum GraphNormalizedPointwise {
    static let target = "zoo.normalized_pointwise"
    static let convolutionPrefix = "convolution_"

    /// The fused node for `normalization` (a `zoo.batch_norm_relu` node) and `convolution`.
    static func node(normalization: ExportedProgram.Node, convolution: ExportedProgram.Node) -> ExportedProgram.Node {
        GraphNodePair.node(target: target, first: normalization, second: convolution, prefix: convolutionPrefix)
    }

    /// The fused `node`, its input the channel concatenation of `parts` instead of a `cat`'s output.
    static func node(_ node: ExportedProgram.Node, readingParts parts: [String]) -> ExportedProgram.Node {
        var node = node
        if let index = node.arguments.firstIndex(where: { $0.name == "input" }) { node.arguments[index].value = .tensors(parts) }
        return node
    }

    /// The `cat` a node reading `parts` stands for, writing `name`.
    fileprivate static func concatenation(of parts: [String], as name: String) -> ExportedProgram.Node {
        ExportedProgram.Node(
            target: "aten.cat.default", name: name, arguments: [("tensors", .tensors(parts)), ("dim", .int(1))], outputs: [name])
    }

    /// Whether `convolution` (a fused convolution or `aten.conv2d` node), reading the output of
    /// `normalization` (a `zoo.batch_norm_relu` node), is a pair zoo's kernel runs: a 1x1,
    /// stride-1, unpadded, ungrouped convolution with no residual, an activation the kernel
    /// applies or none, on a CPU the kernel runs on.
    static func fuses(
        normalization: ExportedProgram.Node, convolution: ExportedProgram.Node, shapes: [String: [ShapeExpression]],
        activation: (ExportedProgram.Argument?) -> ConvolutionActivation?
    ) -> Bool {
        GraphNodePair.runsOnPointwiseKernel(convolution, reading: normalization, shapes: shapes, activation: activation, residual: false)
    }

    /// The node's layers (made on first use and kept, as a fused convolution's).
    static func layer(_ call: GraphCall) throws -> NormalizedPointwiseLayer {
        try call.layer({ try NormalizedPointwiseLayer(call) }, state: [])
    }

    /// The nodes on plain tensors, one after the other, as unfused.
    static func plain(_ call: GraphCall) throws -> ([Tensor], Module?) {
        let layer = try layer(call)
        var parts: [GraphPart<GraphOperators.Operation>] = []
        if let node = layer.concatenationNode { parts.append((node, nil, try GraphOperators.operation(node.target, for: call.node))) }
        parts += [
            (layer.normalizationNode, layer.normalization, try GraphOperators.operation("zoo.batch_norm_relu", for: call.node)),
            (layer.convolutionNode, layer.convolution, GraphFusion.fusedConvolution),
        ]
        return (try call.runApart(parts), layer)
    }

    /// zoo's kernel on a blocked input (or on the parts of a concatenation, where they lie); else
    /// the nodes as their blocked operators run them; nil when those decline too (the caller then
    /// runs ``plain(_:)``).
    static func blocked(_ call: GraphBlockedOperators.Call) throws -> (output: LayoutValue, layer: Module?)? {
        let layer = try layer(call.call)
        if let kernel = layer.kernel {
            switch call.call.argument("input", 0) {
            case .tensor?:
                if case .blocked(let input)? = call.value("input", 0), input.shape.count == 4, input.shape[1] == kernel.inChannels {
                    return (.blocked(try kernel.run(input)), layer)
                }
            case .tensors(let names)?:
                if let parts = try blockedParts(names, values: call.values), kernel.reads(concatenationOf: parts.map(\.shape)) {
                    return (.blocked(try kernel.run(concatenating: parts)), layer)
                }
            default: break
            }
        }
        guard let normalize = GraphBlockedOperators.table["zoo.batch_norm_relu"] else { return nil }
        var parts: [GraphPart<GraphBlockedOperators.Operation>] = []
        if let node = layer.concatenationNode {
            guard let concatenate = GraphBlockedOperators.table[node.target] else { return nil }
            parts.append((node, nil, concatenate))
        }
        parts += [
            (layer.normalizationNode, layer.normalization, normalize),
            (layer.convolutionNode, layer.convolution, GraphBlockedOperators.fusedConvolution),
        ]
        return try call.runApart(parts).map { ($0, layer) }
    }

    /// The blocked values of `names`, each held blocked already (a plain one is not reordered
    /// for the kernel: the caller then runs the nodes one by one); nil when one is not.
    static func blockedParts(_ names: [String], values: GraphLayoutValues) throws -> [BlockedActivation]? {
        var parts: [BlockedActivation] = []
        for name in names {
            guard case .blocked(let part)? = values[name] else { return nil }
            parts.append(part)
        }
        return parts
    }
}

extension GraphNodePair {
    /// Whether `convolution` (a fused convolution or `aten.conv2d` node), reading the one output
    /// of `first`, runs on zoo's 1x1 kernel (``BlockedNormalizedPointwise``): a 1x1, stride-1,
    /// unpadded, ungrouped convolution, with a residual only when `residual`, an activation the
    /// kernel applies or none, on a CPU the kernel runs on.
    static func runsOnPointwiseKernel(
        _ convolution: ExportedProgram.Node, reading first: ExportedProgram.Node, shapes: [String: [ShapeExpression]],
        activation: (ExportedProgram.Argument?) -> ConvolutionActivation?, residual: Bool
    ) -> Bool {
        guard first.outputs.count == 1, convolution.argument("input", at: 0) == .tensor(first.outputs[0]),
            BlockedNormalizedPointwise.runs, let weight = weightShape(convolution, shapes: shapes)
        else { return false }
        switch convolution.argument("activation", at: Int.max) {
        case nil, .none?: break
        case let argument?:
            guard let applied = activation(argument), BlockedDepthwise.kernelActivation(applied) != nil else { return false }
        }
        return isPointwise(convolution, weight: weight, residual: residual)
    }
}

/// The layers of a fused normalized-pointwise node: the BatchNorm, the convolution (with a
/// BatchNorm after it folded in) and zoo's kernel for both, made from the current weights.
final class NormalizedPointwiseLayer: ModuleBase, Layer {
    /// The `cat` the node reads the parts of, when it does (run only when the kernel does not).
    let concatenationNode: ExportedProgram.Node?
    let normalizationNode: ExportedProgram.Node
    let convolutionNode: ExportedProgram.Node
    let normalization: BatchNorm2d
    let convolution: Conv2d
    private let activation: ConvolutionActivation?
    /// zoo's kernel for the pair (nil off AVX-512, or for a BatchNorm that is not in eval mode).
    let kernel: BlockedNormalizedPointwise?

    init(_ call: GraphCall) throws {
        var (normalizationNode, convolutionNode) = try GraphNodePair.parts(
            of: call.node, prefix: GraphNormalizedPointwise.convolutionPrefix, firstSuffix: ".normalization")
        if case .tensors(let parts)? = normalizationNode.argument("input", at: 0),
            let index = normalizationNode.arguments.firstIndex(where: { $0.name == "input" })
        {
            let node = GraphNormalizedPointwise.concatenation(of: parts, as: call.node.name + ".concatenation")
            normalizationNode.arguments[index].value = .tensor(node.outputs[0])
            concatenationNode = node
        } else {
            concatenationNode = nil
        }
        (self.normalizationNode, self.convolutionNode) = (normalizationNode, convolutionNode)
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
