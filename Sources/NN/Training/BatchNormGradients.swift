import Tensor

extension BatchNorm2d: Differentiable {
    /// With `x̂ = (x - mean) * invstd` per channel over `M = N x H x W` values: `dweight = Σ dy x̂`,
    /// `dbias = Σ dy`, and, when the batch's statistics were used (train mode, or no running
    /// statistics), `dx = weight * invstd * (dy - Σ dy / M - x̂ Σ dy x̂ / M)`, the statistics'
    /// own dependence on `x` included; with running statistics `dx = weight * invstd * dy`. Sums
    /// in double precision.
    public func forwardWithPullback(_ input: Tensor, pass: TrainingPass) throws -> (output: Tensor, pullback: Pullback) {
        // The forward checks the shape, updates the running statistics in train mode and gives
        // PyTorch's output, and the statistics it used, which the backward uses too.
        let (output, mean, variance) = try forwardWithStatistics(input)
        let usesBatch = isTraining || !trackRunningStats
        let x = input.scalars
        let invstd = variance.map { 1 / ($0 + eps).squareRoot() }
        let gamma = weight?.scalars.map(Double.init) ?? Array(repeating: 1, count: numFeatures)
        let (batch, channels, plane) = (input.shape[0], numFeatures, input.shape[2] * input.shape[3])
        return (
            output,
            { [self] gradient in
                try checkGradient(gradient, output: output, layer: "BatchNorm2d")
                let dy = gradient.scalars
                let count = Double(batch * plane)
                var sumGradient = [Double](repeating: 0, count: channels)
                var sumProduct = [Double](repeating: 0, count: channels)
                let dx = makeValues(zeroed: x.count) { dx in
                    withReadPointers(x, dy) { x, dy in
                        sumGradient.withUnsafeMutableBufferPointer { sums in
                            sumProduct.withUnsafeMutableBufferPointer { products in
                                // No channels, nothing to compute (and no sums to point at).
                                guard let sums = sums.baseAddress, let products = products.baseAddress else { return }
                                let buffers = ChannelBuffers(
                                    x: SharedPointer(x), dy: SharedPointer(dy), dx: SharedPointer(dx), sums: SharedPointer(sums),
                                    products: SharedPointer(products))
                                parallelFor(channels, costPerIndex: 3 * batch * plane) { c in
                                    buffers.channel(
                                        c, batch: batch, channels: channels, plane: plane, mean: mean[c], invstd: invstd[c],
                                        scale: gamma[c] * invstd[c], count: count, usesBatch: usesBatch)
                                }
                            }
                        }
                    }
                }
                if affine {
                    pass.gradients.accumulate(self, "weight", sumProduct.map { Float($0) })
                    pass.gradients.accumulate(self, "bias", sumGradient.map { Float($0) })
                }
                return Tensor(shape: input.shape, scalars: dx)
            }
        )
    }
}

/// One BatchNorm backward's buffers as the threads of a parallel loop over channels see them:
/// each channel reads and writes only its own planes and sums (the pointers are shared as
/// ``SharedPointer`` says).
private struct ChannelBuffers: Sendable {
    let x: SharedPointer<Float>
    let dy: SharedPointer<Float>
    let dx: SharedPointer<Float>
    let sums: SharedPointer<Double>
    let products: SharedPointer<Double>

    /// Channel `c`'s `Σ dy`, `Σ dy x̂`, then its `dx`.
    func channel(
        _ c: Int, batch: Int, channels: Int, plane: Int, mean: Double, invstd: Double, scale: Double, count: Double, usesBatch: Bool
    ) {
        var (sum, product) = (0.0, 0.0)
        for n in 0..<batch {
            let base = (n * channels + c) * plane
            for index in base..<(base + plane) {
                sum += Double(dy.base[index])
                product += Double(dy.base[index]) * (Double(x.base[index]) - mean)
            }
        }
        product *= invstd
        sums.base[c] = sum
        products.base[c] = product
        let (meanGradient, projection) = (sum / count, product / count * invstd)
        for n in 0..<batch {
            let base = (n * channels + c) * plane
            for index in base..<(base + plane) {
                let gradient = Double(dy.base[index])
                dx.base[index] =
                    usesBatch
                    ? Float(scale * (gradient - meanGradient - (Double(x.base[index]) - mean) * projection)) : Float(scale * gradient)
            }
        }
    }
}
