/// The sliding-window arithmetic shared by Conv2d (im2col) and ConvTranspose2d (col2im).
/// Rows of the column matrix are (channel, kernel row, kernel column); columns are output pixels.
struct ConvGeometry {
    let channels: Int
    let height: Int
    let width: Int
    let kernel: IntPair
    let stride: IntPair
    let dilation: IntPair
    let padTop: Int
    let padLeft: Int
    let outHeight: Int
    let outWidth: Int

    var patchSize: Int { channels * kernel.height * kernel.width }

    /// Copies each receptive field of `image` (channels x height x width) into a column; padding
    /// reads 0. Rows are `rowStride` apart, so several images can fill one wide column matrix.
    func im2col(_ image: UnsafePointer<Float>, into columns: UnsafeMutablePointer<Float>, rowStride: Int) {
        var row = 0
        for c in 0..<channels {
            let plane = image + c * height * width
            for ki in 0..<kernel.height {
                for kj in 0..<kernel.width {
                    let destination = columns + row * rowStride
                    let columnOffset = kj * dilation.width - padLeft
                    for oh in 0..<outHeight {
                        let ih = oh * stride.height + ki * dilation.height - padTop
                        let line = destination + oh * outWidth
                        if ih < 0 || ih >= height {
                            line.update(repeating: 0, count: outWidth)
                            continue
                        }
                        let source = plane + ih * width
                        if stride.width == 1 {
                            var ow = 0
                            while ow < outWidth && ow + columnOffset < 0 { line[ow] = 0; ow += 1 }
                            let end = Swift.min(outWidth, width - columnOffset)
                            if ow < end {
                                line.advanced(by: ow).update(from: source + ow + columnOffset, count: end - ow)
                                ow = end
                            }
                            while ow < outWidth { line[ow] = 0; ow += 1 }
                        } else {
                            for ow in 0..<outWidth {
                                let iw = ow * stride.width + columnOffset
                                line[ow] = iw >= 0 && iw < width ? source[iw] : 0
                            }
                        }
                    }
                    row += 1
                }
            }
        }
    }

    /// The adjoint of im2col: adds each column entry back into the image it came from. Here the
    /// "output" geometry is the small input of a transposed convolution.
    func col2imAdd(_ columns: UnsafePointer<Float>, into image: UnsafeMutablePointer<Float>, rowStride: Int? = nil) {
        let outPlane = rowStride ?? outHeight * outWidth
        var row = 0
        for c in 0..<channels {
            let plane = image + c * height * width
            for ki in 0..<kernel.height {
                for kj in 0..<kernel.width {
                    let source = columns + row * outPlane
                    for oh in 0..<outHeight {
                        let ih = oh * stride.height + ki * dilation.height - padTop
                        guard ih >= 0 && ih < height else { continue }
                        let line = plane + ih * width
                        let sourceLine = source + oh * outWidth
                        for ow in 0..<outWidth {
                            let iw = ow * stride.width + kj * dilation.width - padLeft
                            if iw >= 0 && iw < width { line[iw] += sourceLine[ow] }
                        }
                    }
                    row += 1
                }
            }
        }
    }
}
