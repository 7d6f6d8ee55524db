import Tensor

extension Linear: Differentiable {
    /// With the input's leading axes as rows `X`: `dX = dY W`, `dW += dY^T X`, `db += sum of dY's rows`.
    public func forwardWithPullback(_ input: Tensor, pass: TrainingPass) throws -> (output: Tensor, pullback: Pullback) {
        let output = try forward(input)
        let (weight, hasBias) = (self.weight, bias != nil)
        let (rows, inFeatures, outFeatures) = (input.count / Swift.max(inFeatures, 1), inFeatures, outFeatures)
        return (
            output,
            { [self] gradient in
                try checkGradient(gradient, output: output, layer: "Linear")
                let dy = gradient.scalars
                var inputGradient: [Float] = []
                let weightGradient = makeValues(zeroed: weight.count) { dw in
                    inputGradient = makeValues(zeroed: input.count) { dx in
                        withReadPointers(dy, weight.scalars) { dy, w in
                            gemm(
                                transposeA: false, transposeB: false, m: rows, n: inFeatures, k: outFeatures, a: dy, lda: outFeatures,
                                b: w, ldb: inFeatures, c: dx, ldc: inFeatures)
                        }
                        withReadPointers(dy, input.scalars) { dy, x in
                            gemm(
                                transposeA: true, transposeB: false, m: outFeatures, n: inFeatures, k: rows, a: dy, lda: outFeatures,
                                b: x, ldb: inFeatures, c: dw, ldc: inFeatures)
                        }
                    }
                }
                pass.gradients.accumulate(self, "weight", weightGradient)
                if hasBias { pass.gradients.accumulate(self, "bias", channelSums(dy, batch: rows, channels: outFeatures, plane: 1)) }
                return Tensor(shape: input.shape, scalars: inputGradient)
            }
        )
    }
}
