import Tensor

/// Where each pooled value's gradient goes: for every output element, the input elements (as
/// offsets within the plane) and the share each gets. Pooling's backward is a scatter through it.
private struct PoolingRoutes {
    let inputShape: [Int]
    let outputShape: [Int]
    /// Per output element of every plane: the input offsets in its plane and the share of the
    /// gradient each gets; an empty list sends nothing.
    let routes: [(offsets: [Int], share: Float)]

    func pullback(_ gradient: Tensor, layer: String) throws -> Tensor {
        guard gradient.shape == outputShape else {
            throw NNError.inputShape(
                layer: "\(layer) backward", expected: "a gradient of the output's shape \(outputShape)", got: gradient.shape)
        }
        let inPlane = inputShape[2] * inputShape[3]
        let outPlane = outputShape[2] * outputShape[3]
        let dy = gradient.scalars
        var dx = [Float](repeating: 0, count: inputShape.reduce(1, *))
        for plane in 0..<(inputShape[0] * inputShape[1]) {
            let (inBase, outBase) = (plane * inPlane, plane * outPlane)
            for index in 0..<outPlane {
                let route = routes[outBase + index]
                let value = dy[outBase + index] * route.share
                for offset in route.offsets { dx[inBase + offset] += value }
            }
        }
        return Tensor(shape: inputShape, scalars: dx)
    }
}

/// The offset of the maximum of `candidates` in `image` as PyTorch's CPU kernels pick it:
/// `(value > best) || isnan(value)` replaces the winner, so the first of equal maxima wins, and
/// the last NaN.
private func argmax(_ image: UnsafeBufferPointer<Float>, _ base: Int, _ candidates: [Int]) -> [Int] {
    var best = -Float.infinity
    var winner = candidates.first
    for offset in candidates {
        let value = image[base + offset]
        if value > best || value.isNaN {
            best = value
            winner = offset
        }
    }
    return winner.map { [$0] } ?? []
}

/// Each output element's window, as plane offsets, for every plane (windows repeat per plane,
/// values do not): `window(oh, ow)`.
private func routesPerPlane(
    input: Tensor, outHeight: Int, outWidth: Int, window: (Int, Int) -> [Int], choose: (UnsafeBufferPointer<Float>, Int, [Int]) -> [Int],
    share: (Int, Int, [Int]) -> Float
) -> [(offsets: [Int], share: Float)] {
    let planes = input.shape[0] * input.shape[1]
    let inPlane = input.shape[2] * input.shape[3]
    let windows = (0..<(outHeight * outWidth)).map { window($0 / outWidth, $0 % outWidth) }
    return input.scalars.withUnsafeBufferPointer { x in
        (0..<planes).flatMap { plane in
            windows.enumerated().map { index, offsets in
                (choose(x, plane * inPlane, offsets), share(index / outWidth, index % outWidth, offsets))
            }
        }
    }
}

extension MaxPool2d: Differentiable {
    /// The gradient goes to each window's maximum as PyTorch's CPU kernel picks it (the first
    /// of equal maxima, the last NaN), found once in the forward: one index per output.
    public func forwardWithPullback(_ input: Tensor, pass: TrainingPass) throws -> (output: Tensor, pullback: Pullback) {
        let window = try PoolingWindow(
            layer: typeName, input: input.shape, kernel: kernelSize, stride: stride, padding: padding, dilation: dilation,
            ceilMode: ceilMode)
        let (winners, values) = maxPoolWinners(input, window)
        let (inPlane, outPlane) = (window.height * window.width, window.outHeight * window.outWidth)
        let output = Tensor(shape: window.outputShape, scalars: values)
        return (
            output,
            { gradient in
                try checkGradient(gradient, output: output, layer: "MaxPool2d")
                let dy = gradient.scalars
                // Each plane is zeroed on the thread that adds into it (not the whole input on
                // one thread first), and the winners are read in place (not copied).
                let dx = [Float](unsafeUninitializedCapacity: input.count) { dx, initialized in
                    initialized = input.count
                    guard let written = dx.baseAddress else { return }
                    let target = SharedPointer(written)
                    withReadPointers(dy, []) { dy, _ in
                        winners.withUnsafeBufferPointer { winners in
                            guard let first = winners.baseAddress else { return }
                            let (dy, winners) = (SharedPointer(dy), SharedPointer(first))
                            parallelFor(window.planes, costPerIndex: inPlane + outPlane) { plane in
                                let image = target.base + plane * inPlane
                                image.initialize(repeating: 0, count: inPlane)
                                for index in (plane * outPlane)..<((plane + 1) * outPlane) {
                                    let winner = Int(winners.base[index])
                                    if winner >= 0 { image[winner] += dy.base[index] }
                                }
                            }
                        }
                    }
                }
                return Tensor(shape: input.shape, scalars: dx)
            }
        )
    }
}

extension AvgPool2d: Differentiable {
    /// Each window's gradient, divided by the forward's divisor, to every real pixel in it.
    public func forwardWithPullback(_ input: Tensor, pass: TrainingPass) throws -> (output: Tensor, pullback: Pullback) {
        let output = try forward(input)
        let window = try PoolingWindow(
            layer: typeName, input: input.shape, kernel: kernelSize, stride: stride, padding: padding, dilation: 1, ceilMode: ceilMode)
        let (countIncludePad, divisorOverride) = (countIncludePad, divisorOverride)
        let routes = PoolingRoutes(
            inputShape: input.shape, outputShape: output.shape,
            routes: routesPerPlane(
                input: input, outHeight: window.outHeight, outWidth: window.outWidth,
                window: { oh, ow in
                    let h0 = oh * window.stride.height - window.padding.height
                    let w0 = ow * window.stride.width - window.padding.width
                    let rows = Swift.max(h0, 0)..<Swift.min(h0 + window.kernel.height, window.height)
                    let columns = Swift.max(w0, 0)..<Swift.min(w0 + window.kernel.width, window.width)
                    return rows.flatMap { ih in columns.map { ih * window.width + $0 } }
                }, choose: { _, _, offsets in offsets },
                share: { oh, ow, offsets in
                    let h0 = oh * window.stride.height - window.padding.height
                    let w0 = ow * window.stride.width - window.padding.width
                    let paddedRows = Swift.min(h0 + window.kernel.height, window.height + window.padding.height) - h0
                    let paddedColumns = Swift.min(w0 + window.kernel.width, window.width + window.padding.width) - w0
                    let divisor = divisorOverride ?? (countIncludePad ? paddedRows * paddedColumns : offsets.count)
                    return offsets.isEmpty ? 0 : 1 / Float(divisor)
                }))
        return (output, { try routes.pullback($0, layer: "AvgPool2d") })
    }
}

/// Adaptive pooling's routes from `input` to `size` (checked by the forward): each output's
/// window `[floor(i * in / out), ceil((i + 1) * in / out))` on both axes, sent through `choose`
/// and `share` as ``routesPerPlane``.
private func adaptiveRoutes(
    _ input: Tensor, _ output: Tensor, _ size: AdaptiveOutputSize, choose: (UnsafeBufferPointer<Float>, Int, [Int]) -> [Int],
    share: @escaping ([Int]) -> Float
) -> PoolingRoutes {
    let (height, width) = (input.shape[2], input.shape[3])
    let (outHeight, outWidth) = (size.height ?? height, size.width ?? width)
    return PoolingRoutes(
        inputShape: input.shape, outputShape: output.shape,
        routes: routesPerPlane(
            input: input, outHeight: outHeight, outWidth: outWidth,
            window: { oh, ow in
                let columns = adaptiveWindow(ow, input: width, output: outWidth)
                return adaptiveWindow(oh, input: height, output: outHeight).flatMap { ih in columns.map { ih * width + $0 } }
            }, choose: choose, share: { _, _, offsets in share(offsets) }))
}

extension AdaptiveAvgPool2d: Differentiable {
    public func forwardWithPullback(_ input: Tensor, pass: TrainingPass) throws -> (output: Tensor, pullback: Pullback) {
        let output = try forward(input)
        let routes = adaptiveRoutes(input, output, outputSize, choose: { _, _, offsets in offsets }) { 1 / Float($0.count) }
        return (output, { try routes.pullback($0, layer: "AdaptiveAvgPool2d") })
    }
}

extension AdaptiveMaxPool2d: Differentiable {
    public func forwardWithPullback(_ input: Tensor, pass: TrainingPass) throws -> (output: Tensor, pullback: Pullback) {
        let output = try forward(input)
        let routes = adaptiveRoutes(input, output, outputSize, choose: argmax) { _ in 1 }
        return (output, { try routes.pullback($0, layer: "AdaptiveMaxPool2d") })
    }
}

extension Upsample: Differentiable {
    /// Each output pixel's gradient to the source pixels it read, weighted as it blended them.
    public func forwardWithPullback(_ input: Tensor, pass: TrainingPass) throws -> (output: Tensor, pullback: Pullback) {
        let output = try forward(input)
        let (height, width, outHeight, outWidth) = (input.shape[2], input.shape[3], output.shape[2], output.shape[3])
        let (rows, columns) = taps(height: height, width: width, outHeight: outHeight, outWidth: outWidth)
        let nearest = mode == .nearest
        return (
            output,
            { gradient in
                try checkGradient(gradient, output: output, layer: "Upsample")
                let dy = gradient.scalars
                var dx = [Float](repeating: 0, count: input.count)
                for plane in 0..<(input.shape[0] * input.shape[1]) {
                    let (inBase, outBase) = (plane * height * width, plane * outHeight * outWidth)
                    for (oh, (h0, h1, hl)) in rows.enumerated() {
                        for (ow, (w0, w1, wl)) in columns.enumerated() {
                            let g = dy[outBase + oh * outWidth + ow]
                            if nearest {
                                dx[inBase + h0 * width + w0] += g
                                continue
                            }
                            dx[inBase + h0 * width + w0] += (1 - hl) * (1 - wl) * g
                            dx[inBase + h0 * width + w1] += (1 - hl) * wl * g
                            dx[inBase + h1 * width + w0] += hl * (1 - wl) * g
                            dx[inBase + h1 * width + w1] += hl * wl * g
                        }
                    }
                }
                return Tensor(shape: input.shape, scalars: dx)
            }
        )
    }
}
