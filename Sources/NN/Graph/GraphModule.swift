import Synchronization
import Tensor

/// A torch.export program run as a layer: its parameters and buffers are this module's state
/// under their state_dict names, and its forward interprets the graph node by node on zoo's
/// layers and kernels (the operator table in `GraphOperators.swift`).
///
/// The input must have a shape the program allows, as its guards require in PyTorch: the sizes
/// of the example it was exported with, except where it was exported with dynamic sizes (each
/// then within its recorded range). Every value's shape is evaluated from the input's before
/// the pass, and each node's result is checked against it: a program whose shapes do not follow
/// from its input is refused at the node where they part.
public final class GraphModule: ModuleBase, Layer {
    public let program: ExportedProgram
    private let stateNames: [String: String]
    /// The layers the nodes run on, made from the current weights on first use.
    private var layers: [Int: Module] = [:]
    /// The nodes as they run: fused, with the values each one is the last to read (GraphFusion.swift).
    private let fused: GraphFusion.Plan
    /// The values an `adaptive_avg_pool2d` to one pixel reads: a prepared convolution writing one
    /// of them takes its channel means in its SiLU pass, which the pooling then reads.
    private let pooledValues: Set<String>
    /// Each fused node's operations, looked up by target once rather than on every pass.
    private let operations:
        [(integer: GraphOperators.IntegerOperation?, blocked: GraphBlockedOperators.Operation?, plain: GraphOperators.Operation?)]

    /// Whether convolutions, residual adds and channel scalings pass their activations to each
    /// other in oneDNN's blocked layout (GraphBlockedOperators.swift), reordered to plain NCHW
    /// only for the nodes that read them so; false runs every node on plain tensors (the
    /// outputs are the same either way).
    public var keepsBlockedLayouts = true

    public init(program: ExportedProgram) throws {
        self.program = program
        var slots: [StateSlot] = []
        var stateNames: [String: String] = [:]
        for input in program.stateInputs {
            guard let shape = program.stateShape(of: input.argument) else {
                throw NNError.invalidProgram(reason: "no fixed shape recorded for \(input.stateName)")
            }
            let dtype = program.dtypes[input.argument] ?? .float32
            slots.append(
                input.isParameter
                    ? StateSlot(name: input.stateName, kind: .parameter, shape: shape, dtype: dtype, initialisation: .constant(0))
                    : StateSlot(name: input.stateName, kind: .buffer, shape: shape, dtype: dtype, initialisation: .constant(0)))
            stateNames[input.argument] = input.stateName
        }
        self.stateNames = stateNames
        fused = GraphFusion.plan(program)
        pooledValues = Set(
            fused.nodes.filter { $0.target == "aten.adaptive_avg_pool2d.default" && Self.poolsToOnePixel($0) }.compactMap {
                GraphFusion.tensorNames($0).first
            })
        operations = fused.nodes.map { node in
            (
                GraphOperators.integerTable[node.target], GraphBlockedOperators.table[node.target],
                GraphOperators.table[node.target] ?? GraphFusion.table[node.target]
            )
        }
        super.init(state: slots)
        // Every operator is checked now, so that an unknown one is named before any data is read.
        for node in program.nodes where GraphOperators.table[node.target] == nil && GraphOperators.integerTable[node.target] == nil {
            throw NNError.unsupportedOperator(target: node.target, node: node.name)
        }
        try Self.checkOrder(program)
    }

    /// Every value a node uses is the input, a parameter or buffer, or the output of an earlier
    /// node: a value nothing computes is refused by name, and so is a node that uses its own or a
    /// later node's output (a cycle, which an interpreter running in order could never finish).
    private static func checkOrder(_ program: ExportedProgram) throws {
        var known = Set(program.userInputs + program.stateInputs.map(\.argument))
        let later = Set(program.nodes.flatMap(\.outputs))
        for node in program.nodes {
            for (_, argument) in node.arguments {
                for name in argument.valueNames where !known.contains(name) {
                    throw NNError.invalidProgram(
                        reason: later.contains(name)
                            ? "node '\(node.name)' uses '\(name)' before it is computed (a cycle)"
                            : "node '\(node.name)' uses '\(name)', which nothing in the program computes")
                }
            }
            known.formUnion(node.outputs)
        }
        for output in program.outputs where !known.contains(output) {
            throw NNError.invalidProgram(reason: "the output '\(output)' is never computed")
        }
    }

    /// Whether an `adaptive_avg_pool2d` node's output size is 1 (or 1 x 1).
    private static func poolsToOnePixel(_ node: ExportedProgram.Node) -> Bool {
        switch node.argument("output_size", at: 1) {
        case .int(1)?: true
        case .ints(let sizes)?: !sizes.isEmpty && sizes.allSatisfy { $0 == 1 }
        default: false
        }
    }

    public override func stateDidChange() {
        layers.removeAll()
        passCache.withLock { $0.stateValues = nil }
        preparedNodes.withLock { $0.removeAll() }
    }

    /// A fused convolution node as it ran last, resolved for its input's shape and run directly
    /// on later passes while the input has that shape and layout: from a blocked input to a
    /// blocked output (``PreparedConvolution``), or a 1x1 convolution of one-pixel planes on the
    /// streamed product (a squeeze-and-excitation block's, on the node's layer in `layers`).
    private enum PreparedNode: Sendable {
        case blocked(input: String, PreparedConvolution)
        case product(input: String, shape: [Int], epilogue: ConvolutionEpilogue?)
        /// A node on one of zoo's own kernels (a depthwise convolution, a fused pair), taking its
        /// output's channel means for a pooling when `keepsMeans`.
        case kernel(input: String, shape: [Int], any BlockedKernel, keepsMeans: Bool)

        /// The node's output, or nil when its input is not what it was prepared for.
        func run(_ values: GraphLayoutValues, layer: Module?) throws -> LayoutValue? {
            switch self {
            case .blocked(let input, let convolution):
                guard case .blocked(let value)? = values[input], let output = try convolution.run(value) else { return nil }
                return .blocked(output)
            case .kernel(let input, let shape, let kernel, let keepsMeans):
                guard case .blocked(let value)? = values[input], value.shape == shape else { return nil }
                return .blocked(try kernel.run(value, keepingMeans: keepsMeans))
            case .product(let input, let shape, let epilogue):
                guard case .plain(let value)? = values[input], value.shape == shape, let layer = layer as? Conv2d,
                    let output = layer.onePixelProduct(value, epilogue: epilogue)
                else { return nil }
                return .plain(output)
            }
        }
    }
    private let preparedNodes = Mutex<[Int: PreparedNode]>([:])

    /// How many prepared convolutions take their output's channel means for a pooling (tests).
    var preparedConvolutionsKeepingChannelMeans: Int {
        preparedNodes.withLock {
            $0.values.count {
                switch $0 {
                case .blocked(_, let convolution): convolution.keepsChannelMeans
                case .kernel(_, _, _, let keepsMeans): keepsMeans
                case .product: false
                }
            }
        }
    }

    /// The prepared form of a convolution node (fused or not) with no residual that just ran on `layer`
    /// (``PreparedNode``); nil for any other node or path.
    private func prepare(_ node: ExportedProgram.Node, call: GraphCall, layer: Module?, output: LayoutValue, values: GraphLayoutValues)
        -> PreparedNode?
    {
        let pooled = node.outputs.first.map(pooledValues.contains) ?? false
        // A fused pair that ran on zoo's kernel (its layer has one where the kernel runs).
        let pairKernel: (any BlockedKernel)? =
            switch layer {
            case let pair as PointwiseDepthwiseLayer: pair.kernel
            case let pair as NormalizedPointwiseLayer: pair.kernel
            default: nil
            }
        if let pairKernel, case .tensor(let input)? = call.argument("input", 0), case .blocked(let value)? = values[input],
            case .blocked = output
        {
            return .kernel(input: input, shape: value.shape, pairKernel, keepsMeans: pooled)
        }
        // A convolution left unfused (DenseNet's 3x3 ones, read only by concatenations) runs as a
        // fused one with no epilogue does (GraphBlockedOperators.convolution).
        guard node.target == GraphFusion.convolutionTarget || node.target == "aten.conv2d.default", let layer = layer as? Conv2d,
            call.argument("residual", GraphFusion.byName) == nil, case .tensor(let input)? = call.argument("input", 0)
        else { return nil }
        let epilogue = GraphFusion.fusedEpilogue(call)
        switch (values[input], output) {
        case (.blocked(let value)?, .blocked):
            if let kernel = layer.depthwiseKernel(epilogue: epilogue) {
                return .kernel(input: input, shape: value.shape, kernel, keepsMeans: pooled)
            }
            guard let prepared = layer.preparedForward(for: value, epilogue: epilogue) else { return nil }
            return .blocked(input: input, pooled ? prepared.keepingChannelMeans() : prepared)
        case (.plain(let value)?, .plain) where layer.runsAsProduct(value.shape):
            return .product(input: input, shape: value.shape, epilogue: epilogue)
        default: return nil
        }
    }

    /// What passes keep between them, locked because a layer may run on several threads at once:
    /// the parameters and buffers by their graph names, until they change, and the recorded shape
    /// of each fused node's outputs for the last input shape (evaluated once per input shape).
    private struct PassCache {
        var stateValues: [String: Tensor]?
        var recordedShapes: (input: [Int], outputs: [[[Int]?]])?
    }
    private let passCache = Mutex(PassCache())

    /// Each fused node's outputs' recorded shapes for an input of `shape` (which must satisfy
    /// the program's guards: ``ExportedProgram/sizeBindings(for:)``).
    private func recordedShapes(for shape: [Int]) throws -> [[[Int]?]] {
        if let last = passCache.withLock({ $0.recordedShapes }), last.input == shape { return last.outputs }
        let bindings = try program.sizeBindings(for: shape)
        let outputs = fused.nodes.map { node in node.outputs.map { program.shape(of: $0, bindings: bindings) } }
        passCache.withLock { $0.recordedShapes = (shape, outputs) }
        return outputs
    }

    /// The parameters and buffers by their graph names (made once per weights).
    private func stateValues() -> [String: Tensor] {
        if let known = passCache.withLock({ $0.stateValues }) { return known }
        let made = Dictionary(uniqueKeysWithValues: zip(program.stateInputs.map(\.argument), stateSlots.map { self[$0] }))
        passCache.withLock { $0.stateValues = made }
        return made
    }

    /// The ATen operators zoo runs in a program, sorted (the README lists these; a test keeps
    /// the two equal).
    public static var supportedOperators: [String] { (Array(GraphOperators.table.keys) + Array(GraphOperators.integerTable.keys)).sorted() }

    public func forward(_ input: Tensor) throws -> Tensor { try forwardAll(input)[0] }

    /// Every output of the program, in its order (a model returning a dict has one per key:
    /// ``ExportedProgram/outputNames``).
    public func forwardAll(_ input: Tensor) throws -> [Tensor] {
        let recorded = try recordedShapes(for: input.shape)
        let state = stateValues()
        let values = GraphLayoutValues([program.userInputs[0]: input], state: state)
        var integers: [String: Int] = [:]
        /// Checks a computed shape against the recorded shape of the node's output `name`.
        func check(_ name: String, _ shape: [Int], _ node: ExportedProgram.Node, _ index: Int) throws {
            let output = node.outputs.firstIndex(of: name) ?? 0
            if let expected = recorded[index][output], expected != shape {
                throw NNError.invalidProgram(
                    reason: "node '\(node.name)' (\(node.target)) computes '\(name)' of shape \(shape), "
                        + "where the program records \(expected) for this input")
            }
        }
        for (index, node) in fused.nodes.enumerated() {
            defer { for name in fused.lastUses[index] { values.remove(name) } }
            let (integerOperation, blockedOperation, plainOperation) = operations[index]
            if let operation = integerOperation {
                let call = GraphCall(node: node, values: values, integers: integers, stateNames: stateNames, cached: nil)
                let value = try operation(call)
                if let name = node.outputs.first { integers[name] = value }
                continue
            }
            if keepsBlockedLayouts, let operation = blockedOperation, let name = node.outputs.first {
                if let prepared = preparedNodes.withLock({ $0[index] }), let output = try prepared.run(values, layer: layers[index]) {
                    try check(name, output.shape, node, index)
                    values.store(output, as: name)
                    continue
                }
                let call = GraphCall(node: node, values: values, integers: integers, stateNames: stateNames, cached: layers[index])
                if let (output, layer) = try operation(
                    GraphBlockedOperators.Call(call: call, lastUses: fused.lastUses[index]))
                {
                    if let layer, layers[index] !== layer { layers[index] = layer }
                    if let prepared = prepare(node, call: call, layer: layer, output: output, values: values) {
                        preparedNodes.withLock { $0[index] = prepared }
                    }
                    try check(name, output.shape, node, index)
                    values.store(output, as: name)
                    continue
                }
            }
            for name in GraphFusion.tensorNames(node) { try values.makePlain(name) }
            guard let operation = plainOperation else {
                throw NNError.unsupportedOperator(target: node.target, node: node.name)
            }
            let call = GraphCall(node: node, values: values, integers: integers, stateNames: stateNames, cached: layers[index])
            let (outputs, layer) = try operation(call)
            if let layer, layers[index] !== layer { layers[index] = layer }
            for (name, value) in zip(node.outputs, outputs) where !name.isEmpty {
                try check(name, value.shape, node, index)
                values.store(value, as: name)
            }
        }
        return try program.outputs.map { name in
            try values.makePlain(name)
            guard let output = values.tensor(name) else { throw NNError.invalidProgram(reason: "the output \(name) is never computed") }
            return output
        }
    }

    public func outputShape(for shape: [Int]) throws -> [Int] {
        let bindings = try program.sizeBindings(for: shape)
        guard let output = program.shape(of: program.outputs[0], bindings: bindings) else {
            throw NNError.invalidProgram(reason: "the output's recorded shape cannot be evaluated for the input \(shape)")
        }
        return output
    }

    /// The input and every value the graph computes (a bound: values die as their last user runs).
    public func activationBytes(for shape: [Int]) throws -> Int {
        let bindings = try program.sizeBindings(for: shape)
        let computed = program.nodes.flatMap(\.outputs).compactMap { program.shape(of: $0, bindings: bindings) }
        return saturatingSum(float32Bytes(shape), computed.map(float32Bytes).reduce(0) { saturatingSum($0, $1) })
    }
}
