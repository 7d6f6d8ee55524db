/// Visits every index of `shape` in row-major order and hands `visit` the element's position and
/// its offset in each of several strided views (one per entry of `strides`, starting at the
/// matching entry of `starts`): a view's gather, a permutation, a broadcast of two operands.
/// Offsets are counted in elements; a stride of 0 repeats an axis (broadcasting).
public func walkRowMajor(
    shape: [Int], strides: [[Int]], starts: [Int], _ visit: (_ position: Int, _ offsets: UnsafeBufferPointer<Int>) -> Void
) {
    let count = shape.reduce(1, *)
    guard count > 0 else { return }
    var index = [Int](repeating: 0, count: shape.count)
    var offsets = starts
    offsets.withUnsafeMutableBufferPointer { offsets in
        for position in 0..<count {
            visit(position, UnsafeBufferPointer(offsets))
            var axis = shape.count - 1
            while axis >= 0 {
                index[axis] += 1
                for view in strides.indices { offsets[view] += strides[view][axis] }
                if index[axis] < shape[axis] { break }
                for view in strides.indices { offsets[view] -= strides[view][axis] * shape[axis] }
                index[axis] = 0
                axis -= 1
            }
        }
    }
}
