import Tensor

/// How many parts each of `samples` samples is split into, one part an index of a
/// ``parallelFor(_:costPerIndex:_:)``: one a compute thread at small batches (the threads share
/// each sample), whole samples from twice as many samples as threads.
func partsPerSample(_ samples: Int) -> Int { samples >= 2 * ComputeThreads.count ? 1 : ComputeThreads.count }

/// Runs `body(0..<count)` on the compute threads (``ComputeThreads``) with Tensor's one
/// parallel loop; in order on one thread when the whole loop is under about 100,000 elementary
/// operations given `costPerIndex`, since waking a thread costs several microseconds. Each index
/// must touch memory no other index touches.
@inline(__always)
func parallelFor(_ count: Int, costPerIndex: Int = .max, _ body: @Sendable (Int) -> Void) {
    let small = costPerIndex < 100_000 && count * costPerIndex < 100_000
    parallelLoop(count, threads: small ? 1 : ComputeThreads.count, body)
}
