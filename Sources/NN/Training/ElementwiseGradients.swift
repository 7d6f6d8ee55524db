import Foundation
import Tensor

/// `dx[i] = derivative(x[i], y[i], dy[i])` over matching shapes.
@inline(__always)
func mapGradient(_ input: Tensor, _ output: Tensor, _ gradient: Tensor, _ rule: (Float, Float, Float) -> Float) throws -> Tensor {
    guard gradient.shape == output.shape else {
        throw NNError.inputShape(layer: "backward", expected: "a gradient of the output's shape \(output.shape)", got: gradient.shape)
    }
    let (x, y, dy) = (input.scalars, output.scalars, gradient.scalars)
    let dx = [Float](unsafeUninitializedCapacity: x.count) { buffer, initialized in
        for index in 0..<x.count { buffer[index] = rule(x[index], y[index], dy[index]) }
        initialized = x.count
    }
    return Tensor(shape: input.shape, scalars: dx)
}

/// `dy` where ReLU's `output` is positive, else 0, in chunks on the compute threads (written out
/// for the reason ``reluInParallel(_:)`` gives).
func reluGradient(_ output: Tensor, _ gradient: Tensor) throws -> Tensor {
    guard gradient.shape == output.shape else {
        throw NNError.inputShape(layer: "backward", expected: "a gradient of the output's shape \(output.shape)", got: gradient.shape)
    }
    let count = output.count
    let dx = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
        withReadPointers(output.scalars, gradient.scalars) { y, dy in
            guard let written = buffer.baseAddress else { return }
            let (y, dy, dx) = (SharedPointer(y), SharedPointer(dy), SharedPointer(written))
            forChunks(of: count) { range in
                var index = range.lowerBound
                while index + 16 <= range.upperBound {
                    let output = UnsafeRawPointer(y.base + index).loadUnaligned(as: SIMD16<Float>.self)
                    let gradient = UnsafeRawPointer(dy.base + index).loadUnaligned(as: SIMD16<Float>.self)
                    UnsafeMutableRawPointer(dx.base + index).storeBytes(
                        of: gradient.replacing(with: 0, where: .!(output .> 0)), as: SIMD16<Float>.self)
                    index += 16
                }
                for index in index..<range.upperBound { dx.base[index] = y.base[index] > 0 ? dy.base[index] : 0 }
            }
        }
        initialized = count
    }
    return Tensor(shape: output.shape, scalars: dx)
}

extension ReLU: Differentiable {
    /// PyTorch passes the gradient where the output is positive (`threshold_backward`).
    public func forwardWithPullback(_ input: Tensor, pass: TrainingPass) throws -> (output: Tensor, pullback: Pullback) {
        let output = try forward(input)
        return (output, { try reluGradient(output, $0) })
    }
}

extension LeakyReLU: Differentiable {
    public func forwardWithPullback(_ input: Tensor, pass: TrainingPass) throws -> (output: Tensor, pullback: Pullback) {
        let output = try forward(input)
        let slope = negativeSlope
        return (output, { try mapGradient(input, output, $0) { x, _, dy in x > 0 ? dy : dy * slope } })
    }
}

extension Sigmoid: Differentiable {
    /// From the output, as PyTorch's `sigmoid_backward`: `dy * (1 - y) * y`.
    public func forwardWithPullback(_ input: Tensor, pass: TrainingPass) throws -> (output: Tensor, pullback: Pullback) {
        let output = try forward(input)
        return (output, { try mapGradient(input, output, $0) { _, y, dy in dy * (1 - y) * y } })
    }
}

extension Tanh: Differentiable {
    /// From the output, as PyTorch's `tanh_backward`: `dy * (1 - y²)`.
    public func forwardWithPullback(_ input: Tensor, pass: TrainingPass) throws -> (output: Tensor, pullback: Pullback) {
        let output = try forward(input)
        return (output, { try mapGradient(input, output, $0) { _, y, dy in dy * (1 - y * y) } })
    }
}

extension Softplus: Differentiable {
    /// `dy * z / (z + 1)` with `z = exp(beta * x)`, and `dy` where the forward returned `x`.
    public func forwardWithPullback(_ input: Tensor, pass: TrainingPass) throws -> (output: Tensor, pullback: Pullback) {
        let output = try forward(input)
        let (beta, threshold) = (beta, threshold)
        return (
            output,
            {
                try mapGradient(input, output, $0) { x, _, dy in
                    let z = expf(x * beta)
                    return x * beta > threshold ? dy : dy * z / (z + 1)
                }
            }
        )
    }
}

extension Identity: Differentiable {
    public func forwardWithPullback(_ input: Tensor, pass: TrainingPass) throws -> (output: Tensor, pullback: Pullback) {
        (input, { $0 })
    }
}

extension Flatten: Differentiable {
    public func forwardWithPullback(_ input: Tensor, pass: TrainingPass) throws -> (output: Tensor, pullback: Pullback) {
        let shape = input.shape
        return (try forward(input), { try $0.reshaped(shape) })
    }
}

extension Dropout: Differentiable {
    /// In train mode the mask comes from the pass's generator, one draw per element in order
    /// (kept when a U[0, 1) draw is below `1 - p`), so that a seed fixes every mask of a run. The
    /// gradient goes through the kept elements, scaled as they were.
    public func forwardWithPullback(_ input: Tensor, pass: TrainingPass) throws -> (output: Tensor, pullback: Pullback) {
        guard isTraining, p > 0 else { return (input, { $0 }) }
        let keep = 1 - p
        let scale: Float = p == 1 ? 0 : Float(1 / keep)
        let mask = [Float](unsafeUninitializedCapacity: input.count) { buffer, initialized in
            for index in 0..<input.count { buffer[index] = Double.random(in: 0..<1, using: &pass.generator) < keep ? scale : 0 }
            initialized = input.count
        }
        let maskTensor = Tensor(shape: input.shape, scalars: mask)
        return (try multiplied(input, maskTensor), { try multiplied($0, maskTensor) })
    }
}

/// `a * b` elementwise over one shape.
private func multiplied(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    try mapGradient(a, b, b) { x, _, m in x * m }
}
