import Tensor

// The core ATen forms `ExportedProgram.run_decompositions()` leaves (aten.convolution,
// _native_batch_norm_legit_no_training, addmm, ...), each routed to the same layer or kernel as
// the operator it came from, so that both forms of a program give the same numbers.
extension GraphOperators {
    static let coreTable: [String: Operation] = [
        "aten.convolution.default": { call in
            call.bool("transposed", 6, default: false) ? try transposedConvolution(call) : try convolution(call)
        },
        "aten._native_batch_norm_legit_no_training.default": batchNorm,
        "aten.max_pool2d_with_indices.default": maxPool,
        "aten._adaptive_avg_pool2d.default": adaptiveAveragePool,
        "aten.native_layer_norm.default": layerNorm,
        "aten.split_with_sizes.default": split,
        "aten.addmm.default": addMatrixProduct,
        "aten.mm.default": addMatrixProduct,
        "aten.t.default": permute,
        "aten.pixel_shuffle.default": pixelShuffle,
        "aten.div.Tensor": divide,
        "aten.unsqueeze.default": unsqueeze,
        "aten.squeeze.dim": squeeze, "aten.squeeze.dims": squeeze,
        "aten.as_strided.default": asStrided,
        "aten.add.Scalar": addTensors, "aten.mul.Scalar": multiply, "aten.sub.Scalar": subtract, "aten.div.Scalar": divide,
    ]

    /// `as_strided(self, size, stride, storage_offset)` over `self`'s elements in row-major order,
    /// which is its storage: every value zoo computes is contiguous, as the decompositions that
    /// emit this operator (a reshape of a fresh result) assume.
    static func asStrided(_ call: GraphCall) throws -> ([Tensor], Module?) {
        let input = try call.tensor("self", 0)
        let size = try call.ints("size", 1, default: [])
        let strides = try call.ints("stride", 2, default: [])
        let offset = try call.int("storage_offset", 3, default: 0)
        guard size.count == strides.count, size.allSatisfy({ $0 >= 0 }), strides.allSatisfy({ $0 >= 0 }), offset >= 0 else {
            throw NNError.inputShape(layer: call.node.target, expected: "sizes \(size) with strides \(strides)", got: input.shape)
        }
        let count = size.reduce(1, *)
        let last = count == 0 ? offset : offset + zip(size, strides).reduce(0) { $0 + ($1.0 - 1) * $1.1 }
        guard last < Swift.max(input.count, 1) || count == 0 else {
            throw NNError.inputShape(layer: call.node.target, expected: "a view within \(input.count) elements", got: input.shape)
        }
        let values = input.scalars
        var result = [Float](repeating: 0, count: count)
        walkRowMajor(shape: size, strides: [strides], starts: [offset]) { position, offsets in result[position] = values[offsets[0]] }
        return ([Tensor(shape: size, scalars: result)], nil)
    }

    /// `beta * self + alpha * (mat1 @ mat2)` (addmm), or `self @ mat2` (mm), in double-precision
    /// sums per output element (as Linear's reference loop does).
    static func addMatrixProduct(_ call: GraphCall) throws -> ([Tensor], Module?) {
        let isProduct = call.node.target.hasPrefix("aten.mm")
        let left = try call.tensor(isProduct ? "self" : "mat1", isProduct ? 0 : 1)
        let right = try call.tensor("mat2", isProduct ? 1 : 2)
        guard left.rank == 2, right.rank == 2, left.shape[1] == right.shape[0] else {
            throw NNError.inputShape(layer: call.node.target, expected: "(n, k) @ (k, m) with \(right.shape)", got: left.shape)
        }
        let (rows, inner, columns) = (left.shape[0], left.shape[1], right.shape[1])
        let (a, b) = (left.scalars, right.scalars)
        var product = [Float](repeating: 0, count: rows * columns)
        for row in 0..<rows {
            for column in 0..<columns {
                var sum: Double = 0
                for k in 0..<inner { sum += Double(a[row * inner + k]) * Double(b[k * columns + column]) }
                product[row * columns + column] = Float(sum)
            }
        }
        var result = Tensor(shape: [rows, columns], scalars: product)
        if !isProduct {
            let (alpha, beta) = (Float(call.float("alpha", 4, default: 1)), Float(call.float("beta", 3, default: 1)))
            let bias = try call.tensor("self", 0)
            if alpha != 1 { result = mapElements(result) { $0 * alpha } }
            result = try broadcast(result, beta == 1 ? bias : mapElements(bias) { $0 * beta }, layer: call.node.target, +)
        }
        return ([result], nil)
    }

    /// `(N, C·r², H, W)` to `(N, C, H·r, W·r)`: each group of r² channels becomes an r×r block.
    static func pixelShuffle(_ call: GraphCall) throws -> ([Tensor], Module?) {
        let input = try call.tensor("self", 0)
        let factor = try call.int("upscale_factor", 1, default: 1)
        guard input.rank >= 3, factor > 0, input.shape[input.rank - 3] % (factor * factor) == 0 else {
            throw NNError.inputShape(layer: call.node.target, expected: "(*, C·\(factor)², H, W)", got: input.shape)
        }
        let rank = input.rank
        let (channels, height, width) = (input.shape[rank - 3] / (factor * factor), input.shape[rank - 2], input.shape[rank - 1])
        let batch = input.shape[..<(rank - 3)].reduce(1, *)
        let values = input.scalars
        var result = [Float](repeating: 0, count: values.count)
        var position = 0
        for sample in 0..<batch {
            for channel in 0..<channels {
                for y in 0..<(height * factor) {
                    for x in 0..<(width * factor) {
                        let sourceChannel = (channel * factor + y % factor) * factor + x % factor
                        let plane = (sample * channels * factor * factor + sourceChannel) * height * width
                        result[position] = values[plane + (y / factor) * width + x / factor]
                        position += 1
                    }
                }
            }
        }
        let shape = Array(input.shape[..<(rank - 3)]) + [channels, height * factor, width * factor]
        return ([Tensor(shape: shape, scalars: result)], nil)
    }

    static func divide(_ call: GraphCall) throws -> ([Tensor], Module?) {
        if let mode = call.argument("rounding_mode", 2), mode != .none {
            throw NNError.unsupportedOperator(target: call.node.target + " with rounding_mode", node: call.node.name)
        }
        return ([try broadcast(try call.tensor("self", 0), try call.tensorOrScalar("other", 1), layer: call.node.target, /)], nil)
    }

    static func unsqueeze(_ call: GraphCall) throws -> ([Tensor], Module?) {
        let input = try call.tensor("self", 0)
        var axis = try call.int("dim", 1, default: 0)
        if axis < 0 { axis += input.rank + 1 }
        guard (0...input.rank).contains(axis) else {
            throw NNError.inputShape(layer: call.node.target, expected: "an axis within rank \(input.rank + 1)", got: input.shape)
        }
        var shape = input.shape
        shape.insert(1, at: axis)
        return ([try input.reshaped(shape)], nil)
    }

    static func squeeze(_ call: GraphCall) throws -> ([Tensor], Module?) {
        let input = try call.tensor("self", 0)
        let axes = Set(try call.ints("dim", 1, default: []).map { $0 < 0 ? $0 + input.rank : $0 })
        let shape = input.shape.enumerated().filter { !(axes.contains($0.offset) && $0.element == 1) }.map(\.element)
        return ([try input.reshaped(shape)], nil)
    }
}
