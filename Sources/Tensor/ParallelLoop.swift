import Dispatch
import Foundation

/// Which threads a ``parallelLoop(_:threads:on:_:)`` runs on.
public enum ParallelPool: Sendable {
    /// The OpenMP team oneDNN's kernels use (when a runtime is loaded; Dispatch otherwise), so
    /// that zoo's own loops between them (pooling, column copies) neither wait for that team's
    /// spinning threads to sleep nor compete with them for the cores. For arithmetic.
    case compute
    /// Dispatch's threads, for tasks that block (files, child processes) or run forward passes
    /// of their own: each such task then gets a whole OpenMP team, where inside the compute
    /// team its kernels would run on one thread.
    case tasks
}

/// Runs `body(index)` for every index in `0..<count` on up to `threads` threads of `pool` at
/// once, in order on the calling thread when there is one: the one parallel loop of zoo. Each
/// index must touch memory no other index touches.
public func parallelLoop(_ count: Int, threads: Int, on pool: ParallelPool = .compute, _ body: @Sendable (Int) -> Void) {
    let threads = Swift.min(threads, count)
    guard threads > 1 else {
        for index in 0..<count { body(index) }
        return
    }
    withoutActuallyEscaping(body) { body in
        if pool == .compute, let parallel = OpenMP.parallel {
            var work = OpenMP.Work(body: body, count: count)
            withUnsafeMutablePointer(to: &work) { parallel(OpenMP.runShare, $0, UInt32(threads), 0) }
            return
        }
        DispatchQueue.concurrentPerform(iterations: threads) { part in
            for index in Swift.stride(from: part, to: count, by: threads) { body(index) }
        }
    }
}

/// `body` over `items` on every core at once, results in the items' order: how `zoo list` and
/// `zoo verify` check several files, and how a checkpoint's tensors are hashed.
public func mapInParallel<Item, Result>(_ items: [Item], _ body: (Item) -> Result) -> [Result] {
    let results = UnsafeMutableBufferPointer<Result?>.allocate(capacity: items.count)
    results.initialize(repeating: nil)
    defer {
        results.deinitialize()
        results.deallocate()
    }
    withoutActuallyEscaping(body) { body in
        withUnsafePointer(to: (items, body)) { work in
            let shared = MapWork(work: UnsafeRawPointer(work), results: UnsafeMutableRawPointer(results.baseAddress))
            parallelLoop(items.count, threads: ProcessInfo.processInfo.activeProcessorCount, on: .tasks) { index in
                let (items, body) = shared.work.assumingMemoryBound(to: ([Item], (Item) -> Result).self).pointee
                shared.results?.assumingMemoryBound(to: Result?.self)[index] = body(items[index])
            }
        }
    }
    return results.compactMap { $0 }
}

/// The items, the body and the result slots of one `mapInParallel`, as the loop's threads see them.
// @unchecked: two pointers; each index reads the shared items and writes only its own result slot.
private struct MapWork: @unchecked Sendable {
    let work: UnsafeRawPointer
    let results: UnsafeMutableRawPointer?
}

/// The OpenMP runtime oneDNN loads (libgomp on Debian), reached through its C entry points.
/// They are looked up at run time: libgomp's development link is not on Swift's library path,
/// and `GOMP_parallel` is the call GCC emits for `#pragma omp parallel` (stable since GCC 4.9).
package enum OpenMP {
    typealias Outlined = @convention(c) (UnsafeMutableRawPointer?) -> Void

    struct Work {
        let body: @Sendable (Int) -> Void
        let count: Int
    }

    package static let setThreads: (@convention(c) (Int32) -> Void)? = symbol("omp_set_num_threads")
    static let parallel: (@convention(c) (Outlined, UnsafeMutableRawPointer?, UInt32, UInt32) -> Void)? =
        threadNumber != nil && teamSize != nil ? symbol("GOMP_parallel") : nil
    private static let threadNumber: (@convention(c) () -> Int32)? = symbol("omp_get_thread_num")
    private static let teamSize: (@convention(c) () -> Int32)? = symbol("omp_get_num_threads")

    /// What each thread of the team runs: its own run of consecutive indices, the team's
    /// `count` split into equal parts. Consecutive indices are usually neighbouring memory, which a
    /// core's prefetcher streams: a SiLU pass over 1.2 M floats on two threads took 144 µs in
    /// halves against 214 µs in every other 4,096-float chunk (285 µs on one thread).
    static let runShare: Outlined = { raw in
        guard let work = raw?.assumingMemoryBound(to: Work.self), let teamSize, let threadNumber else { return }
        let (count, team, member) = (work.pointee.count, Int(teamSize()), Int(threadNumber()))
        // The closure is read once per thread: a call through `work.pointee` retains and releases
        // its context every time, and two threads doing so on one object contend for its count.
        // With a loop of one output row an index (thousands a pass), 10.6% of mobilenet_v2's
        // profile was swift_release, and the loop took 2-3 times its one-thread time.
        let body = work.pointee.body
        for index in (count * member / team)..<(count * (member + 1) / team) { body(index) }
    }

    private static func symbol<Function>(_ name: String) -> Function? {
        guard let address = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }
        return unsafeBitCast(address, to: Function.self)
    }
}
