/// The per-channel mean and biased variance of NCHW values, in double precision (two passes:
/// the mean, then the squared deviations from it), as BatchNorm's batch statistics.
func channelStatistics(_ x: [Float], shape: [Int]) -> (mean: [Double], variance: [Double]) {
    let (batch, channels, plane) = (shape[0], shape[1], shape[2] * shape[3])
    let perChannel = batch * plane
    var mean = [Double](repeating: 0, count: channels)
    var variance = [Double](repeating: 0, count: channels)
    // One channel per index: each channel's sums run in the same order on any thread count.
    x.withUnsafeBufferPointer { values in
        mean.withUnsafeMutableBufferPointer { means in
            variance.withUnsafeMutableBufferPointer { variances in
                guard let first = values.baseAddress, let means = means.baseAddress, let variances = variances.baseAddress else { return }
                let (x, meanOut, varianceOut) = (SharedPointer(first), SharedPointer(means), SharedPointer(variances))
                parallelFor(channels, costPerIndex: 2 * perChannel) { c in
                    var sum = LaneSums()
                    for n in 0..<batch { sum.add(x.base + (n * channels + c) * plane, count: plane) }
                    let m = sum.total / Double(perChannel)
                    var squares = LaneSums()
                    for n in 0..<batch { squares.addSquares(x.base + (n * channels + c) * plane, count: plane, from: m) }
                    meanOut.base[c] = m
                    varianceOut.base[c] = squares.total / Double(perChannel)
                }
            }
        }
    }
    return (mean, variance)
}

/// `y = x * scale[c] + shift[c]` over NCHW values: BatchNorm's map once its statistics are known.
func affineChannels(_ x: [Float], shape: [Int], scale: [Float], shift: [Float]) -> [Float] {
    let (batch, channels, plane) = (shape[0], shape[1], shape[2] * shape[3])
    return [Float](unsafeUninitializedCapacity: x.count) { y, initialized in
        x.withUnsafeBufferPointer { values in
            guard let first = values.baseAddress, let target = y.baseAddress else { return }
            let (source, output) = (SharedPointer(first), SharedPointer(target))
            parallelFor(batch * channels, costPerIndex: plane) { index in
                let (c, base) = (index % channels, index * plane)
                let (a, b) = (scale[c], shift[c])
                for i in base..<(base + plane) { output.base[i] = source.base[i] * a + b }
            }
        }
        initialized = x.count
    }
}

/// `y[p] = x[p] * scales[p / plane]`: each `(n, c)` plane of NCHW values times its own factor,
/// as a squeeze-and-excitation block's `x * s` with `s` of shape `(N, C, 1, 1)`.
func scalePlanes(_ x: [Float], by scales: [Float]) -> [Float] {
    let plane = x.count / Swift.max(1, scales.count)
    return [Float](unsafeUninitializedCapacity: x.count) { buffer, initialized in
        x.withUnsafeBufferPointer { source in
            for (index, factor) in scales.enumerated() {
                for offset in (index * plane)..<((index + 1) * plane) { buffer[offset] = source[offset] * factor }
            }
        }
        initialized = x.count
    }
}
