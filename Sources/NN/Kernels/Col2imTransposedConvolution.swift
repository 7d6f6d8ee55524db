/// `output = conv_transpose(input) + bias`, then `epilogue`, by GEMM and col2im: the path for
/// whatever oneDNN declines. Here `problem.geometry` is the sliding window of the matching
/// forward convolution: its image is this layer's output, its output this layer's input, and
/// the weight is PyTorch's `(C_in, C_out / groups, kH, kW)`.
func col2imTransposedConvolution(
    _ input: [Float], _ problem: ConvolutionProblem, weight: [Float], bias: [Float]?, epilogue: ConvolutionEpilogue?
) -> [Float] {
    let geometry = problem.geometry
    let inPlane = geometry.outHeight * geometry.outWidth
    let outPlane = geometry.height * geometry.width
    var output = problem.runInChunks(input, weight: weight, plane: inPlane, sideRows: problem.inChannels / problem.groups) {
        buffers, samples, group in
        TransposedConvolutionChunk(problem: problem, buffers: buffers).run(samples: samples, group: group)
    }
    if let bias {
        for n in 0..<problem.batch {
            for o in 0..<problem.outChannels {
                let base = (n * problem.outChannels + o) * outPlane
                for index in base..<(base + outPlane) { output[index] += bias[o] }
            }
        }
    }
    epilogue?.apply(toPlanesOf: &output, channels: problem.outChannels, plane: outPlane)
    return output
}

/// The buffers of one transposed convolution, and the work on one chunk of samples for one group.
private struct TransposedConvolutionChunk {
    let problem: ConvolutionProblem
    /// `side` holds several samples' input planes side by side, `(C_in / groups, samples x H x W)`.
    let buffers: ConvolutionBuffers

    func run(samples: Range<Int>, group: Int) {
        let (images, weights, columns, gathered, output) = (buffers.images, buffers.weights, buffers.columns, buffers.side, buffers.output)
        let geometry = problem.geometry
        let (inChannels, outChannels) = (problem.inChannels, problem.outChannels)
        let (inPerGroup, outPerGroup) = (inChannels / problem.groups, outChannels / problem.groups)
        let inPlane = geometry.outHeight * geometry.outWidth
        let outPlane = geometry.height * geometry.width
        let (count, first) = (samples.count, samples.lowerBound)
        let span = count * inPlane
        let source: UnsafePointer<Float>
        if count == 1 {
            source = images + (first * inChannels + group * inPerGroup) * inPlane
        } else {
            for j in 0..<count {
                for c in 0..<inPerGroup {
                    (gathered + c * span + j * inPlane).update(
                        from: images + ((first + j) * inChannels + group * inPerGroup + c) * inPlane, count: inPlane)
                }
            }
            source = UnsafePointer(gathered)
        }
        gemm(
            transposeA: true, transposeB: false, m: geometry.patchSize, n: span, k: inPerGroup,
            a: weights + group * inPerGroup * geometry.patchSize, lda: geometry.patchSize, b: source, ldb: span, c: columns, ldc: span)
        let (sharedColumns, sharedOutput) = (SharedPointer(columns), SharedPointer(output))
        parallelFor(count) { j in
            geometry.col2imAdd(
                UnsafePointer(sharedColumns.base + j * inPlane),
                into: sharedOutput.base + ((first + j) * outChannels + group * outPerGroup) * outPlane,
                rowStride: span)
        }
    }
}
