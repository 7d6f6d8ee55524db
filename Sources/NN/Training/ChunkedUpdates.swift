/// An optimizer's elementwise passes over a parameter, in chunks on the compute threads: each
/// element's arithmetic is its own, so the bits do not depend on the thread count.

/// `values[i] = values[i] * scale + weight * other[i]`, in place: `values` should have one owner,
/// or the write copies it first.
func scaleAndAdd(_ values: inout [Float], scale: Float, _ other: [Float], weight: Float) {
    let count = values.count
    values.withUnsafeMutableBufferPointer { target in
        withReadPointers(other, []) { other, _ in
            guard let first = target.baseAddress else { return }
            let (target, other) = (SharedPointer(first), SharedPointer(other))
            forChunks(of: count) { range in
                for i in range { target.base[i] = target.base[i] * scale + weight * other.base[i] }
            }
        }
    }
}

/// `values[i] + weight * other[i]`, as a new array: `values` is often shared (a layer's
/// parameter), which an update in place would first copy on one thread.
func adding(_ values: [Float], _ other: [Float], times weight: Float) -> [Float] {
    let count = values.count
    return [Float](unsafeUninitializedCapacity: count) { result, initialized in
        initialized = count
        withReadPointers(values, other) { values, other in
            guard let first = result.baseAddress else { return }
            let (result, values, other) = (SharedPointer(first), SharedPointer(values), SharedPointer(other))
            forChunks(of: count) { range in
                for i in range { result.base[i] = values.base[i] + weight * other.base[i] }
            }
        }
    }
}
