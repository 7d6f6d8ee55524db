import NN
import Tensor

/// Which loss `zoo train` minimises, as `--loss` names it.
public enum LossKind: String, Sendable, CaseIterable, Codable {
    case crossEntropy = "cross-entropy"
    case nll
    case mse
    case l1
    case bceWithLogits = "bce-with-logits"

    /// The loss with PyTorch's defaults (mean reduction).
    var loss: any Loss {
        switch self {
        case .crossEntropy: CrossEntropyLoss()
        case .nll: NLLLoss()
        case .mse: MSELoss()
        case .l1: L1Loss()
        case .bceWithLogits: BCEWithLogitsLoss()
        }
    }

    /// Whether targets are class indices, so that accuracy means something.
    var classifies: Bool { self == .crossEntropy || self == .nll }
}

/// How `zoo train` runs: the flags of the command, with PyTorch's defaults.
public struct TrainingOptions: Sendable {
    /// The total number of epochs: a resumed run continues up to it.
    public var epochs: Int
    public var batchSize: Int
    // The run's settings below are optional: nil takes PyTorch's default on a new run and the
    // saved run's setting on resume, where a value given must agree with the run's (see
    // `RunState.checkAgreement`), so that a flag is never silently ignored.
    /// nil: Adam.
    public var optimizer: OptimizerKind?
    /// nil: 0.001 (PyTorch's default for Adam, AdamW and SGD).
    public var learningRate: Double?
    /// SGD's momentum; nil: 0.
    public var momentum: Double?
    /// nil: 0.01 for AdamW, 0 otherwise, as PyTorch's defaults.
    public var weightDecay: Double?
    /// nil: cross-entropy.
    public var loss: LossKind?
    /// Shuffled batches from the seeded generator; false: file order; nil: shuffled.
    public var shuffle: Bool?
    /// nil: 0.
    public var seed: UInt64?
    /// Stop after this many optimizer steps (of this run), nil: run to the last epoch.
    public var maxSteps: Int?
    /// Continue the run the input file's training state describes.
    public var resume = false
    /// The learning-rate schedule, stepped per epoch; nil: a constant rate. On resume the saved
    /// schedule continues (these must then agree with it).
    public var scheduler: SchedulerOptions?

    public init(epochs: Int, batchSize: Int) {
        self.epochs = epochs
        self.batchSize = batchSize
    }
}

/// Examples to train or validate on: `inputs` `(N, ...)`, `targets` `(N, ...)` (class indices
/// for a classification loss), and the class names when they came from folder names.
public struct TrainingSet: Sendable {
    public var inputs: [Float]
    public var sampleShape: [Int]
    public var targets: Tensor
    public var classes: [String]?

    public init(inputs: Tensor, targets: Tensor, classes: [String]? = nil) throws {
        guard let count = inputs.shape.first, count > 0, targets.shape.first == count else {
            throw TrainingError.data(
                "inputs \(inputs.shape) and targets \(targets.shape) must hold the same number (> 0) of examples on axis 0")
        }
        self.inputs = inputs.scalars
        sampleShape = Array(inputs.shape.dropFirst())
        self.targets = targets
        self.classes = classes
    }

    public var count: Int { targets.shape.first ?? 0 }

    /// The examples at `indices`, in that order, as one batch.
    func batch(_ indices: [Int]) -> (inputs: Tensor, targets: Tensor) {
        let size = sampleShape.reduce(1, *)
        var values = [Float]()
        values.reserveCapacity(indices.count * size)
        for index in indices { values.append(contentsOf: inputs[(index * size)..<((index + 1) * size)]) }
        return (Tensor(shape: [indices.count] + sampleShape, scalars: values), targets.rows(indices))
    }
}

extension Tensor {
    /// Rows `indices` of axis 0, in that order; int64 stays int64, anything else is float32.
    func rows(_ indices: [Int]) -> Tensor {
        let size = shape.dropFirst().reduce(1, *)
        let shape = [indices.count] + self.shape.dropFirst()
        if case .int64(let values) = storage,
            let picked = try? Tensor(shape: shape, storage: .int64(indices.flatMap { values[($0 * size)..<(($0 + 1) * size)] }))
        {
            return picked
        }
        let all = scalars
        return Tensor(shape: shape, scalars: indices.flatMap { all[($0 * size)..<(($0 + 1) * size)] })
    }
}

/// Why a training run could not start or continue.
public enum TrainingError: Error, Sendable, CustomStringConvertible {
    case data(String)
    case invalidState(path: String, reason: String)
    case noState(path: String)
    /// The options contradict each other or, on resume, the run the file holds; the reason
    /// names the flag.
    case options(String)

    public var description: String {
        switch self {
        case .data(let reason): "training data: \(reason)"
        case .invalidState(let path, let reason): "\(path): the training state is unusable: \(reason)"
        case .noState(let path): "\(path) holds no training state to resume (it was not written by zoo train)"
        case .options(let reason): reason
        }
    }
}
