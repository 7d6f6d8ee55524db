import Tensor

/// Applies `transform` to every element; shape unchanged. Inlined so that each activation's
/// closure is compiled into the loop rather than called per element.
@inline(__always)
func mapElements(_ input: Tensor, _ transform: (Float) -> Float) -> Tensor {
    let x = input.scalars
    let y = [Float](unsafeUninitializedCapacity: x.count) { buffer, initialized in
        x.withUnsafeBufferPointer { source in
            for index in 0..<source.count { buffer[index] = transform(source[index]) }
        }
        initialized = x.count
    }
    return Tensor(shape: input.shape, scalars: y)
}
