/// The small pointer helpers that keep kernels flat: one closure level for all their buffers
/// instead of one per `withUnsafe...` call.

/// `body` with read pointers to the values of `first` and `second`.
@inline(__always)
func withReadPointers<Result>(
    _ first: [Float], _ second: [Float], _ body: (UnsafePointer<Float>, UnsafePointer<Float>) throws -> Result
) rethrows -> Result {
    try first.withUnsafeBufferPointer { a in
        try second.withUnsafeBufferPointer { b in try body(a.baseAddress ?? emptyBuffer, b.baseAddress ?? emptyBuffer) }
    }
}

/// `count` zeros, filled in by `body` through a write pointer.
@inline(__always)
func makeValues(zeroed count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> Void) rethrows -> [Float] {
    var values = [Float](repeating: 0, count: count)
    try values.withUnsafeMutableBufferPointer { try body($0.baseAddress ?? emptyMutableBuffer) }
    return values
}

/// Working memory a kernel owns for one call: zeroed, freed by `body`'s end.
@inline(__always)
func withScratch<Result>(_ count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> Result) rethrows -> Result {
    let buffer = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(1, count))
    buffer.initialize(repeating: 0, count: Swift.max(1, count))
    defer { buffer.deallocate() }
    return try body(buffer)
}

/// What an empty array's absent base address stands for: an aligned address that is never read
/// or written, since the count that goes with it is 0 (made per call: no shared global).
private var emptyMutableBuffer: UnsafeMutablePointer<Float> {
    UnsafeMutablePointer<Float>(bitPattern: MemoryLayout<Float>.alignment)!
}
private var emptyBuffer: UnsafePointer<Float> { UnsafePointer(emptyMutableBuffer) }

/// A buffer handed to the threads of a parallel loop, each of which touches only its own part.
// @unchecked: a bare pointer; the loops that share it give each index memory no other touches.
struct SharedPointer<Element>: @unchecked Sendable {
    let base: UnsafeMutablePointer<Element>

    init(_ base: UnsafeMutablePointer<Element>) { self.base = base }
    init(_ base: UnsafePointer<Element>) { self.base = UnsafeMutablePointer(mutating: base) }
}

/// `body` with the address of `values`, or nil when there are none (an optional bias or shift).
func withOptionalFloats<Result, Failure: Error>(
    _ values: [Float]?, _ body: (UnsafePointer<Float>?) throws(Failure) -> Result
) throws(Failure) -> Result {
    guard let values else { return try body(nil) }
    return try values.withUnsafeBufferPointer { (buffer) throws(Failure) in try body(buffer.baseAddress) }
}
