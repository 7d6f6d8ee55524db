import Checkpoint
import Foundation
import JSON
import NN
import Tensor

/// Everything a run carries from step to step, and its JSON form in the checkpoint
/// (``TrainingState``): the optimizer and its learning-rate scheduler, where the run is
/// (completed epochs, batches done in the current one, steps in all), the generator (its state now, and at the start of the epoch,
/// from which the epoch's order is drawn again on resume), the epoch's sums so far and the
/// finished epochs' records.
struct RunState {
    var optimizer: any Optimizer
    /// Stepped at the end of each epoch; nil: a constant rate.
    var scheduler: (any LearningRateScheduler)?
    let optimizerKind: OptimizerKind
    let loss: LossKind
    let batchSize: Int
    let shuffle: Bool
    let seed: UInt64
    let parameterKeys: [String]
    /// Completed epochs.
    var epoch = 0
    var stepInEpoch = 0
    var globalStep = 0
    var generator: SeededGenerator
    var epochGenerator: UInt64
    var lossSum = 0.0
    var correct = 0.0
    var seen = 0.0
    var history: [EpochRecord] = []

    /// A new run from `options`, or, with `options.resume`, the run the model's file describes
    /// (its optimizer, scheduler, loss, batch size, order and generator; `epochs` and `maxSteps`
    /// still come from the options, and scheduler options must agree with the saved scheduler).
    init(model: ZooModel, parameters: [NamedParameter], options: TrainingOptions) throws {
        guard options.batchSize > 0, options.epochs > 0 else { throw TrainingError.data("epochs and batch size must be positive") }
        parameterKeys = parameters.map(\.key)
        let path = model.path
        guard options.resume else {
            let kind = options.optimizer ?? .adam
            optimizerKind = kind
            loss = options.loss ?? .crossEntropy
            batchSize = options.batchSize
            shuffle = options.shuffle ?? true
            seed = options.seed ?? 0
            generator = SeededGenerator(seed: seed)
            epochGenerator = seed
            let lr = options.learningRate ?? 0.001
            switch kind {
            case .sgd:
                optimizer = try SGD(
                    parameters: parameters, learningRate: lr, momentum: options.momentum ?? 0, weightDecay: options.weightDecay ?? 0)
            case .adam, .adamw:
                guard options.momentum == nil else { throw TrainingError.options("--momentum is SGD's; \(kind.rawValue) has none") }
                optimizer = try Adam(
                    parameters: parameters, learningRate: lr, weightDecay: options.weightDecay ?? (kind == .adamw ? 0.01 : 0),
                    decoupledWeightDecay: kind == .adamw)
            }
            if let schedule = options.scheduler {
                scheduler = try SchedulerStateDict.make(schedule, optimizer: optimizer, epochs: options.epochs)
            }
            return
        }
        guard let saved = try TrainingState(model.checkpoint) else { throw TrainingError.noState(path: path) }
        let json = saved.json
        func field<T>(_ name: String, _ read: (JSONValue) -> T?) throws -> T {
            guard let value = json[name].flatMap(read) else { throw TrainingError.invalidState(path: path, reason: "no usable '\(name)'") }
            return value
        }
        guard let kind = OptimizerKind(rawValue: try field("optimizer_kind", \.stringValue)),
            let lossKind = LossKind(rawValue: try field("loss", \.stringValue))
        else { throw TrainingError.invalidState(path: path, reason: "unknown optimizer_kind or loss") }
        let keys = try field("parameters", \.arrayValue).compactMap(\.stringValue)
        guard keys == parameterKeys else {
            throw TrainingError.invalidState(
                path: path, reason: "the state's parameters are not the model's (\(keys.count) vs \(parameterKeys.count))")
        }
        optimizerKind = kind
        loss = lossKind
        batchSize = try field("batch_size", \.intValue)
        shuffle = try field("shuffle", \.boolValue)
        let generatorState = try field("generator", \.objectValue)
        guard let now = generatorState["state"]?.stringValue.flatMap(UInt64.init),
            let atEpoch = generatorState["epoch_state"]?.stringValue.flatMap(UInt64.init),
            let seed = generatorState["seed"]?.stringValue.flatMap(UInt64.init)
        else { throw TrainingError.invalidState(path: path, reason: "the generator state needs state, epoch_state and seed") }
        self.seed = seed
        generator = SeededGenerator(seed: now)
        epochGenerator = atEpoch
        epoch = try field("epoch", \.intValue)
        stepInEpoch = try field("step", \.intValue)
        globalStep = try field("global_step", \.intValue)
        let running = try field("running", \.objectValue)
        lossSum = running["loss_sum"]?.doubleValue ?? 0
        correct = running["correct"]?.doubleValue ?? 0
        seen = running["seen"]?.doubleValue ?? 0
        let records = try field("history", \.arrayValue)
        history = try records.map { try JSONDecoder().decode(EpochRecord.self, from: Data($0.serialized().utf8)) }
        optimizer = try OptimizerStateDict.decode(try field("optimizer", { $0 }), kind: kind, parameters: parameters, path: path)
        if let saved = json["scheduler"], saved != .null {
            scheduler = try SchedulerStateDict.decode(saved, className: try field("scheduler_class", \.stringValue), path: path)
        }
        try SchedulerStateDict.check(options.scheduler, against: scheduler, path: path)
        try checkAgreement(with: options, path: path)
    }

    /// Ends an epoch: the scheduler steps, as after an epoch in PyTorch's usual loop.
    mutating func finishEpoch() {
        scheduler?.step(optimizer)
        epoch += 1
        stepInEpoch = 0
        (lossSum, correct, seen) = (0, 0, 0)
    }

    /// The state as the checkpoint stores it (see the format page, "Training state").
    var state: TrainingState {
        let records = history.compactMap { record in
            (try? JSONEncoder().encode(record)).flatMap { try? JSONValue.parse(String(decoding: $0, as: UTF8.self)) }
        }
        let schedule = scheduler.map { SchedulerStateDict.encode($0, learningRate: optimizer.learningRate) }
        return TrainingState(
            json: .object([
                "format": .string("zoo-training"), "format_version": .int(1),
                "optimizer": OptimizerStateDict.encode(optimizer, initialLearningRate: scheduler?.baseLearningRate),
                "optimizer_class": .string(optimizerKind.className),
                "optimizer_kind": .string(optimizerKind.rawValue), "loss": .string(loss.rawValue),
                "parameters": .array(parameterKeys.map(JSONValue.string)),
                "epoch": .int(Int64(epoch)), "step": .int(Int64(stepInEpoch)), "global_step": .int(Int64(globalStep)),
                "batch_size": .int(Int64(batchSize)), "shuffle": .bool(shuffle),
                "scheduler": schedule?.state ?? .null, "scheduler_class": schedule.map { .string($0.className) } ?? .null,
                "generator": .object([
                    "algorithm": .string("splitmix64"), "seed": .string(String(seed)),
                    "state": .string(String(generator.currentState)), "epoch_state": .string(String(epochGenerator)),
                ]),
                "running": .object(["loss_sum": .double(lossSum), "correct": .double(correct), "seen": .double(seen)]),
                "history": .array(records),
            ]))
    }
}
