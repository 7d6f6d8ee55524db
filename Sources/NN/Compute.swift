internal import CDNNL
internal import CMalloc
import Foundation

/// Row-major single-precision GEMM: C = alpha * op(A) * op(B) + beta * C, with op(A) M x K and
/// op(B) K x N. The one entry point to a BLAS, so tuning happens in one place: oneDNN's, so
/// that matrix products and convolutions share one thread pool (OpenBLAS's own pool beside
/// oneDNN's OpenMP threads left both spinning for the same two cores).
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
    ComputeThreads.applyToThisThread()
    let status = dnnl_sgemm(
        CChar(UInt8(ascii: transposeA ? "T" : "N")), CChar(UInt8(ascii: transposeB ? "T" : "N")), dnnl_dim_t(m), dnnl_dim_t(n),
        dnnl_dim_t(k), 1, a, dnnl_dim_t(lda), b, dnnl_dim_t(ldb), beta, c, dnnl_dim_t(ldc))
    // Only invalid sizes or leading dimensions fail, which zoo's callers never pass.
    precondition(status == dnnl_success, "dnnl_sgemm rejected its arguments (status \(status.rawValue))")
}

/// How many threads forward passes use: oneDNN's OpenMP team for convolutions and matrix
/// products, and as many of zoo's own for the column copies (im2col, col2im) of the cases
/// oneDNN does not run.
public enum ComputeThreads {
    /// `OMP_NUM_THREADS` when set to a positive number (as PyTorch honours it), else every core.
    nonisolated(unsafe) private static var configured: Int = {
        if let value = ProcessInfo.processInfo.environment["OMP_NUM_THREADS"].flatMap({ Int($0) }), value > 0 { return value }
        return ProcessInfo.processInfo.activeProcessorCount
    }()

    public static var count: Int { configured }

    /// Sets the thread count; values below 1 are taken as 1.
    public static func set(_ count: Int) {
        configured = Swift.max(1, count)
    }

    /// OpenMP keeps the team size per calling thread, so each thread that calls oneDNN sets it.
    static func applyToThisThread() {
        OpenMP.setThreads?(Int32(configured))
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
