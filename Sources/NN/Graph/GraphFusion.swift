import Tensor

/// The graph programs' counterpart of ``InferenceFusion``: a pass over a program's nodes that
/// rewrites chains of element-wise work into single nodes with fewer passes over the
/// activations, and that says where each value is used for the last time.
///
/// - `conv2d` -> eval `batch_norm` -> activation (each value used once): one convolution whose
///   weights and bias have the BatchNorm folded in (in double precision, once per weights) and
///   whose activation (ReLU, hardtanh/ReLU6, SiLU, sigmoid, hardswish) oneDNN applies as a post-op. Folding changes
///   the rounding of the products, well within the graph parity rule (1e-4 x max(1, max|y|)).
/// - `conv2d` -> activation: the activation as the convolution's post-op.
/// - `conv2d` (-> eval `batch_norm`) -> `add` of a residual of the same shape (-> activation): the
///   residual added in the convolution's pass (oneDNN's `sum` post-op, before the activation),
///   the fused node placed where the add was. The float operations are the unfused ones:
///   `(conv + bias) + residual`, then the activation.
/// - a fused 1x1 convolution whose output only a fused 3x3 depthwise convolution reads (stride 1
///   or 2, padding 1; ReLU, ReLU6 or no activation on either), and where zoo's kernel runs also a
///   5x5 one and SiLU: one node, run row by row on zoo's kernel, else as one oneDNN call with the
///   depthwise convolution as the 1x1's post-op (``GraphPointwiseDepthwise``).
/// - eval `batch_norm` -> `relu` (DenseNet's pre-activation): one pass; and when only a 1x1
///   convolution reads it, where zoo's kernel runs, one node with the convolution
///   (``GraphNormalizedPointwise``), which also reads a channel `cat` it alone reads as its parts,
///   where they lie, so that the `cat` is not made.
/// - `add` of equal shapes -> `relu` (a ResNet block's tail): one pass.
/// - `mul` of `(N, C, H, W)` by `(N, C, 1, 1)` (squeeze-and-excitation): a per-plane scale rather
///   than a broadcast walk; and when only a 1x1 convolution reads it (with a residual or not),
///   where zoo's kernel runs, one node with the convolution (``GraphScaledPointwise``).
/// - a channel `cat` whose parts begin a later `cat`'s parts (DenseNet's blocks, where zoo's
///   normalized 1x1 kernel does not read them in place): annotated with the channels the longest
///   such `cat` reaches, so that one sample's blocks are laid out once and each later `cat`
///   appends its new parts (densenet121 b1: 34.6 -> 32.4 ms a pass).
///
/// Fused nodes carry targets in the `zoo.` namespace, which no exported program uses, and run
/// from ``table``. Each rewrite checks the values it removes have no other user, so the program
/// computes the same outputs.
enum GraphFusion {
    /// The program's nodes after fusion, and for each node the values that nothing after it reads.
    struct Plan {
        var nodes: [ExportedProgram.Node]
        var lastUses: [[String]]
    }

    static let table: [String: GraphOperators.Operation] = [
        convolutionTarget: fusedConvolution, "zoo.batch_norm_relu": batchNormThenReLU, "zoo.add_relu": addThenReLU,
        "zoo.scale_channels": scaleChannels, GraphPointwiseDepthwise.target: GraphPointwiseDepthwise.plain,
        GraphNormalizedPointwise.target: GraphNormalizedPointwise.plain, GraphScaledPointwise.target: GraphScaledPointwise.plain,
    ]

    /// The index that makes ``GraphCall``'s lookups go by name only (the fused nodes' own arguments
    /// come after the operator's positional ones).
    static let byName = Int.max
    static let convolutionTarget = "zoo.conv2d_epilogue"
    private static let convolutionArguments: [(name: String, fallback: ExportedProgram.Argument)] = [
        ("input", .none), ("weight", .none), ("bias", .none), ("stride", .ints([1])), ("padding", .ints([0])),
        ("dilation", .ints([1])), ("groups", .int(1)),
    ]
    private static let batchNormArguments = ["input", "weight", "bias", "running_mean", "running_var", "training", "momentum", "eps"]

    /// The fused plan of `program`; its outputs are the program's.
    static func plan(_ program: ExportedProgram) -> Plan {
        var nodes = program.nodes
        var users: [String: [Int]] = [:]
        for (index, node) in nodes.enumerated() {
            for name in tensorNames(node) { users[name, default: []].append(index) }
        }
        let outputs = Set(program.outputs)
        /// The one node that reads `value`, when exactly one does and it is not a program output.
        func soleUser(_ value: String) -> Int? {
            guard !outputs.contains(value), let readers = users[value], readers.count == 1 else { return nil }
            return readers[0]
        }
        func soleOutput(_ node: ExportedProgram.Node) -> String? { node.outputs.count == 1 ? node.outputs[0] : nil }
        var removed = Set<Int>()
        for index in nodes.indices where !removed.contains(index) {
            let node = nodes[index]
            guard let output = soleOutput(node) else { continue }
            switch node.target {
            case "aten.conv2d.default":
                var arguments = convolutionArguments.enumerated().map { ($1.name, node.argument($1.name, at: $0) ?? $1.fallback) }
                var last = output
                if let next = soleUser(last), isEvalBatchNorm(nodes[next], input: last), let normOutput = soleOutput(nodes[next]) {
                    arguments += batchNormArguments.dropFirst().enumerated().map { offset, name in
                        ("norm_" + name, nodes[next].argument(name, at: offset + 1) ?? .none)
                    }
                    removed.insert(next)
                    last = normOutput
                }
                // The fused node runs where the residual add ran: the residual may be computed
                // after the convolution (torchvision's downsample branch is).
                var position = index
                if let next = soleUser(last), let residual = residual(nodes[next], adding: last, shapes: program.shapes),
                    let sum = soleOutput(nodes[next])
                {
                    arguments.append(("residual", .tensor(residual)))
                    position = next
                    last = sum
                }
                if let next = soleUser(last), let activation = activation(nodes[next], input: last), let activated = soleOutput(nodes[next])
                {
                    arguments.append(("activation", activation))
                    removed.insert(next)
                    last = activated
                }
                guard last != output else { continue }
                if position != index { removed.insert(index) }
                nodes[position] = ExportedProgram.Node(target: convolutionTarget, name: node.name, arguments: arguments, outputs: [last])
            case "aten.batch_norm.default":
                guard let next = soleUser(output), isEvalBatchNorm(node, input: nil), isReLU(nodes[next], input: output),
                    let activated = soleOutput(nodes[next])
                else { continue }
                nodes[index] = ExportedProgram.Node(
                    target: "zoo.batch_norm_relu", name: node.name,
                    arguments: batchNormArguments.enumerated().map { ($1, node.argument($1, at: $0) ?? .none) }, outputs: [activated])
                removed.insert(next)
            case "aten.add.Tensor", "aten.add_.Tensor":
                guard case .tensor(let a)? = node.argument("self", at: 0), case .tensor(let b)? = node.argument("other", at: 1),
                    let shape = program.shapes[a], !shape.isEmpty, shape == program.shapes[b],
                    isDefault(node.argument("alpha", at: 2), 1),
                    let next = soleUser(output), isReLU(nodes[next], input: output), let activated = soleOutput(nodes[next])
                else { continue }
                nodes[index] = ExportedProgram.Node(
                    target: "zoo.add_relu", name: node.name, arguments: [("self", .tensor(a)), ("other", .tensor(b))], outputs: [activated])
                removed.insert(next)
            case "aten.mul.Tensor":
                guard case .tensor(let a)? = node.argument("self", at: 0), case .tensor(let b)? = node.argument("other", at: 1),
                    let (planes, scales) = channelScale(program.shapes[a], program.shapes[b]).map({ $0 ? (a, b) : (b, a) })
                else { continue }
                nodes[index] = ExportedProgram.Node(
                    target: "zoo.scale_channels", name: node.name, arguments: [("self", .tensor(planes)), ("scales", .tensor(scales))],
                    outputs: node.outputs)
            default: continue
            }
        }
        /// Each node whose target is in `consumers` and whose input is the one output of a node
        /// `isProducer` accepts, read by nothing else, becomes `fuse(producer, node)` in its place
        /// when that gives a node; the producer goes.
        func fuseInputs(
            producedBy isProducer: (ExportedProgram.Node) -> Bool, into consumers: Set<String>,
            _ fuse: (ExportedProgram.Node, ExportedProgram.Node) -> ExportedProgram.Node?
        ) {
            var producers: [String: Int] = [:]
            for index in nodes.indices where !removed.contains(index) && isProducer(nodes[index]) {
                if let output = soleOutput(nodes[index]) { producers[output] = index }
            }
            for index in nodes.indices where !removed.contains(index) && consumers.contains(nodes[index].target) {
                guard case .tensor(let input)? = nodes[index].argument("input", at: 0), let producer = producers[input],
                    !removed.contains(producer), soleUser(input) != nil, let fused = fuse(nodes[producer], nodes[index])
                else { continue }
                nodes[index] = fused
                removed.insert(producer)
            }
        }
        // A 1x1 convolution whose output only a 3x3 depthwise convolution reads: one node
        // (GraphPointwiseDepthwise.swift), placed where the depthwise one was.
        fuseInputs(producedBy: { $0.target == convolutionTarget }, into: [convolutionTarget]) { pointwise, depthwise in
            GraphPointwiseDepthwise.fuses(
                pointwise: pointwise, depthwise: depthwise, shapes: program.shapes, activation: convolutionActivation)
                ? GraphPointwiseDepthwise.node(pointwise: pointwise, depthwise: depthwise) : nil
        }
        // A BatchNorm and ReLU whose output only a 1x1 convolution reads: one node
        // (GraphNormalizedPointwise.swift), placed where the convolution was.
        fuseInputs(producedBy: { $0.target == "zoo.batch_norm_relu" }, into: [convolutionTarget, "aten.conv2d.default"]) {
            normalization, convolution in
            GraphNormalizedPointwise.fuses(
                normalization: normalization, convolution: convolution, shapes: program.shapes, activation: convolutionActivation)
                ? GraphNormalizedPointwise.node(normalization: normalization, convolution: convolution) : nil
        }
        // A squeeze-and-excitation scale whose output only a 1x1 convolution reads: one node
        // (GraphScaledPointwise.swift), placed where the convolution was (or its residual add).
        fuseInputs(producedBy: { $0.target == "zoo.scale_channels" }, into: [convolutionTarget]) { scale, convolution in
            GraphScaledPointwise.fuses(scale: scale, convolution: convolution, shapes: program.shapes, activation: convolutionActivation)
                ? GraphScaledPointwise.node(scale: scale, convolution: convolution) : nil
        }
        // A channel concatenation read only by such a normalized node (DenseNet's layers and
        // transitions concatenate the block's features so far, the first layer a list of one):
        // the node reads the parts where they lie, and the concatenation is not made.
        fuseInputs(producedBy: { channelParts($0, least: 1) != nil }, into: [GraphNormalizedPointwise.target]) { concatenation, node in
            channelParts(concatenation, least: 1).map { GraphNormalizedPointwise.node(node, readingParts: $0) }
        }
        var kept = nodes.indices.filter { !removed.contains($0) }.map { nodes[$0] }
        annotateGrowingConcatenations(&kept, shapes: program.shapes)
        return Plan(nodes: kept, lastUses: lastUses(kept, outputs: outputs, state: Set(program.stateInputs.map(\.argument))))
    }

    /// The name of the argument that tells a channel `cat` how many channels later `cat`s of the
    /// same parts and more will reach (see ``annotateGrowingConcatenations(_:shapes:)``).
    static let channelCapacityArgument = "zoo_channel_capacity"

    /// DenseNet's blocks concatenate a growing list, `cat([x0, f1])`, `cat([x0, f1, f2])`, ...:
    /// copied whole each time, the block's early features are copied once per later layer. A
    /// channel `cat` whose parts begin a later channel `cat`'s parts is given the channels the
    /// longest such `cat` has, so that one sample's blocked values can be laid out once in a
    /// buffer of that size and each later `cat` appends its new parts only
    /// (``GraphLayoutValues/growingConcatenation(of:parts:capacity:)``).
    private static func annotateGrowingConcatenations(_ nodes: inout [ExportedProgram.Node], shapes: [String: [ShapeExpression]]) {
        let concatenations = nodes.indices.compactMap { index in channelParts(nodes[index]).map { (index, $0) } }
        for (position, (index, parts)) in concatenations.enumerated() {
            let longest = concatenations[(position + 1)...].filter { $0.1.count > parts.count && Array($0.1.prefix(parts.count)) == parts }
                .max { $0.1.count < $1.1.count }
            guard let longest, let channels = shapes[nodes[longest.0].outputs[0]].flatMap({ $0.count == 4 ? $0[1].evaluate([:]) : nil })
            else { continue }
            nodes[index].arguments.append((channelCapacityArgument, .int(channels)))
        }
    }

    /// The parts of a `cat` of `least` or more values along the channels (dim 1 or -3); nil for
    /// any other node.
    private static func channelParts(_ node: ExportedProgram.Node, least: Int = 2) -> [String]? {
        guard node.target == "aten.cat.default", node.arguments.count == 2, node.outputs.count == 1,
            case .tensors(let names)? = node.argument("tensors", at: 0), names.count >= least,
            case .int(let dim)? = node.argument("dim", at: 1), dim == 1 || dim == -3
        else { return nil }
        return names
    }

    /// For each node, the values it reads that no later node reads (program outputs never, nor
    /// parameters and buffers, which the pass does not hold: looking each one up to remove it
    /// cost mobilenet_v2 70 µs a pass at batch 1).
    private static func lastUses(_ nodes: [ExportedProgram.Node], outputs: Set<String>, state: Set<String>) -> [[String]] {
        var last: [String: Int] = [:]
        for (index, node) in nodes.enumerated() {
            for name in tensorNames(node) { last[name] = index }
        }
        var dying = [[String]](repeating: [], count: nodes.count)
        for (name, index) in last where !outputs.contains(name) && !state.contains(name) { dying[index].append(name) }
        return dying
    }

    static func tensorNames(_ node: ExportedProgram.Node) -> [String] {
        node.arguments.flatMap { argument -> [String] in
            switch argument.value {
            case .tensor(let name): [name]
            case .tensors(let names): names
            default: []
            }
        }
    }

    private static func isEvalBatchNorm(_ node: ExportedProgram.Node, input: String?) -> Bool {
        guard node.target == "aten.batch_norm.default", node.argument("training", at: 5) != .bool(true) else { return false }
        guard let input else { return true }
        return node.argument("input", at: 0) == .tensor(input)
    }

    private static func isReLU(_ node: ExportedProgram.Node, input: String) -> Bool {
        ["aten.relu.default", "aten.relu_.default"].contains(node.target) && node.argument("self", at: 0) == .tensor(input)
    }

    private static func isDefault(_ argument: ExportedProgram.Argument?, _ value: Double) -> Bool {
        switch argument {
        case nil, .none?: true
        case .int(let given)?: Double(given) == value
        case .float(let given)?: given == value
        default: false
        }
    }

    /// The other operand of `node` when it is `value + other` (either order, alpha 1) of two values
    /// recorded with one rank-4 shape; nil otherwise.
    private static func residual(_ node: ExportedProgram.Node, adding value: String, shapes: [String: [ShapeExpression]]) -> String? {
        guard ["aten.add.Tensor", "aten.add_.Tensor"].contains(node.target), isDefault(node.argument("alpha", at: 2), 1),
            case .tensor(let a)? = node.argument("self", at: 0), case .tensor(let b)? = node.argument("other", at: 1), a != b,
            a == value || b == value
        else { return nil }
        let other = a == value ? b : a
        guard let shape = shapes[value], shape.count == 4, shape == shapes[other] else { return nil }
        return other
    }

    /// The activation `node` applies to `input`, as the fused node's argument; nil when it is not one
    /// a convolution can take.
    private static func activation(_ node: ExportedProgram.Node, input: String) -> ExportedProgram.Argument? {
        guard node.argument("self", at: 0) == .tensor(input) else { return nil }
        switch node.target {
        case "aten.relu.default", "aten.relu_.default": return .other("relu")
        case "aten.silu.default", "aten.silu_.default": return .other("silu")
        case "aten.sigmoid.default", "aten.sigmoid_.default": return .other("sigmoid")
        case "aten.hardswish.default", "aten.hardswish_.default": return .other("hardswish")
        case "aten.hardtanh.default", "aten.hardtanh_.default":
            let number = { (argument: ExportedProgram.Argument?, fallback: Double) -> Double? in
                switch argument {
                case nil, .none?: fallback
                case .float(let value)?: value
                case .int(let value)?: Double(value)
                default: nil
                }
            }
            guard let low = number(node.argument("min_val", at: 1), -1), let high = number(node.argument("max_val", at: 2), 1) else {
                return nil
            }
            return .floats([low, high])
        default: return nil
        }
    }

    /// Whether `a` is the `(N, C, H, W)` operand and `b` the `(N, C, 1, 1)` one (true), the other
    /// way round (false), or neither (nil).
    /// Which of two recorded shapes is `(N, C, H, W)` and which its `(N, C, 1, 1)` scales (sizes
    /// compared as expressions; the fused operator checks the actual shapes again).
    private static func channelScale(_ a: [ShapeExpression]?, _ b: [ShapeExpression]?) -> Bool? {
        guard let a, let b, a.count == 4, b.count == 4 else { return nil }
        func scales(_ planes: [ShapeExpression], _ scales: [ShapeExpression]) -> Bool {
            scales[0] == planes[0] && scales[1] == planes[1] && scales[2] == .constant(1) && scales[3] == .constant(1)
                && !(planes[2] == .constant(1) && planes[3] == .constant(1))
        }
        if scales(a, b) { return true }
        if scales(b, a) { return false }
        return nil
    }

    static func convolutionActivation(_ argument: ExportedProgram.Argument?) -> ConvolutionActivation? {
        switch argument {
        case .other("relu")?: .relu
        case .other("silu")?: .silu
        case .other("sigmoid")?: .sigmoid
        case .other("hardswish")?: .hardswish
        case .floats(let bounds)? where bounds.count == 2: .clamp(low: Float(bounds[0]), high: Float(bounds[1]))
        default: nil
        }
    }

    // MARK: The fused operators

    /// A convolution with a BatchNorm folded into its weights and an activation as its post-op.
    static func fusedConvolution(_ call: GraphCall) throws -> ([Tensor], Module?) {
        let layer = try fusedConvolutionLayer(call)
        let input = try call.tensor("input", 0)
        guard let residual = try call.optionalTensor("residual", byName) else {
            return ([try layer.forward(input, epilogue: fusedEpilogue(call))], layer)
        }
        let activation = fusedActivation(call)
        let sum = try residualAdd(try layer.forward(input, epilogue: nil), residual, thenReLU: activation == .relu)
        guard let activation, activation != .relu else { return ([sum], layer) }
        return ([Tensor(shape: sum.shape, scalars: sum.scalars.map(activation.apply))], layer)
    }

    /// The fused node's Conv2d, its weights and bias with the BatchNorm folded in.
    static func fusedConvolutionLayer(_ call: GraphCall) throws -> Conv2d {
        let weight = try call.tensor("weight", 1)
        let bias = try call.optionalTensor("bias", 2)
        return try call.layer(
            {
                let layer = try GraphOperators.conv2dLayer(
                    call, weight: weight, bias: bias != nil || call.argument("norm_running_mean", byName) != nil)
                let (foldedWeight, foldedBias) = try folded(call, weight: weight, bias: bias)
                try layer.setLocalState("weight", to: foldedWeight)
                if let foldedBias { try layer.setLocalState("bias", to: foldedBias) }
                return layer
            }, state: [])
    }

    /// The fused node's activation, as the convolution's epilogue.
    static func fusedEpilogue(_ call: GraphCall) -> ConvolutionEpilogue? {
        fusedActivation(call).map { ConvolutionEpilogue(scale: nil, shift: nil, activation: $0) }
    }

    /// The fused node's activation (after its residual, when it has one).
    static func fusedActivation(_ call: GraphCall) -> ConvolutionActivation? { convolutionActivation(call.argument("activation", byName)) }

    /// The convolution's weight and bias with the node's BatchNorm folded in: `w * s` and
    /// `(b - mean) * s + beta`, `s = gamma / sqrt(var + eps)`, in double precision.
    private static func folded(_ call: GraphCall, weight: Tensor, bias: Tensor?) throws -> (Tensor, Tensor?) {
        guard call.argument("norm_running_mean", byName) != nil else { return (weight, bias) }
        let (mean, variance) = (try call.tensor("norm_running_mean", byName), try call.tensor("norm_running_var", byName))
        let (gamma, beta) = (try call.optionalTensor("norm_weight", byName), try call.optionalTensor("norm_bias", byName))
        let channels = weight.shape[0]
        guard mean.count == channels, variance.count == channels, gamma.map({ $0.count == channels }) ?? true,
            beta.map({ $0.count == channels }) ?? true
        else {
            throw NNError.inputShape(layer: "batch_norm after \(call.node.name)", expected: "\(channels) channels", got: mean.shape)
        }
        let eps = call.float("norm_eps", -1, default: 1e-5)
        let (m, v, g, b, bias) = (mean.scalars, variance.scalars, gamma?.scalars, beta?.scalars, bias?.scalars)
        let perChannel = weight.count / Swift.max(1, channels)
        var weights = weight.scalars
        var shifts = [Float](repeating: 0, count: channels)
        for c in 0..<channels {
            let scale = Double(g?[c] ?? 1) / (Double(v[c]) + eps).squareRoot()
            for index in (c * perChannel)..<((c + 1) * perChannel) { weights[index] = Float(Double(weights[index]) * scale) }
            shifts[c] = Float((Double(bias?[c] ?? 0) - Double(m[c])) * scale + Double(b?[c] ?? 0))
        }
        return (Tensor(shape: weight.shape, scalars: weights), Tensor(shape: [channels], scalars: shifts))
    }

    /// `relu(batch_norm(x))` in eval mode, one pass.
    static func batchNormThenReLU(_ call: GraphCall) throws -> ([Tensor], Module?) {
        let input = try call.tensor("input", 0)
        let layer = try batchNormLayer(call)
        guard input.rank == 4, input.shape[1] == layer.numFeatures, let map = layer.evalAffineMap else {
            return ([try ReLU()(try layer(input))], layer)
        }
        let epilogue = ConvolutionEpilogue(scale: map.scale, shift: map.shift, activation: .relu)
        return ([epilogue.applied(toPlanesOf: input)], layer)
    }

    /// The node's eval-mode BatchNorm2d with its statistics.
    static func batchNormLayer(_ call: GraphCall) throws -> BatchNorm2d {
        let (weight, bias) = (try call.optionalTensor("weight", 1), try call.optionalTensor("bias", 2))
        let (mean, variance) = (try call.tensor("running_mean", 3), try call.tensor("running_var", 4))
        return try call.layer(
            { try BatchNorm2d(numFeatures: mean.count, eps: call.float("eps", 7, default: 1e-5), affine: weight != nil) },
            state: [("weight", weight), ("bias", bias), ("running_mean", mean), ("running_var", variance)])
    }

    /// `relu(a + b)` for tensors of one shape, one pass.
    static func addThenReLU(_ call: GraphCall) throws -> ([Tensor], Module?) {
        ([try residualAdd(try call.tensor("self", 0), try call.tensor("other", 1), thenReLU: true)], nil)
    }

    /// `x * s` for `x` `(N, C, H, W)` and `s` `(N, C, 1, 1)`.
    static func scaleChannels(_ call: GraphCall) throws -> ([Tensor], Module?) {
        let (planes, scales) = (try call.tensor("self", 0), try call.tensor("scales", 1))
        guard planes.rank == 4, scales.shape == [planes.shape[0], planes.shape[1], 1, 1] else {
            return ([try GraphOperators.broadcast(planes, scales, layer: "aten.mul.Tensor", *)], nil)
        }
        return ([Tensor(shape: planes.shape, scalars: scalePlanes(planes.scalars, by: scales.scalars))], nil)
    }
}
