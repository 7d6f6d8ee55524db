import Tensor

/// For every output of max pooling `input` over `window`, the offset in its plane of the input
/// element it took (-1 for a window of padding only), and its value: the training forward's
/// output, gathered on the plane's thread rather than in a pass of its own (a window of padding
/// only would be -inf, which PyTorch's padding limit rules out).
func maxPoolWinners(_ input: Tensor, _ window: PoolingWindow) -> (winners: [Int32], values: [Float]) {
    let (inPlane, outPlane) = (window.height * window.width, window.outHeight * window.outWidth)
    let count = window.planes * outPlane
    var winners = [Int32](repeating: -1, count: count)
    var values = [Float](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
    // Windows inside the image take the forward kernel's vector selects (see `maxPool2d`), with
    // the winners' offsets chosen by the same masks; only a padded border is checked tap by tap.
    let inside = window.insideOutputs
    withReadPointers(input.scalars, []) { source, _ in
        winners.withUnsafeMutableBufferPointer { winners in
            values.withUnsafeMutableBufferPointer { values in
                guard let first = winners.baseAddress, let firstValue = values.baseAddress else { return }
                let (source, target, output) = (SharedPointer(source), SharedPointer(first), SharedPointer(firstValue))
                parallelFor(window.planes, costPerIndex: outPlane * window.kernel.height * window.kernel.width) { plane in
                    let image = source.base + plane * inPlane
                    let chosen = target.base + plane * outPlane
                    insideWinners(image, into: chosen, window, rows: inside.rows, columns: inside.columns)
                    borderWinners(image, into: chosen, window, skipping: inside)
                    let pooled = output.base + plane * outPlane
                    for index in 0..<outPlane {
                        let winner = Int(chosen[index])
                        pooled[index] = winner >= 0 ? image[winner] : -.infinity
                    }
                }
            }
        }
    }
    return (winners, values)
}

/// ``maxPoolWinners(_:_:)`` for one plane's outputs in `rows` and `columns`, whose windows lie
/// inside the image: tap by tap over a row of outputs, eight at a time, so that the outputs'
/// chains of comparisons are independent and need no branches (a branch on the comparison
/// mispredicts on real data). Taps run in the order the checked path takes them, so ties and
/// NaNs pick the same winner.
private func insideWinners(
    _ image: UnsafeMutablePointer<Float>, into chosen: UnsafeMutablePointer<Int32>, _ window: PoolingWindow, rows: Range<Int>,
    columns: Range<Int>
) {
    let (width, outWidth, count) = (window.width, window.outWidth, columns.count)
    let (kernel, stride, padding, dilation) = (window.kernel, window.stride, window.padding, window.dilation)
    guard !rows.isEmpty, count > 0 else { return }
    let best = UnsafeMutablePointer<Float>.allocate(capacity: count)
    defer { best.deallocate() }
    let laneSteps = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7) &* Int32(stride.width)
    for oh in rows {
        let winners = chosen + oh * outWidth + columns.lowerBound
        for ki in 0..<kernel.height {
            for kj in 0..<kernel.width {
                // The plane offset of this tap for the first output of the row's range.
                let offset =
                    (oh * stride.height - padding.height + ki * dilation.height) * width + columns.lowerBound * stride.width
                    - padding.width + kj * dilation.width
                let tap = image + offset
                if ki == 0 && kj == 0 {
                    for j in 0..<count { (best[j], winners[j]) = (tap[j * stride.width], Int32(offset + j * stride.width)) }
                    continue
                }
                var j = 0
                while j + 8 <= count {
                    let value = window.eightTaps(tap, from: j)
                    var largest = UnsafeRawPointer(best + j).loadUnaligned(as: SIMD8<Float>.self)
                    var winner = UnsafeRawPointer(winners + j).loadUnaligned(as: SIMD8<Int32>.self)
                    // A larger value, or a NaN (the last NaN wins, as PyTorch's).
                    let takes = (value .> largest) .| (value .!= value)
                    largest.replace(with: value, where: takes)
                    winner.replace(with: SIMD8(repeating: Int32(offset + j * stride.width)) &+ laneSteps, where: takes)
                    UnsafeMutableRawPointer(best + j).storeBytes(of: largest, as: SIMD8<Float>.self)
                    UnsafeMutableRawPointer(winners + j).storeBytes(of: winner, as: SIMD8<Int32>.self)
                    j += 8
                }
                for j in j..<count {
                    let value = tap[j * stride.width]
                    if value > best[j] || value.isNaN { (best[j], winners[j]) = (value, Int32(offset + j * stride.width)) }
                }
            }
        }
    }
}

/// ``maxPoolWinners(_:_:)`` for one plane's outputs outside `skipping` (whose windows may reach
/// into the padding), each tap checked against the image's bounds.
private func borderWinners(
    _ image: UnsafeMutablePointer<Float>, into chosen: UnsafeMutablePointer<Int32>, _ window: PoolingWindow,
    skipping inside: (rows: Range<Int>, columns: Range<Int>)
) {
    let (height, width, outWidth) = (window.height, window.width, window.outWidth)
    let (kernel, stride, padding, dilation) = (window.kernel, window.stride, window.padding, window.dilation)
    guard inside.rows.count < window.outHeight || inside.columns.count < outWidth else { return }
    for oh in 0..<window.outHeight {
        let skipped = inside.rows.contains(oh) && !inside.columns.isEmpty ? inside.columns : outWidth..<outWidth
        var ow = 0
        while ow < outWidth {
            if ow == skipped.lowerBound { ow = skipped.upperBound }
            guard ow < outWidth else { break }
            defer { ow += 1 }
            var best = -Float.infinity
            var winner: Int32 = -1
            for ki in 0..<kernel.height {
                let ih = oh * stride.height - padding.height + ki * dilation.height
                guard ih >= 0 && ih < height else { continue }
                for kj in 0..<kernel.width {
                    let iw = ow * stride.width - padding.width + kj * dilation.width
                    guard iw >= 0 && iw < width else { continue }
                    let value = image[ih * width + iw]
                    if winner < 0 || value > best || value.isNaN {
                        best = value
                        winner = Int32(ih * width + iw)
                    }
                }
            }
            chosen[oh * outWidth + ow] = winner
        }
    }
}
