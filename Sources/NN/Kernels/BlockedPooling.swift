internal import CKernels

/// Max and average pooling of activations in oneDNN's blocked layout, 16 channels (one vector)
/// at a time, with the plain kernels' float operations (Pooling.swift): each window's taps in
/// the same order, so the results are the same; the blocked output stays blocked for the
/// convolution that follows (DenseNet's stem and transitions, ResNet's stem).

/// `body(sample, block, input start, output start)` for every 16-channel block on the compute threads.
private func forEachPooledBlock(_ x: BlockedActivation, _ window: PoolingWindow, _ body: @Sendable (Int, Int) -> Void) {
    let blocks = x.paddedChannels / 16
    let (inSpan, outSpan) = (window.height * window.width * 16, window.outHeight * window.outWidth * 16)
    parallelFor(x.shape[0] * blocks, costPerIndex: outSpan * window.kernel.height * window.kernel.width) { index in
        body(index * inSpan, index * outSpan)
    }
}

/// Max pooling: padding counts as negative infinity, NaN propagates.
func blockedMaxPool(_ x: BlockedActivation, _ window: PoolingWindow) throws(OneDNNFallback) -> BlockedActivation {
    let output = try BlockedActivation(shape: window.outputShape)
    let (source, target) = (SharedPointer(x.floats), SharedPointer(output.floats))
    // On zoo's C kernel (CKernels), compiled for AVX-512 and AVX2: Swift's SIMD16 compare and
    // select, built for the x86-64 baseline, took simplecnn's two pools 8% of its pass.
    var geometry = zoo_pooling_window(
        height: window.height, width: window.width, out_height: window.outHeight, out_width: window.outWidth,
        kernel_height: window.kernel.height, kernel_width: window.kernel.width, stride_height: window.stride.height,
        stride_width: window.stride.width, padding_height: window.padding.height, padding_width: window.padding.width,
        dilation_height: window.dilation.height, dilation_width: window.dilation.width)
    withUnsafePointer(to: &geometry) { geometry in
        let shared = SharedPointer(geometry)
        forEachPooledBlock(x, window) { inStart, outStart in
            zoo_blocked_max_pool_f32(source.base + inStart, target.base + outStart, shared.base)
        }
    }
    return output
}

/// Average pooling (dilation 1), each window divided as ``avgPool2d(_:_:countIncludePad:divisorOverride:)`` does.
func blockedAveragePool(_ x: BlockedActivation, _ window: PoolingWindow, countIncludePad: Bool, divisorOverride: Int?)
    throws(OneDNNFallback) -> BlockedActivation
{
    let output = try BlockedActivation(shape: window.outputShape)
    let (source, target) = (SharedPointer(x.floats), SharedPointer(output.floats))
    let (height, width, kernel, stride, padding) = (window.height, window.width, window.kernel, window.stride, window.padding)
    forEachPooledBlock(x, window) { inStart, outStart in
        for oh in 0..<window.outHeight {
            var h0 = oh * stride.height - padding.height
            var h1 = Swift.min(h0 + kernel.height, height + padding.height)
            let paddedRows = h1 - h0
            (h0, h1) = (Swift.max(h0, 0), Swift.min(h1, height))
            for ow in 0..<window.outWidth {
                var w0 = ow * stride.width - padding.width
                var w1 = Swift.min(w0 + kernel.width, width + padding.width)
                let paddedSize = paddedRows * (w1 - w0)
                (w0, w1) = (Swift.max(w0, 0), Swift.min(w1, width))
                var sum = SIMD16<Float>(repeating: 0)
                if h0 < h1 && w0 < w1 {
                    for ih in h0..<h1 {
                        for iw in w0..<w1 {
                            sum += UnsafeRawPointer(source.base + inStart + (ih * width + iw) * 16).loadUnaligned(as: SIMD16<Float>.self)
                        }
                    }
                    sum /= SIMD16(repeating: Float(divisorOverride ?? (countIncludePad ? paddedSize : (h1 - h0) * (w1 - w0))))
                }
                UnsafeMutableRawPointer(target.base + outStart + (oh * window.outWidth + ow) * 16).storeBytes(
                    of: sum, as: SIMD16<Float>.self)
            }
        }
    }
    return output
}
