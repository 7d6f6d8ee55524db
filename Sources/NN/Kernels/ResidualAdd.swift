import Tensor

/// `a + b`, then `relu` when asked, in one pass (the same float operations as two).
func residualAdd(_ a: Tensor, _ b: Tensor, thenReLU: Bool) throws -> Tensor {
    guard a.shape == b.shape else {
        throw NNError.inputShape(layer: "add", expected: "shape \(a.shape)", got: b.shape)
    }
    let (x, y) = (a.scalars, b.scalars)
    let sum = [Float](unsafeUninitializedCapacity: x.count) { buffer, initialized in
        withReadPointers(x, y) { x, y in
            if thenReLU {
                for index in 0..<a.count {
                    let value = x[index] + y[index]
                    buffer[index] = 0 >= value ? 0 : value
                }
            } else {
                for index in 0..<a.count { buffer[index] = x[index] + y[index] }
            }
        }
        initialized = x.count
    }
    return Tensor(shape: a.shape, scalars: sum)
}
