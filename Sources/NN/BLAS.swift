import CBLAS
internal import CMalloc
import Dispatch
import Foundation

/// Row-major single-precision GEMM: C = alpha * op(A) * op(B) + beta * C, with op(A) M x K and
/// op(B) K x N. The one entry point to OpenBLAS, so tuning happens in one place.
@inline(__always)
func gemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float = 0
) {
    guard m > 0, n > 0 else { return }
    guard k > 0 else {
        if beta == 0 { for row in 0..<m { (c + row * ldc).update(repeating: 0, count: n) } }
        return
    }
    cblas_sgemm(
        CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
        Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// How many threads forward passes use: OpenBLAS's pool for the matrix products, and as many
/// of zoo's own for the column copies (im2col, col2im) around them.
public enum ComputeThreads {
    nonisolated(unsafe) private static var configured: Int = {
        let count = ProcessInfo.processInfo.activeProcessorCount
        openblas_set_num_threads(Int32(count))
        return count
    }()

    public static var count: Int { configured }

    /// Sets the thread count; values below 1 are taken as 1.
    public static func set(_ count: Int) {
        configured = Swift.max(1, count)
        openblas_set_num_threads(Int32(configured))
    }
}

/// How the C allocator serves the large buffers forward passes create and free on every layer.
public enum ActivationMemory {
    /// Keeps freed activation buffers (up to 256 MiB each) in the heap for the next layer or pass
    /// instead of returning them to the kernel, which otherwise maps, faults in and zeroes fresh
    /// pages every time: for small models most of a forward pass. Call once, before running models;
    /// a no-op off glibc.
    public static func reuseFreedBuffers() {
        #if canImport(Glibc)
            _ = mallopt(M_MMAP_THRESHOLD, 256 << 20)
            _ = mallopt(M_TRIM_THRESHOLD, 512 << 20)
        #endif
    }
}

/// Runs `body(0..<count)` split across the compute threads (in order on one thread when there
/// is one); each index must touch memory no other index touches.
@inline(__always)
func parallelFor(_ count: Int, _ body: (Int) -> Void) {
    let threads = Swift.min(ComputeThreads.count, count)
    guard threads > 1 else {
        for index in 0..<count { body(index) }
        return
    }
    withoutActuallyEscaping(body) { body in
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
