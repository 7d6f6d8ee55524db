import Synchronization
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
public final class BatchNorm2d: ModuleBase, Layer {
    public let numFeatures: Int
    public let eps: Double
    public let momentum: Double?
    public let affine: Bool
    public let trackRunningStats: Bool
    private let slots: BatchNormSlots
    public var weight: Tensor? { slots.weight.map { self[$0] } }
    public var bias: Tensor? { slots.bias.map { self[$0] } }
    public var runningMean: Tensor? { slots.runningMean.map { self[$0] } }
    public var runningVar: Tensor? { slots.runningVar.map { self[$0] } }
    public var numBatchesTracked: Tensor? { slots.numBatchesTracked.map { self[$0] } }

    /// The state starts as PyTorch's `BatchNorm2d.reset_parameters()` sets it: weight 1, bias 0,
    /// running mean 0, running variance 1, `num_batches_tracked` 0 (drawing nothing).
    public init(numFeatures: Int, eps: Double = 1e-5, momentum: Double? = 0.1, affine: Bool = true, trackRunningStats: Bool = true) throws {
        guard numFeatures > 0 else {
            throw NNError.invalidArgument(layer: "BatchNorm2d", argument: "num_features", reason: "must be positive")
        }
        self.numFeatures = numFeatures
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.trackRunningStats = trackRunningStats
        slots = BatchNormSlots(features: numFeatures, affine: affine, trackRunningStats: trackRunningStats)
        super.init(state: slots.all)
    }

    public func forward(_ input: Tensor) throws -> Tensor {
        try forwardWithStatistics(input).output
    }

    /// The output and the statistics it normalised with (the batch's, or the running ones), which
    /// the backward needs again.
    func forwardWithStatistics(_ input: Tensor) throws -> (output: Tensor, mean: [Double], variance: [Double]) {
        guard input.rank == 4, input.shape[1] == numFeatures else {
            throw NNError.inputShape(layer: "BatchNorm2d(\(numFeatures))", expected: "(N, \(numFeatures), H, W)", got: input.shape)
        }
        let x = input.scalars
        var mean = [Double](repeating: 0, count: numFeatures)
        var variance = [Double](repeating: 0, count: numFeatures)
        if isTraining || !trackRunningStats {
            let perChannel = input.shape[0] * input.shape[2] * input.shape[3]
            if isTraining && perChannel <= 1 {
                throw NNError.training(
                    layer: "BatchNorm2d", reason: "expected more than 1 value per channel when training, got input shape \(input.shape)")
            }
            (mean, variance) = channelStatistics(x, shape: input.shape)
            if isTraining && trackRunningStats { updateRunningStatistics(mean: mean, biasedVariance: variance, count: perChannel) }
        } else if let runningMean, let runningVar {
            mean = runningMean.scalars.map(Double.init)
            variance = runningVar.scalars.map(Double.init)
        }
        let (scale, shift) = affineMap(mean: mean, variance: variance)
        return (Tensor(shape: input.shape, scalars: affineChannels(x, shape: input.shape, scale: scale, shift: shift)), mean, variance)
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
    /// Made once per state: a graph program asks for it on every pass, and for 1,024 channels
    /// the map and its four state reads took about 8 µs each time.
    var evalAffineMap: (scale: [Float], shift: [Float])? {
        guard !isTraining, trackRunningStats, let runningMean, let runningVar else { return nil }
        if let known = keptAffineMap.withLock({ $0 }) { return known }
        let made = affineMap(mean: runningMean.scalars.map(Double.init), variance: runningVar.scalars.map(Double.init))
        keptAffineMap.withLock { $0 = made }
        return made
    }
    /// ``evalAffineMap`` for the current state, until it changes.
    private let keptAffineMap = Mutex<(scale: [Float], shift: [Float])?>(nil)

    public override func stateDidChange() { keptAffineMap.withLock { $0 = nil } }

    private func updateRunningStatistics(mean: [Double], biasedVariance: [Double], count: Int) {
        guard let runningMean = slots.runningMean, let runningVar = slots.runningVar, let numBatchesTracked = slots.numBatchesTracked
        else { return }
        let tracked: Int64
        if case .int64(let values) = self[numBatchesTracked].storage, let value = values.first { tracked = value + 1 } else { tracked = 1 }
        if let counted = try? Tensor(shape: [], storage: .int64([tracked])) { self[numBatchesTracked] = counted }
        let factor = momentum ?? (1 / Double(tracked))
        let correction = Double(count) / Double(count - 1)
        let oldMean = self[runningMean].scalars
        let oldVar = self[runningVar].scalars
        self[runningMean] = Tensor(
            shape: [numFeatures],
            scalars: (0..<numFeatures).map {
                Float((1 - factor) * Double(oldMean[$0]) + factor * mean[$0])
            })
        self[runningVar] = Tensor(
            shape: [numFeatures],
            scalars: (0..<numFeatures).map {
                Float((1 - factor) * Double(oldVar[$0]) + factor * biasedVariance[$0] * correction)
            })
    }
}

/// BatchNorm2d's state: `weight` and `bias` when affine, the running statistics when tracked.
private struct BatchNormSlots {
    let weight: StateSlot?
    let bias: StateSlot?
    let runningMean: StateSlot?
    let runningVar: StateSlot?
    let numBatchesTracked: StateSlot?

    init(features: Int, affine: Bool, trackRunningStats: Bool) {
        let vector = [features]
        weight = affine ? .parameter("weight", shape: vector, initialisation: .constant(1)) : nil
        bias = affine ? .parameter("bias", shape: vector, initialisation: .constant(0)) : nil
        runningMean = trackRunningStats ? .buffer("running_mean", shape: vector, initialisation: .constant(0)) : nil
        runningVar = trackRunningStats ? .buffer("running_var", shape: vector, initialisation: .constant(1)) : nil
        numBatchesTracked =
            trackRunningStats ? .buffer("num_batches_tracked", shape: [], dtype: .int64, initialisation: .constant(0)) : nil
    }

    /// In PyTorch's registration order.
    var all: [StateSlot] { [weight, bias, runningMean, runningVar, numBatchesTracked].compactMap { $0 } }
}
