/// `y = x W^T + b` for `rows` rows of `inFeatures` values, with `W` `(outFeatures, inFeatures)`:
/// the bias is written into every row, then one GEMM adds the product to it.
func affineRows(_ x: [Float], rows: Int, inFeatures: Int, weight: [Float], bias: [Float]?, outFeatures: Int) -> [Float] {
    var y = [Float](repeating: 0, count: rows * outFeatures)
    if let bias {
        for row in 0..<rows { for o in 0..<outFeatures { y[row * outFeatures + o] = bias[o] } }
    }
    y.withUnsafeMutableBufferPointer { output in
        guard let output = output.baseAddress else { return }
        withReadPointers(x, weight) { x, weight in
            gemm(
                transposeA: false, transposeB: true, m: rows, n: outFeatures, k: inFeatures,
                a: x, lda: inFeatures, b: weight, ldb: inFeatures, c: output, ldc: outFeatures, beta: 1)
        }
    }
    return y
}
