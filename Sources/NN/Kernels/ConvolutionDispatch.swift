import Tensor

/// What a convolution layer hands its kernels: the layer's kernel choice, its oneDNN plans and
/// its tensors. ``run(_:_:oneDNN:epilogue:)`` tries oneDNN first and falls back to zoo's own
/// kernels, the reason kept in the plans.
struct ConvolutionKernelCall {
    let kernels: ConvolutionKernels
    let plans: OneDNNPlans
    let weight: Tensor
    let bias: Tensor?

    /// The output of `problem` on `input`: oneDNN's when `oneDNN` describes a case it runs, else
    /// `fallback`'s (zoo's im2col or col2im kernel).
    func run(
        _ input: Tensor, _ problem: ConvolutionProblem, oneDNN: Result<OneDNNConvolutionShape, OneDNNFallback>,
        epilogue: ConvolutionEpilogue?,
        fallback: ([Float], ConvolutionProblem, [Float], [Float]?, ConvolutionEpilogue?) -> [Float]
    ) -> Tensor {
        if kernels.usesOneDNN {
            switch oneDNN {
            case .success(let shape):
                if let output = plans.convolve(input, shape: shape, weight: weight, bias: bias, epilogue: epilogue) { return output }
            case .failure(let reason):
                plans.record(reason)
            }
        }
        let output = fallback(input.scalars, problem, weight.scalars, bias?.scalars, epilogue)
        return Tensor(shape: problem.outputShape, scalars: output)
    }
}
