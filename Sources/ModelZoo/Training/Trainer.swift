import Checkpoint
import Foundation
import JSON
import NN
import Tensor

/// One finished epoch: `loss` is the mean of the per-sample losses over the epoch (each batch's
/// mean weighted by its size), `accuracy` the share of samples whose argmax is the target
/// (classification losses only); the validation set's the same, when there is one.
public struct EpochRecord: Sendable, Codable, Equatable {
    public var epoch: Int
    public var loss: Double
    public var accuracy: Double?
    public var valLoss: Double?
    public var valAccuracy: Double?

    enum CodingKeys: String, CodingKey {
        case epoch, loss, accuracy
        case valLoss = "val_loss"
        case valAccuracy = "val_accuracy"
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(epoch, forKey: .epoch)
        try container.encode(loss, forKey: .loss)
        // Absent values are JSON null, so that every epoch has the same keys.
        try container.encode(accuracy, forKey: .accuracy)
        try container.encode(valLoss, forKey: .valLoss)
        try container.encode(valAccuracy, forKey: .valAccuracy)
    }
}

/// What a run did: every epoch so far (those of the runs it resumed included), the optimizer
/// steps taken in all, where the checkpoint went, and whether Ctrl-C or `--steps` ended it early.
public struct TrainingReport: Sendable, Encodable {
    public var epochs: [EpochRecord]
    public var steps: Int
    public var output: String
    public var stoppedEarly: Bool

    enum CodingKeys: String, CodingKey {
        case epochs, steps, output
        case stoppedEarly = "stopped_early"
    }
}

/// Where a run is, for a progress bar: after each optimizer step.
public struct TrainingProgress: Sendable {
    public var epoch: Int
    public var epochs: Int
    public var step: Int
    public var stepsPerEpoch: Int
    /// The epoch's mean loss so far.
    public var loss: Double
    public var accuracy: Double?
    /// Seconds since this run started, and the steps it has taken.
    public var elapsed: Double
    public var stepsThisRun: Int
    public var stepsLeft: Int
}

/// `zoo train`'s engine: fine-tunes a checkpoint's model with PyTorch's arithmetic and writes
/// the result, training state included, as a checkpoint PyTorch (`zoo_h5.load_training`) or a
/// later `resume` continues.
public enum Trainer {
    /// Trains `model` (loaded from its file) on `data`, validating on `validation` after each
    /// epoch, and writes the checkpoint to `output` (atomically) when the last epoch ends, after
    /// `maxSteps`, or when `shouldStop` turns true: it is asked before each step after the first,
    /// so that a stop requested at any moment, even before the first step, ends the run after a
    /// whole step and the checkpoint always records progress.
    public static func train(
        _ model: ZooModel, data: TrainingSet, validation: TrainingSet? = nil, options: TrainingOptions, output: String,
        shouldStop: () -> Bool = { false }, progress: (TrainingProgress) -> Void = { _ in }
    ) throws -> TrainingReport {
        let network = model.resolved.model
        let parameters = network.namedParameters()
        var run = try RunState(model: model, parameters: parameters, options: options)
        let lossFunction = run.loss.loss
        let data = try data.converted(for: run.loss)
        let validation = try validation?.converted(for: run.loss)
        let batchesPerEpoch = (data.count + run.batchSize - 1) / run.batchSize
        let started = Date()
        var stepsThisRun = 0
        var stoppedEarly = false
        epochs: while run.epoch < options.epochs {
            if run.stepInEpoch == 0 { run.epochGenerator = run.generator.currentState }
            var shuffler = SeededGenerator(seed: run.epochGenerator)
            let order = run.shuffle ? Array(0..<data.count).shuffled(using: &shuffler) : Array(0..<data.count)
            if run.stepInEpoch == 0 { run.generator = shuffler }
            while run.stepInEpoch < batchesPerEpoch {
                if (stepsThisRun > 0 && shouldStop()) || options.maxSteps.map({ stepsThisRun >= $0 }) == true {
                    // Stopped before an epoch's first step: the generator goes back to where the
                    // epoch's order was drawn from, so that the resumed run draws it again.
                    if run.stepInEpoch == 0 { run.generator = SeededGenerator(seed: run.epochGenerator) }
                    stoppedEarly = true
                    break epochs
                }
                let first = run.stepInEpoch * run.batchSize
                let batch = data.batch(Array(order[first..<Swift.min(first + run.batchSize, data.count)]))
                network.train()
                let pass = TrainingPass(generator: run.generator)
                pass.needsInputGradient = false
                let (prediction, pullback) = try network.differentiableForward(batch.inputs, pass: pass)
                let (loss, gradient) = try lossFunction.evaluate(prediction, batch.targets)
                _ = try pullback(gradient)
                run.generator = pass.generator
                run.optimizer.step(pass.gradients)
                let size = Double(batch.targets.shape[0])
                run.lossSum += Double(loss.scalars[0]) * size
                run.correct += run.loss.classifies ? Double(correctCount(prediction, batch.targets)) : 0
                run.seen += size
                run.stepInEpoch += 1
                run.globalStep += 1
                stepsThisRun += 1
                progress(
                    TrainingProgress(
                        epoch: run.epoch + 1, epochs: options.epochs, step: run.stepInEpoch, stepsPerEpoch: batchesPerEpoch,
                        loss: run.lossSum / run.seen, accuracy: run.loss.classifies ? run.correct / run.seen : nil,
                        elapsed: Date().timeIntervalSince(started), stepsThisRun: stepsThisRun,
                        stepsLeft: (options.epochs - run.epoch) * batchesPerEpoch - run.stepInEpoch))
            }
            var record = EpochRecord(
                epoch: run.epoch + 1, loss: run.lossSum / run.seen, accuracy: run.loss.classifies ? run.correct / run.seen : nil)
            if let validation {
                let measured = try evaluate(network, on: validation, loss: run.loss, batchSize: run.batchSize)
                (record.valLoss, record.valAccuracy) = (measured.loss, measured.accuracy)
            }
            run.history.append(record)
            run.finishEpoch()
        }
        try write(model, run: run, data: data, validation: validation, to: output)
        return TrainingReport(epochs: run.history, steps: run.globalStep, output: output, stoppedEarly: stoppedEarly)
    }

    /// Eval-mode loss (mean over samples) and accuracy on `set`, in batches.
    static func evaluate(_ network: Module, on set: TrainingSet, loss kind: LossKind, batchSize: Int) throws
        -> (loss: Double, accuracy: Double?, predictions: [Int64])
    {
        network.eval()
        var (lossSum, correct) = (0.0, 0.0)
        var predictions: [Int64] = []
        for first in stride(from: 0, to: set.count, by: batchSize) {
            let batch = set.batch(Array(first..<Swift.min(first + batchSize, set.count)))
            let output = try network.forward(batch.inputs)
            let size = Double(batch.targets.shape[0])
            lossSum += Double(try kind.loss.evaluate(output, batch.targets).loss.scalars[0]) * size
            if kind.classifies {
                correct += Double(correctCount(output, batch.targets))
                predictions += argmaxRows(output).map { Int64($0) }
            }
        }
        return (lossSum / Double(set.count), kind.classifies ? correct / Double(set.count) : nil, predictions)
    }

    /// How many rows of a `(N, C)` output have their largest value (the first of equal ones, as
    /// `argmax`) at the target's class.
    static func correctCount(_ output: Tensor, _ targets: Tensor) -> Int {
        guard output.rank == 2 else { return 0 }
        let labels = targets.storage.doubles()
        return zip(argmaxRows(output), labels).filter { Double($0) == $1 }.count
    }

    static func argmaxRows(_ output: Tensor) -> [Int] {
        guard output.rank == 2, output.shape[1] > 0 else { return [] }
        let (rows, columns, values) = (output.shape[0], output.shape[1], output.scalars)
        return (0..<rows).map { row in
            var best = 0
            for column in 1..<columns where values[row * columns + column] > values[row * columns + best] { best = column }
            return best
        }
    }

    /// The new weights and BatchNorm statistics, a fresh `__tests__` pair (the first training
    /// example, eval mode), the validation set as `__eval__` with its accuracy, the classes, and
    /// the training state.
    private static func write(_ model: ZooModel, run: RunState, data: TrainingSet, validation: TrainingSet?, to path: String) throws {
        let network = model.resolved.model
        network.eval()
        let sample = data.batch([0]).inputs
        let reference = ReferenceCase(name: "0", input: sample, output: try network.forward(sample))
        var manifest =
            model.checkpoint.manifest
            ?? Manifest(arch: model.resolved.architecture?.name, archArgs: model.resolved.arguments.mapValues { .int(Int64($0)) })
        manifest.producer = "zoo train"
        if let classes = data.classes { manifest.classes = classes }
        var evalSet: EvalSet?
        if let validation, run.loss.classifies {
            let measured = try evaluate(network, on: validation, loss: run.loss, batchSize: run.batchSize)
            let labels = validation.targets.storage.doubles().map { Int64($0) }
            evalSet = EvalSet(
                inputs: Tensor(shape: [validation.count] + validation.sampleShape, scalars: validation.inputs), labels: labels,
                predictions: measured.predictions)
            var metrics = manifest.metrics ?? [:]
            metrics["accuracy"] = measured.accuracy.map(JSONValue.double) ?? .null
            manifest.metrics = metrics
        }
        try CheckpointWriter.write(
            network.stateDict(), manifest: manifest, referenceCases: [reference], evalSet: evalSet, to: path,
            format: CheckpointWriter.format(forPath: path), training: run.state)
    }
}

extension TrainingSet {
    /// Class-index targets as int64 for a classification loss, float32 otherwise.
    func converted(for loss: LossKind) throws -> TrainingSet {
        var copy = self
        if loss.classifies {
            guard !targets.storage.doubles().contains(where: { $0 != $0.rounded() }) else {
                throw TrainingError.data("\(loss.rawValue) needs class indices as targets, got fractional values")
            }
            copy.targets = targets.converted(to: .int64)
        } else {
            copy.targets = targets.converted(to: .float32)
        }
        return copy
    }
}
