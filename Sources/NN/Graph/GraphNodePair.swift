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
