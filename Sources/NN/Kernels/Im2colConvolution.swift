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

/// `output = conv(input) + bias`, then `epilogue`, by im2col and GEMM: the path for whatever
/// oneDNN declines, and the one tests pin to check zoo's own arithmetic.
///
/// Small output planes leave a per-sample GEMM too narrow to keep BLAS busy, so several samples
/// share one (their columns side by side) until it is about 65536 columns wide or its column
/// matrix reaches 32 MB.
func im2colConvolution(
    _ input: [Float], _ problem: ConvolutionProblem, weight: [Float], bias: [Float]?, epilogue: ConvolutionEpilogue?
) -> [Float] {
    let geometry = problem.geometry
    let outPlane = geometry.outHeight * geometry.outWidth
    let patch = geometry.patchSize
    let samplesPerChunk = Swift.max(
        1, Swift.min(problem.batch, 65536 / Swift.max(1, outPlane), (8 << 20) / Swift.max(1, patch * outPlane)))
    return makeValues(zeroed: problem.batch * problem.outChannels * outPlane) { output in
        withReadPointers(input, weight) { images, weights in
            withScratch(patch * samplesPerChunk * outPlane) { columns in
                withScratch(samplesPerChunk > 1 ? problem.outChannels / problem.groups * samplesPerChunk * outPlane : 0) { product in
                    let chunk = ConvolutionChunk(
                        problem: problem, images: images, weights: weights, bias: bias, columns: columns, product: product, output: output,
                        epilogue: epilogue)
                    for first in Swift.stride(from: 0, to: problem.batch, by: samplesPerChunk) {
                        for group in 0..<problem.groups {
                            chunk.run(samples: first..<Swift.min(first + samplesPerChunk, problem.batch), group: group)
                        }
                    }
                }
            }
        }
    }
}

/// The buffers of one im2col convolution, and the work on one chunk of samples for one group.
private struct ConvolutionChunk {
    let problem: ConvolutionProblem
    let images: UnsafePointer<Float>
    let weights: UnsafePointer<Float>
    let bias: [Float]?
    let columns: UnsafeMutablePointer<Float>
    /// The GEMM's result when several samples share it (one sample's has the output's layout).
    let product: UnsafeMutablePointer<Float>
    let output: UnsafeMutablePointer<Float>
    let epilogue: ConvolutionEpilogue?

    func run(samples: Range<Int>, group: Int) {
        let geometry = problem.geometry
        let (inChannels, outChannels) = (problem.inChannels, problem.outChannels)
        let outPerGroup = outChannels / problem.groups
        let outPlane = geometry.outHeight * geometry.outWidth
        let inPlane = geometry.height * geometry.width
        let (count, first) = (samples.count, samples.lowerBound)
        let span = count * outPlane
        let (images, columns) = (SharedPointer(images), SharedPointer(columns))
        parallelFor(count) { j in
            let image = images.base + ((first + j) * inChannels + group * geometry.channels) * inPlane
            geometry.im2col(image, into: columns.base + j * outPlane, rowStride: span)
        }
        // One sample's product already has the output's layout: write it in place.
        let target = count == 1 ? output + (first * outChannels + group * outPerGroup) * outPlane : product
        gemm(
            transposeA: false, transposeB: false, m: outPerGroup, n: span, k: geometry.patchSize,
            a: weights + group * outPerGroup * geometry.patchSize, lda: geometry.patchSize, b: columns.base, ldb: span, c: target, ldc: span
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
