import Tensor

/// Batch normalisation over the channels of an NCHW input, as PyTorch's `nn.BatchNorm2d`.
///
/// `y = (x - mean) / sqrt(var + eps) * weight + bias`, per channel. Eval mode uses
/// `running_mean` / `running_var` when `track_running_stats`; train mode uses the batch's mean and
/// biased variance, then updates `running = (1 - f) * running + f * batch` with the unbiased
/// variance, where `f = momentum`, or `1 / num_batches_tracked` when momentum is nil
/// (a cumulative average), and increments `num_batches_tracked`.
///
/// State: `weight`, `bias` (`(C)`, when `affine`), `running_mean`, `running_var` (`(C)`),
/// `num_batches_tracked` (int64 scalar), the last three when `track_running_stats`.
public final class BatchNorm2d: Module {
    public let numFeatures: Int
    public let eps: Double
    public let momentum: Double?
    public let affine: Bool
    public let trackRunningStats: Bool
    public private(set) var weight: Tensor?
    public private(set) var bias: Tensor?
    public private(set) var runningMean: Tensor?
    public private(set) var runningVar: Tensor?
    public private(set) var numBatchesTracked: Tensor?

    public init(numFeatures: Int, eps: Double = 1e-5, momentum: Double? = 0.1, affine: Bool = true, trackRunningStats: Bool = true) throws {
        guard numFeatures > 0 else {
            throw NNError.invalidArgument(layer: "BatchNorm2d", argument: "num_features", reason: "must be positive")
        }
        self.numFeatures = numFeatures
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.trackRunningStats = trackRunningStats
        super.init()
        resetToDefaults()
    }

    /// PyTorch's `BatchNorm2d.reset_parameters()`: weight 1, bias 0, running mean 0, running
    /// variance 1, `num_batches_tracked` 0. Draws nothing from `generator`.
    public override func resetParameters(using generator: inout SeededGenerator) throws {
        resetToDefaults()
    }

    private func resetToDefaults() {
        if affine {
            weight = Tensor(shape: [numFeatures], scalars: Array(repeating: 1, count: numFeatures))
            bias = Tensor(zeros: [numFeatures])
        }
        if trackRunningStats {
            runningMean = Tensor(zeros: [numFeatures])
            runningVar = Tensor(shape: [numFeatures], scalars: Array(repeating: 1, count: numFeatures))
            numBatchesTracked = Tensor(zeros: [], dtype: .int64)
        }
    }

    public override var localState: [(name: String, tensor: Tensor)] {
        var state: [(name: String, tensor: Tensor)] = []
        if let weight, let bias { state += [("weight", weight), ("bias", bias)] }
        if let runningMean, let runningVar, let numBatchesTracked {
            state += [("running_mean", runningMean), ("running_var", runningVar), ("num_batches_tracked", numBatchesTracked)]
        }
        return state
    }

    public override func setLocalState(_ name: String, to tensor: Tensor) throws {
        let vector = [numFeatures]
        switch name {
        case "weight" where affine: try requireShape(tensor, vector, key: name); weight = tensor.converted(to: .float32)
        case "bias" where affine: try requireShape(tensor, vector, key: name); bias = tensor.converted(to: .float32)
        case "running_mean" where trackRunningStats:
            try requireShape(tensor, vector, key: name); runningMean = tensor.converted(to: .float32)
        case "running_var" where trackRunningStats: try requireShape(tensor, vector, key: name); runningVar = tensor.converted(to: .float32)
        case "num_batches_tracked" where trackRunningStats:
            try requireShape(tensor, [], key: name); numBatchesTracked = tensor.converted(to: .int64)
        default: throw NNError.unknownStateKey(key: name)
        }
    }

    public override func forward(_ input: Tensor) throws -> Tensor {
        guard input.rank == 4, input.shape[1] == numFeatures else {
            throw NNError.inputShape(layer: "BatchNorm2d(\(numFeatures))", expected: "(N, \(numFeatures), H, W)", got: input.shape)
        }
        let (batch, channels) = (input.shape[0], input.shape[1])
        let plane = input.shape[2] * input.shape[3]
        let x = input.scalars
        let useBatchStatistics = isTraining || !trackRunningStats
        var mean = [Double](repeating: 0, count: channels)
        var variance = [Double](repeating: 0, count: channels)
        if useBatchStatistics {
            let perChannel = batch * plane
            if isTraining && perChannel <= 1 {
                throw NNError.training(
                    layer: "BatchNorm2d", reason: "expected more than 1 value per channel when training, got input shape \(input.shape)")
            }
            for c in 0..<channels {
                var sum = 0.0
                for n in 0..<batch {
                    let base = (n * channels + c) * plane
                    for index in base..<(base + plane) { sum += Double(x[index]) }
                }
                let m = sum / Double(perChannel)
                var squares = 0.0
                for n in 0..<batch {
                    let base = (n * channels + c) * plane
                    for index in base..<(base + plane) {
                        let d = Double(x[index]) - m
                        squares += d * d
                    }
                }
                mean[c] = m
                variance[c] = squares / Double(perChannel)
            }
            if isTraining && trackRunningStats { updateRunningStatistics(mean: mean, biasedVariance: variance, count: perChannel) }
        } else if let runningMean, let runningVar {
            mean = runningMean.scalars.map(Double.init)
            variance = runningVar.scalars.map(Double.init)
        }
        let (scale, shift) = affineMap(mean: mean, variance: variance)
        var y = x
        for n in 0..<batch {
            for c in 0..<channels {
                let base = (n * channels + c) * plane
                let (a, b) = (scale[c], shift[c])
                for index in base..<(base + plane) { y[index] = x[index] * a + b }
            }
        }
        return Tensor(shape: input.shape, scalars: y)
    }

    /// `y = x * scale[c] + shift[c]`, from the statistics in double precision.
    private func affineMap(mean: [Double], variance: [Double]) -> (scale: [Float], shift: [Float]) {
        let gamma = weight?.scalars
        let beta = bias?.scalars
        var scale = [Float](repeating: 1, count: numFeatures)
        var shift = [Float](repeating: 0, count: numFeatures)
        for c in 0..<numFeatures {
            let inverse = 1 / (variance[c] + eps).squareRoot()
            let g = Double(gamma?[c] ?? 1)
            scale[c] = Float(g * inverse)
            shift[c] = Float(Double(beta?[c] ?? 0) - mean[c] * g * inverse)
        }
        return (scale, shift)
    }

    /// In eval mode with running statistics, the per-channel map this layer applies, for a
    /// convolution to apply in its own output pass (the same float operations, so the same
    /// results, one pass over the activations fewer); nil when it depends on the batch.
    var evalAffineMap: (scale: [Float], shift: [Float])? {
        guard !isTraining, trackRunningStats, let runningMean, let runningVar else { return nil }
        return affineMap(mean: runningMean.scalars.map(Double.init), variance: runningVar.scalars.map(Double.init))
    }

    private func updateRunningStatistics(mean: [Double], biasedVariance: [Double], count: Int) {
        guard let runningMean, let runningVar, let numBatchesTracked else { return }
        let tracked: Int64
        if case .int64(let values) = numBatchesTracked.storage, let value = values.first { tracked = value + 1 } else { tracked = 1 }
        self.numBatchesTracked = try? Tensor(shape: [], storage: .int64([tracked]))
        let factor = momentum ?? (1 / Double(tracked))
        let correction = Double(count) / Double(count - 1)
        let oldMean = runningMean.scalars
        let oldVar = runningVar.scalars
        self.runningMean = Tensor(
            shape: [numFeatures],
            scalars: (0..<numFeatures).map {
                Float((1 - factor) * Double(oldMean[$0]) + factor * mean[$0])
            })
        self.runningVar = Tensor(
            shape: [numFeatures],
            scalars: (0..<numFeatures).map {
                Float((1 - factor) * Double(oldVar[$0]) + factor * biasedVariance[$0] * correction)
            })
    }
}
