internal import CDNNL

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
    ComputeThreads.applyToThisThread(multiplyAdds: m * n * k)
    let status = dnnl_sgemm(
        CChar(UInt8(ascii: transposeA ? "T" : "N")), CChar(UInt8(ascii: transposeB ? "T" : "N")), dnnl_dim_t(m), dnnl_dim_t(n),
        dnnl_dim_t(k), 1, a, dnnl_dim_t(lda), b, dnnl_dim_t(ldb), beta, c, dnnl_dim_t(ldc))
    // Only invalid sizes or leading dimensions fail, which zoo's callers never pass.
    precondition(status == dnnl_success, "dnnl_sgemm rejected its arguments (\(OneDNNStatus(status)))")
}
