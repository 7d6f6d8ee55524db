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
        let count = shape.reduce(1, *)
        var result = [Float](repeating: 0, count: count)
        var index = [Int](repeating: 0, count: rank)
        var (i, j) = (0, 0)
        for position in 0..<count {
            result[position] = operation(x[i], y[j])
            var axis = rank - 1
            while axis >= 0 {
                index[axis] += 1
                i += leftStrides[axis]
                j += rightStrides[axis]
                if index[axis] < shape[axis] { break }
                i -= leftStrides[axis] * shape[axis]
                j -= rightStrides[axis] * shape[axis]
                index[axis] = 0
                axis -= 1
            }
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
        ([try broadcast(try call.tensor("self", 0), try call.tensor("other", 1), layer: call.node.target, *)], nil)
    }

    static func subtract(_ call: GraphCall) throws -> ([Tensor], Module?) {
        guard call.float("alpha", 2, default: 1) == 1 else {
            throw NNError.unsupportedOperator(target: call.node.target + " with alpha", node: call.node.name)
        }
        return ([try broadcast(try call.tensor("self", 0), try call.tensor("other", 1), layer: call.node.target, -)], nil)
    }

    /// The axes of `self` in the order `dims` gives (`permute`), or two of them swapped (`transpose`).
    static func permute(_ call: GraphCall) throws -> ([Tensor], Module?) {
        let input = try call.tensor("self", 0)
        var order = Array(0..<input.rank)
        if call.node.target.hasPrefix("aten.transpose") {
            let normalise = { (axis: Int) in axis < 0 ? axis + input.rank : axis }
            let (first, second) = (normalise(call.int("dim0", 1, default: 0)), normalise(call.int("dim1", 2, default: 1)))
            guard order.indices.contains(first), order.indices.contains(second) else {
                throw NNError.inputShape(layer: call.node.target, expected: "axes \(first), \(second)", got: input.shape)
            }
            order.swapAt(first, second)
        } else {
            order = call.ints("dims", 1, default: order).map { $0 < 0 ? $0 + input.rank : $0 }
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
        var index = [Int](repeating: 0, count: shape.count)
        var source = 0
        for position in 0..<values.count {
            result[position] = values[source]
            var axis = shape.count - 1
            while axis >= 0 {
                index[axis] += 1
                source += strides[axis]
                if index[axis] < shape[axis] { break }
                source -= strides[axis] * shape[axis]
                index[axis] = 0
                axis -= 1
            }
        }
        return ([Tensor(shape: shape, scalars: result)], nil)
    }

    /// `chunk(chunks, dim)` (equal pieces, the last smaller) or `split(split_size, dim)`.
    static func split(_ call: GraphCall) throws -> ([Tensor], Module?) {
        let input = try call.tensor("self", 0)
        var axis = call.int("dim", 2, default: 0)
        if axis < 0 { axis += input.rank }
        guard (0..<input.rank).contains(axis) else {
            throw NNError.inputShape(layer: call.node.target, expected: "an axis within rank \(input.rank)", got: input.shape)
        }
        let size = input.shape[axis]
        let piece: Int
        if call.node.target.hasPrefix("aten.chunk") {
            let chunks = Swift.max(1, call.int("chunks", 1, default: 1))
            piece = (size + chunks - 1) / chunks
        } else {
            piece = call.int("split_size", 1, default: size)
        }
        guard piece > 0 else { throw NNError.inputShape(layer: call.node.target, expected: "pieces of at least 1", got: input.shape) }
        let outer = input.shape[..<axis].reduce(1, *)
        let inner = input.shape[(axis + 1)...].reduce(1, *)
        let values = input.scalars
        var pieces: [Tensor] = []
        for start in stride(from: 0, to: size, by: piece) {
            let length = Swift.min(piece, size - start)
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
        let normalized = call.ints("normalized_shape", 1, default: [])
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
        let input = try call.tensor("self", 0)
        return ([mapElements(input) { value in value / (1 + Foundation.exp(-value)) }], nil)
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
}
