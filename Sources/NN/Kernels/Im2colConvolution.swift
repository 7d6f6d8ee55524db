/// One 2-d convolution as zoo's own kernels see it: NCHW float32 in and out, PyTorch's weight
/// layout `(C_out, C_in / groups, kH, kW)`, zero padding of `pads` pixels around the input.
struct ConvolutionProblem {
    let batch: Int
    let inChannels: Int
    let outChannels: Int
    let groups: Int
    /// The sliding window over one group's channels of one sample.
    let geometry: ConvGeometry

    /// `(N, C_out, H_out, W_out)`: for a transposed convolution the geometry's image, else its output.
    let outputShape: [Int]
}

/// Padding in pixels on each side of an image.
struct BorderAmounts: Equatable {
    var top: Int
    var bottom: Int
    var left: Int
    var right: Int

    static let zero = BorderAmounts(top: 0, bottom: 0, left: 0, right: 0)
}

/// The buffers one of zoo's convolution kernels works in.
struct ConvolutionBuffers {
    let images: UnsafePointer<Float>
    let weights: UnsafePointer<Float>
    /// The column matrix of one chunk of samples.
    let columns: UnsafeMutablePointer<Float>
    /// A chunk's samples side by side, when several share a GEMM.
    let side: UnsafeMutablePointer<Float>
    let output: UnsafeMutablePointer<Float>
}

extension ConvolutionProblem {
    /// Runs `body` on each chunk of samples and each group, in order, and returns the output
    /// `body` wrote. `plane` is the pixels a sample gives the GEMM's columns, `sideRows` the rows
    /// of ``ConvolutionBuffers/side`` per sample.
    ///
    /// Small planes leave a per-sample GEMM too narrow to keep BLAS busy, so several samples share
    /// one (their columns side by side) until it is about 65536 columns wide or its column matrix
    /// reaches 32 MB.
    func runInChunks(
        _ input: [Float], weight: [Float], plane: Int, sideRows: Int, body: (ConvolutionBuffers, Range<Int>, Int) -> Void
    ) -> [Float] {
        let patch = geometry.patchSize
        let samplesPerChunk = Swift.max(1, Swift.min(batch, 65536 / Swift.max(1, plane), (8 << 20) / Swift.max(1, patch * plane)))
        return makeValues(zeroed: outputShape.reduce(1, *)) { output in
            withReadPointers(input, weight) { images, weights in
                withScratch(patch * samplesPerChunk * plane) { columns in
                    withScratch(samplesPerChunk > 1 ? sideRows * samplesPerChunk * plane : 0) { side in
                        let buffers = ConvolutionBuffers(images: images, weights: weights, columns: columns, side: side, output: output)
                        for first in Swift.stride(from: 0, to: batch, by: samplesPerChunk) {
                            for group in 0..<groups { body(buffers, first..<Swift.min(first + samplesPerChunk, batch), group) }
                        }
                    }
                }
            }
        }
    }
}

/// `output = conv(input) + bias`, then `epilogue`, by im2col and GEMM: the path for whatever
/// oneDNN declines, and the one tests pin to check zoo's own arithmetic.
func im2colConvolution(
    _ input: [Float], _ problem: ConvolutionProblem, weight: [Float], bias: [Float]?, epilogue: ConvolutionEpilogue?
) -> [Float] {
    let outPlane = problem.geometry.outHeight * problem.geometry.outWidth
    return problem.runInChunks(input, weight: weight, plane: outPlane, sideRows: problem.outChannels / problem.groups) {
        buffers, samples, group in
        ConvolutionChunk(problem: problem, buffers: buffers, bias: bias, epilogue: epilogue).run(samples: samples, group: group)
    }
}

/// The buffers of one im2col convolution, and the work on one chunk of samples for one group.
private struct ConvolutionChunk {
    let problem: ConvolutionProblem
    /// `side` holds the GEMM's result when several samples share it (one sample's has the
    /// output's layout and is written in place).
    let buffers: ConvolutionBuffers
    let bias: [Float]?
    let epilogue: ConvolutionEpilogue?

    func run(samples: Range<Int>, group: Int) {
        let (images, weights, columns, product, output) = (buffers.images, buffers.weights, buffers.columns, buffers.side, buffers.output)
        let geometry = problem.geometry
        let (inChannels, outChannels) = (problem.inChannels, problem.outChannels)
        let outPerGroup = outChannels / problem.groups
        let outPlane = geometry.outHeight * geometry.outWidth
        let inPlane = geometry.height * geometry.width
        let (count, first) = (samples.count, samples.lowerBound)
        let span = count * outPlane
        let (sharedImages, sharedColumns) = (SharedPointer(images), SharedPointer(columns))
        parallelFor(count) { j in
            let image = sharedImages.base + ((first + j) * inChannels + group * geometry.channels) * inPlane
            geometry.im2col(image, into: sharedColumns.base + j * outPlane, rowStride: span)
        }
        // One sample's product already has the output's layout: write it in place.
        let target = count == 1 ? output + (first * outChannels + group * outPerGroup) * outPlane : product
        gemm(
            transposeA: false, transposeB: false, m: outPerGroup, n: span, k: geometry.patchSize,
            a: weights + group * outPerGroup * geometry.patchSize, lda: geometry.patchSize, b: columns, ldb: span, c: target, ldc: span
        )
        for j in 0..<count {
            for o in 0..<outPerGroup {
                let channel = group * outPerGroup + o
                let source = product + o * span + j * outPlane
                let destination = output + ((first + j) * outChannels + channel) * outPlane
                let shift = bias?[channel] ?? 0
                let from = count == 1 ? UnsafePointer(destination) : UnsafePointer(source)
                if let epilogue {
                    epilogue.apply(from, into: destination, count: outPlane, bias: shift, channel: channel)
                } else if count == 1 {
                    if shift != 0 { for index in 0..<outPlane { destination[index] += shift } }
                } else {
                    for index in 0..<outPlane { destination[index] = source[index] + shift }
                }
            }
        }
    }
}
