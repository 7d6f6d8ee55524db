internal import CKernels

/// The weights of a matrix product with few outputs, packed once for zoo's narrow product kernel
/// (CKernels' `zoo_narrow_product_chunks_f32`), which vectorises along the inputs instead of the
/// outputs: net's `Linear(32768, 10)` at batch 64, where oneDNN's GEMM kernel spent 0.44 ms of a
/// 0.95 ms pass on 21 M multiply-adds, under half its convolution's rate.
final class NarrowProductWeights: Sendable {
    let inputs: Int
    let outputs: Int
    private let packed: [Float]

    /// The most outputs the kernel is chosen for; from 16, a GEMM's 16-lane vectors are full.
    static let mostOutputs = 16

    /// Whether the kernel runs on this CPU (AVX-512).
    static var runs: Bool { zoo_narrow_product_is_vectorised() != 0 }

    /// `weight` is `(outputs, inputs)` row-major; nil when the kernel does not run on this CPU or
    /// `outputs` is past ``mostOutputs``.
    init?(weight: [Float], inputs: Int, outputs: Int) {
        guard Self.runs, (1...Self.mostOutputs).contains(outputs), inputs > 0, weight.count == inputs * outputs else { return nil }
        (self.inputs, self.outputs) = (inputs, outputs)
        let count = zoo_narrow_product_packed_count(inputs, outputs)
        packed = weight.withUnsafeBufferPointer { source in
            [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                zoo_pack_narrow_product_f32(source.baseAddress, buffer.baseAddress, inputs, outputs)
                initialized = count
            }
        }
    }

    /// `output[r][o] = bias[o] + Σ_i input[r][i] * weight[o][i]` for `rows` rows of ``inputs``
    /// floats, into `rows x outputs` floats; `bias` has ``outputs`` floats. The inputs are taken in chunks, shared out to the
    /// compute threads, and the chunks' sums are added in order, so the result does not depend
    /// on the number of threads.
    func apply(_ input: UnsafePointer<Float>, rows: Int, bias: [Float]?, into output: UnsafeMutablePointer<Float>) {
        let (inputs, outputs) = (inputs, outputs)
        let chunks = zoo_narrow_product_chunks(inputs)
        var partials = [Float](repeating: 0, count: chunks * rows * outputs)
        let (source, costPerChunk) = (SharedPointer(input), rows * outputs * Int(ZOO_NARROW_CHUNK))
        partials.withUnsafeMutableBufferPointer { partials in
            let target = SharedPointer(partials.baseAddress!)
            packed.withUnsafeBufferPointer { packed in
                let weights = SharedPointer(packed.baseAddress!)
                parallelFor(chunks, costPerIndex: costPerChunk) { chunk in
                    zoo_narrow_product_chunks_f32(weights.base, source.base, rows, inputs, outputs, chunk, chunk + 1, target.base)
                }
            }
        }
        withOptionalFloats(bias) { zoo_narrow_product_sum_f32(partials, $0, output, rows, inputs, outputs) }
    }
}
