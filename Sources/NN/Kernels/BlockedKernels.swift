/// zoo's own element-wise work on activations in oneDNN's blocked layout, so that the values
/// between two convolutions need not leave it. Each maps zero padding to zero padding.

/// `a + b` (then `relu` when asked) for two blocked activations of one shape; the same float
/// operations as on plain tensors, padding included (0 + 0).
func blockedAdd(_ a: BlockedActivation, _ b: BlockedActivation, thenReLU: Bool) throws(OneDNNFallback) -> BlockedActivation {
    let sum = try BlockedActivation(shape: a.shape)
    let (x, y, z) = (a.floats, b.floats, sum.floats)
    if thenReLU {
        for index in 0..<a.paddedCount {
            let value = x[index] + y[index]
            z[index] = 0 >= value ? 0 : value
        }
    } else {
        for index in 0..<a.paddedCount { z[index] = x[index] + y[index] }
    }
    return sum
}

/// `x * s` for a blocked `x` `(N, C, H, W)` and plain `s` `(N, C, 1, 1)` (squeeze-and-excitation);
/// the padding channels are scaled by 0.
func blockedScaleChannels(_ x: BlockedActivation, by scales: [Float]) throws(OneDNNFallback) -> BlockedActivation {
    let scaled = try BlockedActivation(shape: x.shape)
    let (batch, channels, plane) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
    let blocks = x.paddedChannels / 16
    let (source, destination) = (x.floats, scaled.floats)
    for sample in 0..<batch {
        for block in 0..<blocks {
            let factors = (0..<16).map { lane in
                let channel = block * 16 + lane
                return channel < channels ? scales[sample * channels + channel] : 0
            }
            let start = (sample * blocks + block) * plane * 16
            factors.withUnsafeBufferPointer { factors in
                for pixel in 0..<plane {
                    let offset = start + pixel * 16
                    for lane in 0..<16 { destination[offset + lane] = source[offset + lane] * factors[lane] }
                }
            }
        }
    }
    return scaled
}
