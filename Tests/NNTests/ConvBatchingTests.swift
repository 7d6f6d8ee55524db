import NN
import Tensor
import Testing

/// Conv2d's own im2col kernel runs several samples per GEMM when planes are small and one at a
/// time when they are large; every sample of a batch must come out as it does alone (which the
/// parity sweep checks against PyTorch), whatever chunks the batch is cut into. The layer is
/// pinned to zoo's kernels, since oneDNN would otherwise run these shapes.
@Suite("ConvBatching")
struct ConvBatchingTests {
    @Test(arguments: [(5, 158, 1), (5, 158, 2), (3, 9, 1), (7, 40, 3)])
    func batchedSamplesEqualSingleSamples(batch: Int, size: Int, groups: Int) throws {
        let conv = try Conv2d(inChannels: 2 * groups, outChannels: 3 * groups, kernelSize: 3, padding: 1, groups: groups)
        conv.kernels = ConvolutionKernels(usesOneDNN: false)
        var generator = SeededGenerator(seed: 7)
        try conv.setLocalState(
            "weight", to: Tensor(shape: conv.weight.shape, scalars: generator.uniform(count: conv.weight.count, bound: 1)))
        try conv.setLocalState("bias", to: Tensor(shape: [3 * groups], scalars: generator.uniform(count: 3 * groups, bound: 1)))
        let sample = 2 * groups * size * size
        let input = Tensor(shape: [batch, 2 * groups, size, size], scalars: generator.uniform(count: batch * sample, bound: 1))
        let whole = try conv(input).scalars
        let outSample = whole.count / batch
        for n in 0..<batch {
            let alone = try conv(
                Tensor(shape: [1, 2 * groups, size, size], scalars: Array(input.scalars[(n * sample)..<((n + 1) * sample)])))
            let slice = Array(whole[(n * outSample)..<((n + 1) * outSample)])
            let worst = zip(slice, alone.scalars).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 1e-5, "sample \(n): \(worst)")
        }
    }
}
