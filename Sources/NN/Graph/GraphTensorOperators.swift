import Foundation
import Tensor

// The graph operators that are about tensors rather than layers: broadcasting arithmetic,
// axis moves, splits, layer normalisation and the activations PyTorch has no module for here.
extension GraphOperators {
    /// `a op b` with NumPy's (and PyTorch's) broadcasting: shapes aligned at the right, a size of
    /// 1 stretched.
    static func broadcast(_ a: Tensor, _ b: Tensor, layer: String, _ operation: (Float, Float) -> Float) throws -> Tensor {
        if a.shape == b.shape {
            let (x, y) = (a.scalars, b.scalars)
            return Tensor(shape: a.shape, scalars: (0..<x.count).map { operation(x[$0], y[$0]) })
        }
        let rank = Swift.max(a.rank, b.rank)
        let left = [Int](repeating: 1, count: rank - a.rank) + a.shape
        let right = [Int](repeating: 1, count: rank - b.rank) + b.shape
        var shape: [Int] = []
        for (l, r) in zip(left, right) {
            guard l == r || l == 1 || r == 1 else {
                throw NNError.inputShape(layer: layer, expected: "a shape that broadcasts with \(a.shape)", got: b.shape)
            }
            shape.append(Swift.max(l, r))
        }
        let (leftStrides, rightStrides) = (broadcastStrides(left, to: shape), broadcastStrides(right, to: shape))
        let (x, y) = (a.scalars, b.scalars)
        var result = [Float](repeating: 0, count: shape.reduce(1, *))
        walkRowMajor(shape: shape, strides: [leftStrides, rightStrides], starts: [0, 0]) { position, offsets in
            result[position] = operation(x[offsets[0]], y[offsets[1]])
        }
        return Tensor(shape: shape, scalars: result)
    }

    /// Row-major strides of `shape`, zero on the axes stretched to `target`.
    private static func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
        var strides = [Int](repeating: 0, count: shape.count)
        var step = 1
        for axis in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[axis] = shape[axis] == 1 && target[axis] != 1 ? 0 : step
            step *= shape[axis]
        }
        return strides
    }

    static func multiply(_ call: GraphCall) throws -> ([Tensor], Module?) {
        ([try broadcast(try call.tensor("self", 0), try call.tensorOrScalar("other", 1), layer: call.node.target, *)], nil)
    }

    static func subtract(_ call: GraphCall) throws -> ([Tensor], Module?) {
        guard call.float("alpha", 2, default: 1) == 1 else {
            throw NNError.unsupportedOperator(target: call.node.target + " with alpha", node: call.node.name)
        }
        return ([try broadcast(try call.tensor("self", 0), try call.tensorOrScalar("other", 1), layer: call.node.target, -)], nil)
    }

    /// The axes of `self` in the order `dims` gives (`permute`), or two of them swapped
    /// (`transpose`; `t`, a matrix's two).
    static func permute(_ call: GraphCall) throws -> ([Tensor], Module?) {
        let input = try call.tensor("self", 0)
        var order = Array(0..<input.rank)
        if call.node.target.hasPrefix("aten.transpose") || call.node.target.hasPrefix("aten.t.") {
            let normalise = { (axis: Int) in axis < 0 ? axis + input.rank : axis }
            let (first, second) = (normalise(try call.int("dim0", 1, default: 0)), normalise(try call.int("dim1", 2, default: 1)))
            guard order.indices.contains(first), order.indices.contains(second) else {
                throw NNError.inputShape(layer: call.node.target, expected: "axes \(first), \(second)", got: input.shape)
            }
            order.swapAt(first, second)
        } else {
            order = try call.ints("dims", 1, default: order).map { $0 < 0 ? $0 + input.rank : $0 }
            guard order.sorted() == Array(0..<input.rank) else {
                throw NNError.inputShape(layer: call.node.target, expected: "a permutation of \(input.rank) axes", got: input.shape)
            }
        }
        var inputStrides = [Int](repeating: 1, count: input.rank)
        for axis in stride(from: input.rank - 2, through: 0, by: -1) { inputStrides[axis] = inputStrides[axis + 1] * input.shape[axis + 1] }
        let shape = order.map { input.shape[$0] }
        let strides = order.map { inputStrides[$0] }
        let values = input.scalars
        var result = [Float](repeating: 0, count: values.count)
        walkRowMajor(shape: shape, strides: [strides], starts: [0]) { position, offsets in result[position] = values[offsets[0]] }
        return ([Tensor(shape: shape, scalars: result)], nil)
    }

    /// `chunk(chunks, dim)` (equal pieces, the last smaller), `split(split_size, dim)` or
    /// `split_with_sizes(split_sizes, dim)`.
    static func split(_ call: GraphCall) throws -> ([Tensor], Module?) {
        let input = try call.tensor("self", 0)
        var axis = try call.int("dim", 2, default: 0)
        if axis < 0 { axis += input.rank }
        guard (0..<input.rank).contains(axis) else {
            throw NNError.inputShape(layer: call.node.target, expected: "an axis within rank \(input.rank)", got: input.shape)
        }
        let size = input.shape[axis]
        var lengths: [Int]
        if call.node.target.hasPrefix("aten.split_with_sizes") {
            lengths = try call.ints("split_sizes", 1, default: [size])
            guard lengths.allSatisfy({ $0 >= 0 }), lengths.reduce(0, +) == size else {
                throw NNError.inputShape(layer: call.node.target, expected: "sizes \(lengths) adding up to axis \(axis)", got: input.shape)
            }
        } else {
            let piece =
                call.node.target.hasPrefix("aten.chunk")
                ? (size + Swift.max(1, try call.int("chunks", 1, default: 1)) - 1) / Swift.max(1, try call.int("chunks", 1, default: 1))
                : try call.int("split_size", 1, default: size)
            guard piece > 0 else { throw NNError.inputShape(layer: call.node.target, expected: "pieces of at least 1", got: input.shape) }
            lengths = stride(from: 0, to: size, by: piece).map { Swift.min(piece, size - $0) }
        }
        let outer = input.shape[..<axis].reduce(1, *)
        let inner = input.shape[(axis + 1)...].reduce(1, *)
        let values = input.scalars
        var pieces: [Tensor] = []
        var start = 0
        for length in lengths {
            defer { start += length }
            var scalars: [Float] = []
            scalars.reserveCapacity(outer * length * inner)
            for block in 0..<outer {
                let base = (block * size + start) * inner
                scalars.append(contentsOf: values[base..<(base + length * inner)])
            }
            var shape = input.shape
            shape[axis] = length
            pieces.append(Tensor(shape: shape, scalars: scalars))
        }
        return (pieces, nil)
    }

    /// `F.layer_norm` over the last axes named by `normalized_shape`, statistics in double
    /// precision, biased variance.
    static func layerNorm(_ call: GraphCall) throws -> ([Tensor], Module?) {
        let input = try call.tensor("input", 0)
        let normalized = try call.ints("normalized_shape", 1, default: [])
        guard normalized.count <= input.rank, Array(input.shape.suffix(normalized.count)) == normalized else {
            throw NNError.inputShape(layer: call.node.target, expected: "(*, \(normalized))", got: input.shape)
        }
        let (weight, bias) = (try call.optionalTensor("weight", 2)?.scalars, try call.optionalTensor("bias", 3)?.scalars)
        let eps = call.float("eps", 4, default: 1e-5)
        let width = Swift.max(1, normalized.reduce(1, *))
        var values = input.scalars
        for row in 0..<(values.count / width) {
            let range = (row * width)..<((row + 1) * width)
            let mean = values[range].reduce(0.0) { $0 + Double($1) } / Double(width)
            let variance = values[range].reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(width)
            let inverse = 1 / (variance + eps).squareRoot()
            for (offset, index) in range.enumerated() {
                var value = Float((Double(values[index]) - mean) * inverse)
                if let weight { value *= weight[offset] }
                if let bias { value += bias[offset] }
                values[index] = value
            }
        }
        return ([Tensor(shape: input.shape, scalars: values)], nil)
    }

    static func silu(_ call: GraphCall) throws -> ([Tensor], Module?) {
        ([NN.silu(try call.tensor("self", 0))], nil)
    }

    /// `x * relu6(x + 3) / 6`.
    static func hardswish(_ call: GraphCall) throws -> ([Tensor], Module?) {
        let input = try call.tensor("self", 0)
        return ([mapElements(input) { value in value * Swift.min(Swift.max(value + 3, 0), 6) / 6 }], nil)
    }

    /// `relu6(x + 3) / 6`.
    static func hardsigmoid(_ call: GraphCall) throws -> ([Tensor], Module?) {
        let input = try call.tensor("self", 0)
        return ([mapElements(input) { value in Swift.min(Swift.max(value + 3, 0), 6) / 6 }], nil)
    }

    /// The exact GELU, `x * Φ(x)`, or PyTorch's tanh approximation when asked.
    static func gelu(_ call: GraphCall) throws -> ([Tensor], Module?) {
        let input = try call.tensor("self", 0)
        if case .other? = call.argument("approximate", 1) {
            throw NNError.unsupportedOperator(target: call.node.target + " (approximate)", node: call.node.name)
        }
        return ([mapElements(input) { value in Float(0.5 * Double(value) * (1 + Foundation.erf(Double(value) / 2.0.squareRoot()))) }], nil)
    }

    static func leakyReLU(_ call: GraphCall) throws -> ([Tensor], Module?) {
        let layer = LeakyReLU(negativeSlope: call.float("negative_slope", 1, default: 0.01))
        return ([try layer(try call.tensor("self", 0))], nil)
    }

    /// `clamp(x, min, max)`, either bound absent; NaN kept.
    static func clamp(_ call: GraphCall) throws -> ([Tensor], Module?) {
        let bound = { (name: String, index: Int) -> Float? in
            switch call.argument(name, index) {
            case .float(let value)?: Float(value)
            case .int(let value)?: Float(value)
            default: nil
            }
        }
        let (low, high) = (bound("min", 1), bound("max", 2))
        let input = try call.tensor("self", 0)
        return (
            [
                mapElements(input) { value in
                    guard !value.isNaN else { return value }
                    return Swift.min(Swift.max(value, low ?? -.infinity), high ?? .infinity)
                }
            ], nil
        )
    }

    /// `max(0, x) + weight[c] * min(0, x)`, one weight per channel (axis 1) or one for all.
    static func prelu(_ call: GraphCall) throws -> ([Tensor], Module?) {
        let input = try call.tensor("self", 0)
        let weight = try call.tensor("weight", 1).scalars
        guard weight.count == 1 || (input.rank >= 2 && input.shape[1] == weight.count) else {
            throw NNError.inputShape(layer: call.node.target, expected: "\(weight.count) channels on axis 1", got: input.shape)
        }
        let plane = input.rank > 2 ? input.shape[2...].reduce(1, *) : 1
        var values = input.scalars
        for index in values.indices where values[index] < 0 {
            values[index] *= weight.count == 1 ? weight[0] : weight[(index / plane) % weight.count]
        }
        return ([Tensor(shape: input.shape, scalars: values)], nil)
    }

    /// `softmax` (or `log_softmax`) along one axis, in double precision per row.
    static func softmax(_ call: GraphCall) throws -> ([Tensor], Module?) {
        let input = try call.tensor("self", 0)
        var axis = try call.int("dim", 1, default: -1)
        if axis < 0 { axis += input.rank }
        guard (0..<Swift.max(input.rank, 1)).contains(axis) else {
            throw NNError.inputShape(layer: call.node.target, expected: "an axis within rank \(input.rank)", got: input.shape)
        }
        let logarithm = call.node.target.contains("log_softmax")
        let size = input.rank == 0 ? 1 : input.shape[axis]
        let inner = input.rank == 0 ? 1 : input.shape[(axis + 1)...].reduce(1, *)
        var values = input.scalars
        for outer in 0..<(values.count / Swift.max(size * inner, 1)) {
            for column in 0..<inner {
                let indices = (0..<size).map { (outer * size + $0) * inner + column }
                let largest = indices.map { Double(values[$0]) }.max() ?? 0
                let total = indices.reduce(0.0) { $0 + Foundation.exp(Double(values[$1]) - largest) }
                for index in indices {
                    let shifted = Double(values[index]) - largest
                    values[index] = Float(logarithm ? shifted - Foundation.log(total) : Foundation.exp(shifted) / total)
                }
            }
        }
        return ([Tensor(shape: input.shape, scalars: values)], nil)
    }

    /// `F.interpolate` as the program spells it: nearest or bilinear, to a size or by factors.
    static func upsample(_ call: GraphCall) throws -> ([Tensor], Module?) {
        let input = try call.tensor("input", 0)
        let bilinear = call.node.target.contains("bilinear")
        let sizes = try call.ints("output_size", 1, default: [])
        let size: IntPair? = sizes.count == 2 ? IntPair(sizes[0], sizes[1]) : nil
        let factorsIndex = bilinear ? 3 : 2
        let factors: (height: Double, width: Double)? =
            if case .floats(let values)? = call.argument("scale_factors", factorsIndex), values.count == 2 { (values[0], values[1]) } else {
                nil
            }
        // Made afresh each pass: with dynamic shapes, the size can follow the input's.
        let layer = try Upsample(
            size: size, scaleFactor: size == nil ? factors : nil, mode: bilinear ? .bilinear : .nearest,
            alignCorners: bilinear ? call.bool("align_corners", 2, default: false) : nil)
        return ([try layer(input)], nil)
    }
}
