import Dispatch
import Foundation

/// Runs `body(0..<count)` split across the compute threads (in order on one thread when there
/// is one, or when the whole loop is under about 100,000 elementary operations given
/// `costPerIndex`, since waking a thread costs several microseconds); each index must touch
/// memory no other index touches.
///
/// The loop runs on the OpenMP team oneDNN's kernels use, so that zoo's own loops between them
/// (pooling, column copies) neither wait for that team's spinning threads to sleep nor compete
/// with them for the cores; Dispatch serves when no OpenMP runtime is loaded.
@inline(__always)
func parallelFor(_ count: Int, costPerIndex: Int = .max, _ body: (Int) -> Void) {
    let threads = Swift.min(ComputeThreads.count, count)
    guard threads > 1, costPerIndex >= 100_000 || count * costPerIndex >= 100_000 else {
        for index in 0..<count { body(index) }
        return
    }
    withoutActuallyEscaping(body) { body in
        if let parallel = OpenMP.parallel {
            var work = OpenMP.Work(body: body, count: count)
            withUnsafeMutablePointer(to: &work) { parallel(OpenMP.runShare, $0, UInt32(threads), 0) }
            return
        }
        nonisolated(unsafe) let body = body
        DispatchQueue.concurrentPerform(iterations: threads) { part in
            var index = part
            while index < count {
                body(index)
                index += threads
            }
        }
    }
}

/// The OpenMP runtime oneDNN loaded (libgomp on Debian), reached through its C entry points.
/// They are looked up at run time: libgomp's development link is not on Swift's library path,
/// and `GOMP_parallel` is the call GCC emits for `#pragma omp parallel` (stable since GCC 4.9).
enum OpenMP {
    typealias Outlined = @convention(c) (UnsafeMutableRawPointer?) -> Void

    struct Work {
        let body: (Int) -> Void
        let count: Int
    }

    static let setThreads: (@convention(c) (Int32) -> Void)? = symbol("omp_set_num_threads")
    static let parallel: (@convention(c) (Outlined, UnsafeMutableRawPointer?, UInt32, UInt32) -> Void)? =
        threadNumber != nil && teamSize != nil ? symbol("GOMP_parallel") : nil
    private static let threadNumber: (@convention(c) () -> Int32)? = symbol("omp_get_thread_num")
    private static let teamSize: (@convention(c) () -> Int32)? = symbol("omp_get_num_threads")

    /// What each thread of the team runs: every `teamSize`-th index from its own number.
    static let runShare: Outlined = { raw in
        let work = raw!.assumingMemoryBound(to: Work.self)
        let step = Int(OpenMP.teamSize!())
        var index = Int(OpenMP.threadNumber!())
        while index < work.pointee.count {
            work.pointee.body(index)
            index += step
        }
    }

    private static func symbol<Function>(_ name: String) -> Function? {
        guard let address = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }
        return unsafeBitCast(address, to: Function.self)
    }
}
