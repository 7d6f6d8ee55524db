import Tensor

/// One node's call: its arguments resolved against the values computed so far.
struct GraphCall {
    let node: ExportedProgram.Node
    /// The pass's values, looked up as the node asks for them (a dictionary snapshot here would
    /// be copied in full, weights included, when the pass next stores a value).
    let values: GraphLayoutValues
    /// The integers earlier nodes computed (sizes of a program with dynamic shapes).
    var integers: [String: Int] = [:]
    let stateNames: [String: String]
    /// The layer this node ran on last time, when the weights have not changed since.
    let cached: Module?

    func argument(_ name: String, _ index: Int) -> ExportedProgram.Argument? { node.argument(name, at: index) }

    func tensor(_ name: String, _ index: Int) throws -> Tensor {
        guard let value = try optionalTensor(name, index) else {
            throw NNError.invalidProgram(reason: "node '\(node.name)' (\(node.target)) lacks its tensor argument '\(name)'")
        }
        return value
    }

    /// A tensor argument, or a number where the program passes one (`x + 3`), as a rank-0 tensor
    /// that broadcasts.
    func tensorOrScalar(_ name: String, _ index: Int) throws -> Tensor {
        switch argument(name, index) {
        case .int(let value)?: return Tensor(shape: [], scalars: [Float(value)])
        case .float(let value)?: return Tensor(shape: [], scalars: [Float(value)])
        default: return try tensor(name, index)
        }
    }

    func optionalTensor(_ name: String, _ index: Int) throws -> Tensor? {
        guard case .tensor(let value) = argument(name, index) else { return nil }
        guard let tensor = values.tensor(value) else {
            throw NNError.invalidProgram(reason: "node '\(node.name)' uses '\(value)', which no earlier node computes")
        }
        return tensor
    }

    func ints(_ name: String, _ index: Int, default fallback: [Int]) throws -> [Int] {
        switch argument(name, index) {
        case .ints(let values)?: return values
        case .int(let value)?: return [value]
        case .symbolicInt(let value)?: return [try resolve(value)]
        case .symbolicInts(let values)?: return try values.map(resolve)
        default: return fallback
        }
    }

    func int(_ name: String, _ index: Int, default fallback: Int) throws -> Int {
        switch argument(name, index) {
        case .int(let value)?: return value
        case .symbolicInt(let value)?: return try resolve(value)
        default: return fallback
        }
    }

    private func resolve(_ value: ExportedProgram.SymbolicInt) throws -> Int {
        switch value {
        case .constant(let constant): return constant
        case .name(let name):
            guard let computed = integers[name] else {
                throw NNError.invalidProgram(reason: "node '\(node.name)' uses the size '\(name)', which no earlier node computes")
            }
            return computed
        }
    }

    func float(_ name: String, _ index: Int, default fallback: Double) -> Double {
        switch argument(name, index) {
        case .float(let value)?: return value
        case .int(let value)?: return Double(value)
        default: return fallback
        }
    }

    func bool(_ name: String, _ index: Int, default fallback: Bool) -> Bool {
        if case .bool(let value)? = argument(name, index) { return value }
        return fallback
    }

    /// `[a]` or `[a, b]` as a pair, as ATen broadcasts one size to both axes.
    func pair(_ name: String, _ index: Int, default fallback: [Int]) throws -> IntPair {
        let values = try ints(name, index, default: fallback)
        return values.count == 1 ? IntPair(values[0], values[0]) : IntPair(values[0], values.count > 1 ? values[1] : values[0])
    }

    /// The cached layer of type `Kind`, or a new one from `make` with its state set from `state`.
    func layer<Kind: Layer>(_ make: () throws -> Kind, state: [(String, Tensor?)]) throws -> Kind {
        if let cached = cached as? Kind { return cached }
        let layer = try make()
        for (name, tensor) in state { if let tensor { try layer.setLocalState(name, to: tensor) } }
        layer.eval()
        return layer
    }
}

/// The ATen operators zoo runs, keyed by the program's target (`aten.conv2d.default`); each
/// returns its outputs and the layer it ran on (kept for the next pass). The table is also the
/// list of supported operators.
enum GraphOperators {
    typealias Operation = @Sendable (GraphCall) throws -> (outputs: [Tensor], layer: Module?)

    static let table: [String: Operation] = coreTable.merging(primaryTable) { _, primary in primary }

    /// The operators of a program as `torch.export.export` writes it (before decompositions).
    private static let primaryTable: [String: Operation] = [
        "aten.conv2d.default": convolution,
        "aten.conv_transpose2d.input": transposedConvolution,
        "aten.batch_norm.default": batchNorm,
        "aten.linear.default": linear,
        "aten.max_pool2d.default": maxPool,
        "aten.avg_pool2d.default": averagePool,
        "aten.adaptive_avg_pool2d.default": adaptiveAveragePool,
        "aten.flatten.using_ints": flatten,
        "aten.add.Tensor": addTensors, "aten.add_.Tensor": addTensors,
        "aten.mean.dim": meanOverAxes, "aten.mean.default": meanOverAxes,
        "aten.cat.default": concatenate,
        "aten.view.default": reshape, "aten.reshape.default": reshape, "aten._unsafe_view.default": reshape,
        "aten.relu.default": relu, "aten.relu_.default": relu,
        "aten.sigmoid.default": sigmoid, "aten.sigmoid_.default": sigmoid,
        "aten.tanh.default": tanh, "aten.tanh_.default": tanh,
        "aten.hardtanh.default": hardtanh, "aten.hardtanh_.default": hardtanh,
        "aten.mul.Tensor": multiply, "aten.mul_.Tensor": multiply, "aten.sub.Tensor": subtract,
        "aten.permute.default": permute, "aten.transpose.int": permute,
        "aten.chunk.default": split, "aten.split.Tensor": split,
        "aten.layer_norm.default": layerNorm,
        "aten.silu.default": silu, "aten.silu_.default": silu,
        "aten.hardswish.default": hardswish, "aten.hardswish_.default": hardswish,
        "aten.hardsigmoid.default": hardsigmoid, "aten.hardsigmoid_.default": hardsigmoid,
        "aten.gelu.default": gelu,
        "aten.leaky_relu.default": leakyReLU, "aten.leaky_relu_.default": leakyReLU,
        "aten.clamp.default": clamp, "aten.clamp_.default": clamp, "aten.prelu.default": prelu,
        "aten.softmax.int": softmax, "aten._softmax.default": softmax, "aten.log_softmax.int": softmax,
        "aten._log_softmax.default": softmax,
        "aten.upsample_nearest2d.vec": upsample, "aten.upsample_bilinear2d.vec": upsample,
        "aten.dropout.default": identity, "aten.dropout_.default": identity, "aten.clone.default": identity,
        "aten.contiguous.default": identity,
        "aten.detach.default": identity,
    ]

    // Activations run on the layers' own kernels, so that results equal the layers'.
    static func relu(_ call: GraphCall) throws -> ([Tensor], Module?) { ([try ReLU()(try call.tensor("self", 0))], nil) }
    static func sigmoid(_ call: GraphCall) throws -> ([Tensor], Module?) { ([try Sigmoid()(try call.tensor("self", 0))], nil) }
    static func tanh(_ call: GraphCall) throws -> ([Tensor], Module?) { ([try Tanh()(try call.tensor("self", 0))], nil) }
    static func identity(_ call: GraphCall) throws -> ([Tensor], Module?) { ([try call.tensor("input", 0)], nil) }

    /// `clamp(x, min_val, max_val)`, NaN kept (ReLU6 in MobileNets).
    static func hardtanh(_ call: GraphCall) throws -> ([Tensor], Module?) {
        let low = Float(call.float("min_val", 1, default: -1))
        let high = Float(call.float("max_val", 2, default: 1))
        let input = try call.tensor("self", 0)
        return ([mapElements(input) { value in value.isNaN ? value : Swift.min(Swift.max(value, low), high) }], nil)
    }

    static func convolution(_ call: GraphCall) throws -> ([Tensor], Module?) {
        let layer = try convolutionLayer(call)
        return ([try layer(try call.tensor("input", 0))], layer)
    }

    /// The node's Conv2d with its weight and bias.
    static func convolutionLayer(_ call: GraphCall) throws -> Conv2d {
        let weight = try call.tensor("weight", 1)
        let bias = try call.optionalTensor("bias", 2)
        return try call.layer({ try conv2dLayer(call, weight: weight, bias: bias != nil) }, state: [("weight", weight), ("bias", bias)])
    }

    /// The Conv2d a node's `weight` (`(out, in / groups, kH, kW)`), stride, padding, dilation and
    /// groups describe, without its state.
    static func conv2dLayer(_ call: GraphCall, weight: Tensor, bias: Bool) throws -> Conv2d {
        let groups = try call.int("groups", 6, default: 1)
        guard weight.rank == 4 else {
            throw NNError.invalidProgram(reason: "node '\(call.node.name)': a conv2d weight of rank \(weight.rank)")
        }
        return try Conv2d(
            inChannels: weight.shape[1] * groups, outChannels: weight.shape[0], kernelSize: IntPair(weight.shape[2], weight.shape[3]),
            stride: try call.pair("stride", 3, default: [1]), padding: .explicit(try call.pair("padding", 4, default: [0])),
            dilation: try call.pair("dilation", 5, default: [1]), groups: groups, bias: bias)
    }

    static func transposedConvolution(_ call: GraphCall) throws -> ([Tensor], Module?) {
        let weight = try call.tensor("weight", 1)
        let bias = try call.optionalTensor("bias", 2)
        let groups = try call.int("groups", 6, default: 1)
        guard weight.rank == 4 else { throw NNError.invalidProgram(reason: "node '\(call.node.name)': a weight of rank \(weight.rank)") }
        let layer = try call.layer(
            {
                try ConvTranspose2d(
                    inChannels: weight.shape[0], outChannels: weight.shape[1] * groups,
                    kernelSize: IntPair(weight.shape[2], weight.shape[3]),
                    stride: try call.pair("stride", 3, default: [1]), padding: try call.pair("padding", 4, default: [0]),
                    outputPadding: try call.pair("output_padding", 5, default: [0]), groups: groups, bias: bias != nil,
                    dilation: try call.pair("dilation", 7, default: [1]))
            }, state: [("weight", weight), ("bias", bias)])
        return ([try layer(try call.tensor("input", 0))], layer)
    }

    static func batchNorm(_ call: GraphCall) throws -> ([Tensor], Module?) {
        let input = try call.tensor("input", 0)
        guard !call.bool("training", 5, default: false) else {
            throw NNError.unsupportedOperator(target: call.node.target + " (training=True)", node: call.node.name)
        }
        let (weight, bias) = (try call.optionalTensor("weight", 1), try call.optionalTensor("bias", 2))
        let (mean, variance) = (try call.tensor("running_mean", 3), try call.tensor("running_var", 4))
        let layer = try call.layer(
            { try BatchNorm2d(numFeatures: mean.count, eps: call.float("eps", 7, default: 1e-5), affine: weight != nil) },
            state: [("weight", weight), ("bias", bias), ("running_mean", mean), ("running_var", variance)])
        return ([try layer(input)], layer)
    }

    static func linear(_ call: GraphCall) throws -> ([Tensor], Module?) {
        let weight = try call.tensor("weight", 1)
        let bias = try call.optionalTensor("bias", 2)
        guard weight.rank == 2 else {
            throw NNError.invalidProgram(reason: "node '\(call.node.name)': a linear weight of rank \(weight.rank)")
        }
        let layer = try call.layer(
            { try Linear(inFeatures: weight.shape[1], outFeatures: weight.shape[0], bias: bias != nil) },
            state: [("weight", weight), ("bias", bias)])
        return ([try layer(try call.tensor("input", 0))], layer)
    }

    static func maxPool(_ call: GraphCall) throws -> ([Tensor], Module?) {
        let layer = try maxPoolLayer(call)
        return ([try layer(try call.tensor("self", 0))], layer)
    }

    static func maxPoolLayer(_ call: GraphCall) throws -> MaxPool2d {
        let kernel = try call.pair("kernel_size", 1, default: [1])
        let stride = try call.ints("stride", 2, default: [])
        return try call.layer(
            {
                try MaxPool2d(
                    kernelSize: kernel, stride: stride.isEmpty ? nil : try call.pair("stride", 2, default: [1]),
                    padding: try call.pair("padding", 3, default: [0]), dilation: try call.pair("dilation", 4, default: [1]),
                    ceilMode: call.bool("ceil_mode", 5, default: false))
            }, state: [])
    }

    static func averagePool(_ call: GraphCall) throws -> ([Tensor], Module?) {
        let layer = try averagePoolLayer(call)
        return ([try layer(try call.tensor("self", 0))], layer)
    }

    static func averagePoolLayer(_ call: GraphCall) throws -> AvgPool2d {
        let kernel = try call.pair("kernel_size", 1, default: [1])
        let stride = try call.ints("stride", 2, default: [])
        let divisor: Int? = if case .int(let value)? = call.argument("divisor_override", 6) { value } else { nil }
        return try call.layer(
            {
                try AvgPool2d(
                    kernelSize: kernel, stride: stride.isEmpty ? nil : try call.pair("stride", 2, default: [1]),
                    padding: try call.pair("padding", 3, default: [0]), ceilMode: call.bool("ceil_mode", 4, default: false),
                    countIncludePad: call.bool("count_include_pad", 5, default: true), divisorOverride: divisor)
            }, state: [])
    }

    static func adaptiveAveragePool(_ call: GraphCall) throws -> ([Tensor], Module?) {
        let size = try call.pair("output_size", 1, default: [1])
        let layer = try call.layer({ AdaptiveAvgPool2d(outputSize: AdaptiveOutputSize(height: size.height, width: size.width)) }, state: [])
        return ([try layer(try call.tensor("self", 0))], layer)
    }

    static func flatten(_ call: GraphCall) throws -> ([Tensor], Module?) {
        let layer = Flatten(startDim: try call.int("start_dim", 1, default: 0), endDim: try call.int("end_dim", 2, default: -1))
        return ([try layer(try call.tensor("self", 0))], nil)
    }

    static func reshape(_ call: GraphCall) throws -> ([Tensor], Module?) {
        let input = try call.tensor("self", 0)
        var size = try call.ints("size", 1, default: [])
        if let free = size.firstIndex(of: -1) {
            let known = size.enumerated().filter { $0.offset != free }.reduce(1) { $0 * $1.element }
            guard known > 0, input.count % known == 0 else {
                throw NNError.inputShape(layer: call.node.target, expected: "a size that divides \(input.count)", got: input.shape)
            }
            size[free] = input.count / known
        }
        return ([try input.reshaped(size)], nil)
    }

    static func addTensors(_ call: GraphCall) throws -> ([Tensor], Module?) {
        let (a, b) = (try call.tensor("self", 0), try call.tensorOrScalar("other", 1))
        guard call.float("alpha", 2, default: 1) == 1 else {
            throw NNError.unsupportedOperator(target: call.node.target + " with alpha", node: call.node.name)
        }
        return ([a.shape == b.shape ? try add(a, b) : try broadcast(a, b, layer: call.node.target, +)], nil)
    }

    static func meanOverAxes(_ call: GraphCall) throws -> ([Tensor], Module?) {
        let input = try call.tensor("self", 0)
        let axes = Set(try call.ints("dim", 1, default: Array(0..<input.rank)).map { $0 < 0 ? $0 + input.rank : $0 })
        guard axes.allSatisfy({ (0..<input.rank).contains($0) }) else {
            throw NNError.inputShape(layer: call.node.target, expected: "axes \(axes.sorted()) within rank \(input.rank)", got: input.shape)
        }
        let keep = call.bool("keepdim", 2, default: false)
        let reducedShape = input.shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
        var strides = [Int](repeating: 1, count: input.rank)
        for axis in stride(from: input.rank - 2, through: 0, by: -1) { strides[axis] = strides[axis + 1] * reducedShape[axis + 1] }
        let count = reducedShape.reduce(1, *)
        var sums = [Double](repeating: 0, count: count)
        let values = input.scalars
        // Each element adds into its reduced slot: the reduced axes step by 0.
        let targetStrides = (0..<input.rank).map { axes.contains($0) ? 0 : strides[$0] }
        walkRowMajor(shape: input.shape, strides: [targetStrides], starts: [0]) { position, offsets in
            sums[offsets[0]] += Double(values[position])
        }
        let divisor = Double(Swift.max(1, values.count / Swift.max(count, 1)))
        let shape = keep ? reducedShape : input.shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element)
        return ([Tensor(shape: shape, scalars: sums.map { Float($0 / divisor) })], nil)
    }

    static func concatenate(_ call: GraphCall) throws -> ([Tensor], Module?) {
        guard case .tensors(let names)? = call.argument("tensors", 0) else {
            throw NNError.invalidProgram(reason: "node '\(call.node.name)': cat without tensors")
        }
        let tensors = try names.map { name -> Tensor in
            guard let tensor = call.values.tensor(name) else {
                throw NNError.invalidProgram(reason: "node '\(call.node.name)' uses '\(name)'")
            }
            return tensor
        }
        guard let first = tensors.first else { throw NNError.invalidProgram(reason: "node '\(call.node.name)': cat of nothing") }
        let rank = first.rank
        var axis = try call.int("dim", 1, default: 0)
        if axis < 0 { axis += rank }
        guard (0..<rank).contains(axis),
            tensors.allSatisfy({
                $0.rank == rank && $0.shape.enumerated().allSatisfy { $0.offset == axis || $0.element == first.shape[$0.offset] }
            })
        else { throw NNError.inputShape(layer: call.node.target, expected: "tensors that agree off axis \(axis)", got: first.shape) }
        let outer = first.shape[..<axis].reduce(1, *)
        let inner = first.shape[(axis + 1)...].reduce(1, *)
        var scalars: [Float] = []
        scalars.reserveCapacity(tensors.reduce(0) { $0 + $1.count })
        let parts = tensors.map(\.scalars)
        for block in 0..<outer {
            for (tensor, values) in zip(tensors, parts) {
                let span = tensor.shape[axis] * inner
                scalars.append(contentsOf: values[(block * span)..<((block + 1) * span)])
            }
        }
        var shape = first.shape
        shape[axis] = tensors.reduce(0) { $0 + $1.shape[axis] }
        return ([Tensor(shape: shape, scalars: scalars)], nil)
    }
}

/// The integer operators of a program exported with dynamic shapes: sizes read off tensors and
/// Python's arithmetic on them (`x.size(0)`, `h // 2`), which later nodes use as view sizes.
extension GraphOperators {
    typealias IntegerOperation = @Sendable (GraphCall) throws -> Int

    static let integerTable: [String: IntegerOperation] = [
        "aten.sym_size.int": { call in
            let input = try call.tensor("self", 0)
            let axis = try call.int("dim", 1, default: 0)
            let normalised = axis < 0 ? axis + input.rank : axis
            guard input.shape.indices.contains(normalised) else {
                throw NNError.inputShape(layer: call.node.target, expected: "an axis below rank \(input.rank)", got: input.shape)
            }
            return input.shape[normalised]
        },
        "_operator.add": { call in try arithmetic(call) { $0.addingReportingOverflow($1) } },
        "_operator.sub": { call in try arithmetic(call) { $0.subtractingReportingOverflow($1) } },
        "_operator.mul": { call in try arithmetic(call) { $0.multipliedReportingOverflow(by: $1) } },
        "_operator.floordiv": { call in
            try arithmetic(call) { a, b in
                guard b != 0 else { return (0, true) }
                let quotient = a / b
                return ((a % b != 0 && (a < 0) != (b < 0)) ? quotient - 1 : quotient, false)
            }
        },
    ]

    private static func arithmetic(_ call: GraphCall, _ operation: (Int, Int) -> (partialValue: Int, overflow: Bool)) throws -> Int {
        let (a, b) = (try call.int("a", 0, default: 0), try call.int("b", 1, default: 0))
        let (value, overflow) = operation(a, b)
        guard !overflow else { throw NNError.invalidProgram(reason: "node '\(call.node.name)' overflows on \(a) and \(b)") }
        return value
    }
}
