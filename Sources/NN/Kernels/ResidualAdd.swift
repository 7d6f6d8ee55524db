import Tensor

/// `a + b`, then `relu` when asked, in one pass (the same float operations as two), in chunks
/// on the compute threads.
func residualAdd(_ a: Tensor, _ b: Tensor, thenReLU: Bool) throws -> Tensor {
    guard a.shape == b.shape else {
        throw NNError.inputShape(layer: "add", expected: "shape \(a.shape)", got: b.shape)
    }
    let (x, y, count) = (a.scalars, b.scalars, a.count)
    let sum = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
        withReadPointers(x, y) { x, y in
            guard let written = buffer.baseAddress else { return }
            let (x, y, sum) = (SharedPointer(x), SharedPointer(y), SharedPointer(written))
            forChunks(of: count) { range in
                if thenReLU {
                    for index in range {
                        let value = x.base[index] + y.base[index]
                        sum.base[index] = 0 >= value ? 0 : value
                    }
                } else {
                    for index in range { sum.base[index] = x.base[index] + y.base[index] }
                }
            }
        }
        initialized = count
    }
    return Tensor(shape: a.shape, scalars: sum)
}
