import Tensor

extension BatchNorm2d: Differentiable {
    /// With `x̂ = (x - mean) * invstd` per channel over `M = N x H x W` values: `dweight = Σ dy x̂`,
    /// `dbias = Σ dy`, and, when the batch's statistics were used (train mode, or no running
    /// statistics), `dx = weight * invstd * (dy - Σ dy / M - x̂ Σ dy x̂ / M)`, the statistics'
    /// own dependence on `x` included; with running statistics `dx = weight * invstd * dy`. Sums
    /// in double precision.
    public func forwardWithPullback(_ input: Tensor, pass: TrainingPass) throws -> (output: Tensor, pullback: Pullback) {
        // The forward checks the shape, updates the running statistics in train mode and gives
        // PyTorch's output; the batch statistics are taken again for the backward.
        let output = try forward(input)
        let usesBatch = isTraining || !trackRunningStats
        let x = input.scalars
        let mean: [Double]
        let variance: [Double]
        if usesBatch {
            (mean, variance) = channelStatistics(x, shape: input.shape)
        } else {
            mean = (runningMean?.scalars ?? []).map(Double.init)
            variance = (runningVar?.scalars ?? []).map(Double.init)
        }
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
                for n in 0..<batch {
                    for c in 0..<channels {
                        let base = (n * channels + c) * plane
                        var (sum, product) = (0.0, 0.0)
                        for index in base..<(base + plane) {
                            sum += Double(dy[index])
                            product += Double(dy[index]) * (Double(x[index]) - mean[c])
                        }
                        sumGradient[c] += sum
                        sumProduct[c] += product * invstd[c]
                    }
                }
                var dx = [Float](repeating: 0, count: x.count)
                for n in 0..<batch {
                    for c in 0..<channels {
                        let base = (n * channels + c) * plane
                        let scale = gamma[c] * invstd[c]
                        if usesBatch {
                            let (meanGradient, projection) = (sumGradient[c] / count, sumProduct[c] / count * invstd[c])
                            for index in base..<(base + plane) {
                                let centred = Double(x[index]) - mean[c]
                                dx[index] = Float(scale * (Double(dy[index]) - meanGradient - centred * projection))
                            }
                        } else {
                            for index in base..<(base + plane) { dx[index] = Float(scale * Double(dy[index])) }
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
