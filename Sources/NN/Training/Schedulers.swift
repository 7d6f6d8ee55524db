import Foundation

/// A learning-rate schedule over epochs, as PyTorch's `lr_scheduler`s: made after the optimizer
/// (which it leaves at its `base_lr`, epoch 0), stepped after each epoch's optimizer steps.
public protocol LearningRateScheduler {
    /// `last_epoch`: 0 when made, +1 per ``step(_:)``.
    var lastEpoch: Int { get }
    /// `base_lrs[0]`: the optimizer's learning rate when the scheduler was made.
    var baseLearningRate: Double { get }
    /// Advances one epoch and sets the optimizer's learning rate.
    mutating func step(_ optimizer: any Optimizer)
}

/// `StepLR(step_size, gamma)`: the rate times `gamma` every `step_size` epochs, in PyTorch's
/// chainable form (multiplying the optimizer's current rate).
public struct StepLR: LearningRateScheduler {
    public let stepSize: Int
    public let gamma: Double
    public let baseLearningRate: Double
    public internal(set) var lastEpoch = 0

    public init(optimizer: any Optimizer, stepSize: Int, gamma: Double = 0.1) throws {
        guard stepSize > 0 else { throw NNError.invalidArgument(layer: "StepLR", argument: "step_size", reason: "must be positive") }
        self.stepSize = stepSize
        self.gamma = gamma
        baseLearningRate = optimizer.learningRate
    }

    public init(stepSize: Int, gamma: Double, baseLearningRate: Double, lastEpoch: Int) {
        (self.stepSize, self.gamma, self.baseLearningRate, self.lastEpoch) = (stepSize, gamma, baseLearningRate, lastEpoch)
    }

    public mutating func step(_ optimizer: any Optimizer) {
        lastEpoch += 1
        if lastEpoch % stepSize == 0 { optimizer.learningRate *= gamma }
    }
}

/// `CosineAnnealingLR(T_max, eta_min)` in PyTorch's recursive (chainable) form:
/// `lr = (1 + cos(π e / T)) / (1 + cos(π (e - 1) / T)) (lr - η) + η`, with its restart rule at
/// `(e - 1 - T) mod 2T == 0`.
public struct CosineAnnealingLR: LearningRateScheduler {
    public let tMax: Int
    public let etaMin: Double
    public let baseLearningRate: Double
    public internal(set) var lastEpoch = 0

    public init(optimizer: any Optimizer, tMax: Int, etaMin: Double = 0) throws {
        guard tMax > 0 else { throw NNError.invalidArgument(layer: "CosineAnnealingLR", argument: "T_max", reason: "must be positive") }
        self.tMax = tMax
        self.etaMin = etaMin
        baseLearningRate = optimizer.learningRate
    }

    public init(tMax: Int, etaMin: Double, baseLearningRate: Double, lastEpoch: Int) {
        (self.tMax, self.etaMin, self.baseLearningRate, self.lastEpoch) = (tMax, etaMin, baseLearningRate, lastEpoch)
    }

    public mutating func step(_ optimizer: any Optimizer) {
        lastEpoch += 1
        let (epoch, period, lr) = (Double(lastEpoch), Double(tMax), optimizer.learningRate)
        if (lastEpoch - 1 - tMax) % (2 * tMax) == 0 {
            optimizer.learningRate = lr + (baseLearningRate - etaMin) * (1 - cos(Double.pi / period)) / 2
        } else {
            optimizer.learningRate =
                (1 + cos(Double.pi * epoch / period)) / (1 + cos(Double.pi * (epoch - 1) / period)) * (lr - etaMin) + etaMin
        }
    }
}
