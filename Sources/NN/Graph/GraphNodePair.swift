import Tensor

/// Two nodes fused into one, the second the sole reader of the first's output
/// (``GraphPointwiseDepthwise``, ``GraphNormalizedPointwise``, ``GraphScaledPointwise``): the fused node carries the first
/// node's arguments, and the second's under a prefix, its `input` naming the intermediate value
/// as `.other` (no node computes it, and the fused kernel never makes it). When the fused kernel
/// cannot run, the two nodes run one after the other as they would unfused (``parts(of:prefix:firstSuffix:)``).
enum GraphNodePair {
    /// The fused node of `first` and `second` (which reads `first`'s output), placed where `second` was.
    static func node(target: String, first: ExportedProgram.Node, second: ExportedProgram.Node, prefix: String) -> ExportedProgram.Node {
        ExportedProgram.Node(
            target: target, name: second.name,
            arguments: first.arguments
                + second.arguments.map { argument in
                    // The intermediate value is named, not read: no node computes it.
                    guard argument.name == "input", case .tensor(let middle) = argument.value else {
                        return (prefix + argument.name, argument.value)
                    }
                    return (prefix + argument.name, .other(middle))
                },
            outputs: second.outputs)
    }

    /// The two nodes `node` was made of, the first named with `firstSuffix` after the fused node's name.
    static func parts(of node: ExportedProgram.Node, prefix: String, firstSuffix: String) throws -> (
        first: ExportedProgram.Node, second: ExportedProgram.Node
    ) {
        let firstArguments = node.arguments.filter { !$0.name.hasPrefix(prefix) }
        let secondArguments = node.arguments.filter { $0.name.hasPrefix(prefix) }.map {
            (name: String($0.name.dropFirst(prefix.count)), value: $0.value)
        }
        guard case .other(let middle)? = secondArguments.first(where: { $0.name == "input" })?.value else {
            throw NNError.invalidProgram(reason: "node '\(node.name)' (\(node.target)) lacks its \(prefix)input")
        }
        return (
            ExportedProgram.Node(target: node.target, name: node.name + firstSuffix, arguments: firstArguments, outputs: [middle]),
            ExportedProgram.Node(
                target: node.target, name: node.name,
                arguments: secondArguments.map { $0.name == "input" ? ("input", .tensor(middle)) : $0 }, outputs: node.outputs)
        )
    }

    /// A convolution node's weight shape, when recorded with 4 fixed sizes.
    static func weightShape(_ node: ExportedProgram.Node, shapes: [String: [ShapeExpression]]) -> [Int]? {
        guard case .tensor(let name)? = node.argument("weight", at: 1), let shape = shapes[name] else { return nil }
        let sizes = shape.compactMap { $0.evaluate([:]) }
        return sizes.count == 4 && shape.count == 4 ? sizes : nil
    }

    /// A convolution node's pair argument (stride, padding, dilation) as two sizes, `fallback`
    /// twice when absent; nil when of another form.
    static func pair(_ node: ExportedProgram.Node, _ name: String, _ fallback: Int) -> [Int]? {
        switch node.argument(name, at: Int.max) {
        case nil, .none?: [fallback, fallback]
        case .ints(let values)? where values.count == 1: [values[0], values[0]]
        case .ints(let values)? where values.count == 2: values
        case .int(let value)?: [value, value]
        default: nil
        }
    }

    /// A convolution node's groups (1 when absent); nil when of another form.
    static func groups(_ node: ExportedProgram.Node) -> Int? {
        switch node.argument("groups", at: Int.max) {
        case nil, .none?: 1
        case .int(let value)?: value
        default: nil
        }
    }

    /// Whether a fused convolution node is a 1x1, stride-1, unpadded, undilated, ungrouped
    /// convolution of `weight` shape, with no residual unless `residual`.
    static func isPointwise(_ node: ExportedProgram.Node, weight: [Int], residual: Bool = false) -> Bool {
        weight[2...] == [1, 1] && groups(node) == 1 && pair(node, "stride", 1) == [1, 1] && pair(node, "padding", 0) == [0, 0]
            && pair(node, "dilation", 1) == [1, 1] && (residual || node.argument("residual", at: Int.max) == nil)
    }
}

extension GraphCall {
    /// A call of `node`, one of a fused pair's two, on `layer` (a new one when nil), with this
    /// call's values.
    func part(_ node: ExportedProgram.Node, on layer: Module?) -> GraphCall {
        GraphCall(node: node, values: values, integers: integers, stateNames: stateNames, cached: layer)
    }
}

/// One of a fused node's parts run apart: the part's node, its layer (a new one when nil) and the
/// operator that runs it.
typealias GraphPart<Operation> = (node: ExportedProgram.Node, layer: Module?, operation: Operation)

extension GraphCall {
    /// A fused node's `parts` on plain tensors, one after the other as they ran unfused: each
    /// part's output but the last stored under its name until the last part has run. The last
    /// part's outputs.
    func runApart(_ parts: [GraphPart<GraphOperators.Operation>]) throws -> [Tensor] {
        var stored: [String] = []
        defer { for name in stored { values.remove(name) } }
        var outputs: [Tensor] = []
        for (index, step) in parts.enumerated() {
            outputs = try step.operation(part(step.node, on: step.layer)).outputs
            guard index < parts.count - 1 else { break }
            values.store(outputs[0], as: step.node.outputs[0])
            stored.append(step.node.outputs[0])
        }
        return outputs
    }
}

extension GraphBlockedOperators.Call {
    /// A fused node's `parts` as their blocked operators run them, one after the other, as
    /// ``GraphCall/runApart(_:)`` runs them on plain tensors (the last part is the last to read
    /// this node's values, and the parts' outputs); nil when an operator declines.
    func runApart(_ parts: [GraphPart<GraphBlockedOperators.Operation>]) throws -> LayoutValue? {
        var stored: [String] = []
        defer { for name in stored { call.values.remove(name) } }
        for (index, step) in parts.enumerated() {
            let last = index == parts.count - 1
            let partCall = GraphBlockedOperators.Call(call: call.part(step.node, on: step.layer), lastUses: last ? lastUses + stored : [])
            guard let (output, _) = try step.operation(partCall) else { return nil }
            if last { return output }
            call.values.store(output, as: step.node.outputs[0])
            stored.append(step.node.outputs[0])
        }
        return nil
    }
}

extension GraphOperators {
    /// The plain operator for `target`, which a fused node's part names.
    static func operation(_ target: String, for node: ExportedProgram.Node) throws -> Operation {
        guard let operation = GraphOperators.table[target] ?? GraphFusion.table[target] else {
            throw NNError.unsupportedOperator(target: target, node: node.name)
        }
        return operation
    }
}
