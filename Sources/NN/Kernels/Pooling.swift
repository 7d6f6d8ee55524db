import Tensor

/// Max pooling of NCHW `input` over `window`: padding counts as negative infinity, NaN propagates.
func maxPool2d(_ input: Tensor, _ window: PoolingWindow) -> Tensor {
    let (height, width, outHeight, outWidth) = (window.height, window.width, window.outHeight, window.outWidth)
    let (kernel, stride, padding, dilation) = (window.kernel, window.stride, window.padding, window.dilation)
    let output = makeValues(zeroed: window.planes * outHeight * outWidth) { output in
        input.scalars.withUnsafeBufferPointer { source in
            let (source, target) = (SharedPointer(source.baseAddress!), SharedPointer(output))
            // Every window inside the image (no padding, none past the border in ceil mode): no
            // bounds checks, and NaN kept by a select rather than a branch out (4x faster on
            // simplecnn's 2x2 windows, where pooling was 40% of a batch-1 pass).
            let inside = window.windowsInsideImage
            parallelFor(window.planes, costPerIndex: outHeight * outWidth * kernel.height * kernel.width) { plane in
                let image = source.base + plane * height * width
                let pooled = target.base + plane * outHeight * outWidth
                if inside {
                    // Tap by tap over a whole output row, so that the outputs' chains of
                    // comparisons are independent of each other.
                    for oh in 0..<outHeight {
                        let output = pooled + oh * outWidth
                        for ki in 0..<kernel.height {
                            for kj in 0..<kernel.width {
                                let tap = image + (oh * stride.height + ki * dilation.height) * width + kj * dilation.width
                                if ki == 0 && kj == 0 {
                                    for ow in 0..<outWidth { output[ow] = tap[ow * stride.width] }
                                    continue
                                }
                                // Eight outputs at a time as vector selects: a branch on the
                                // comparison mispredicts on real data.
                                var ow = 0
                                while ow + 8 <= outWidth {
                                    let value = window.eightTaps(tap, from: ow)
                                    var best = UnsafeRawPointer(output + ow).loadUnaligned(as: SIMD8<Float>.self)
                                    // Once NaN, `best` stays NaN: nothing compares greater than it.
                                    best.replace(with: value, where: (value .> best) .| (value .!= value))
                                    UnsafeMutableRawPointer(output + ow).storeBytes(of: best, as: SIMD8<Float>.self)
                                    ow += 8
                                }
                                for ow in ow..<outWidth {
                                    let (value, best) = (tap[ow * stride.width], output[ow])
                                    output[ow] = value > best || value.isNaN ? value : best
                                }
                            }
                        }
                    }
                    return
                }
                for oh in 0..<outHeight {
                    let h0 = oh * stride.height - padding.height
                    for ow in 0..<outWidth {
                        let w0 = ow * stride.width - padding.width
                        var best = -Float.infinity
                        window: for ki in 0..<kernel.height {
                            let ih = h0 + ki * dilation.height
                            guard ih >= 0 && ih < height else { continue }
                            for kj in 0..<kernel.width {
                                let iw = w0 + kj * dilation.width
                                guard iw >= 0 && iw < width else { continue }
                                let value = image[ih * width + iw]
                                if value.isNaN { best = value; break window }
                                if value > best { best = value }
                            }
                        }
                        pooled[oh * outWidth + ow] = best
                    }
                }
            }
        }
    }
    return Tensor(shape: window.outputShape, scalars: output)
}

/// Average pooling of NCHW `input` over `window` (dilation 1). Each window is divided by
/// `divisorOverride` when given, else by its size including padding (`countIncludePad`, clipped
/// at the padded border) or by the number of real pixels in it.
func avgPool2d(_ input: Tensor, _ window: PoolingWindow, countIncludePad: Bool, divisorOverride: Int?) -> Tensor {
    let (height, width, outHeight, outWidth) = (window.height, window.width, window.outHeight, window.outWidth)
    let (kernel, stride, padding) = (window.kernel, window.stride, window.padding)
    let x = input.scalars
    var y = [Float](repeating: 0, count: window.planes * outHeight * outWidth)
    for plane in 0..<window.planes {
        let inBase = plane * height * width
        let outBase = plane * outHeight * outWidth
        for oh in 0..<outHeight {
            var h0 = oh * stride.height - padding.height
            var h1 = Swift.min(h0 + kernel.height, height + padding.height)
            let paddedRows = h1 - h0
            h0 = Swift.max(h0, 0)
            h1 = Swift.min(h1, height)
            for ow in 0..<outWidth {
                var w0 = ow * stride.width - padding.width
                var w1 = Swift.min(w0 + kernel.width, width + padding.width)
                let paddedSize = paddedRows * (w1 - w0)
                w0 = Swift.max(w0, 0)
                w1 = Swift.min(w1, width)
                guard h0 < h1, w0 < w1 else { continue }
                var sum: Float = 0
                for ih in h0..<h1 {
                    for iw in w0..<w1 { sum += x[inBase + ih * width + iw] }
                }
                let divisor = divisorOverride ?? (countIncludePad ? paddedSize : (h1 - h0) * (w1 - w0))
                y[outBase + oh * outWidth + ow] = sum / Float(divisor)
            }
        }
    }
    return Tensor(shape: window.outputShape, scalars: y)
}
