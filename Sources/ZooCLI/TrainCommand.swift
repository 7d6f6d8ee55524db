import ArgumentParser
import Foundation
import ModelZoo

extension OptimizerKind: ExpressibleByArgument {}
extension LossKind: ExpressibleByArgument {}
extension SchedulerKind: ExpressibleByArgument {}

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Fine-tune a checkpoint's model on pictures (ImageFolder) or .npy arrays, with PyTorch's arithmetic.",
        discussion: """
            --data is torchvision's ImageFolder layout (one folder per class, the sorted names \
            being the class indices), each picture fed through the file's preprocess; --inputs and \
            --targets are .npy arrays. Batches run in file order with --no-shuffle (the last short \
            batch kept), else in an order drawn from the seeded generator. OUT (.h5 or \
            .safetensors) holds the new weights and BatchNorm statistics, a fresh __tests__ pair, \
            the validation set as __eval__, and the training state (the optimizer's and the \
            scheduler's state_dicts, epoch, step, generator), written atomically. --scheduler \
            steps the learning rate once per epoch, after the epoch's steps and validation, as \
            PyTorch's StepLR(step_size, gamma) or CosineAnnealingLR(T_max, eta_min). --resume \
            continues the run FILE holds (its optimizer, scheduler, order and generator) up to \
            --epochs; the run's settings given with it (--optimizer, --lr, --momentum, \
            --weight-decay, --loss, --batch-size, --seed, --no-shuffle and the scheduler flags) \
            must be the run's, else zoo exits 2 naming each that differs. Ctrl-C lets \
            the step in progress finish (the first step, when pressed before it), writes OUT \
            with the run's state after that step, prints the report and exits 130 (SIGTERM: the \
            same, exit 143; a second signal quits at once, leaving OUT as it was; a SIGINT \
            inherited as ignored stays ignored); pressed while FILE and the data are still \
            being read, it ends zoo at once and writes nothing. OUT \
            is never half-written: it stays the previous file until the new one replaces it \
            whole. Exit 0 when written, 130 (143) when SIGINT (SIGTERM) stopped the run (OUT written), 2 when a \
            file, the data or the arguments cannot be used.
            """)

    @OptionGroup var outputOptions: OutputOptions
    @OptionGroup var reading: ReadOptions

    @Argument(help: "The checkpoint to train (with --resume: one zoo train wrote).", completion: .file())
    var file: String

    @Option(
        name: .long, help: "Where to write the trained checkpoint (.h5 or .safetensors).",
        completion: .file(extensions: ["h5", "safetensors"]))
    var output: String

    @Option(name: .long, help: "A folder of training pictures, one sub-folder per class.", completion: .directory)
    var data: String?

    @Option(name: .long, help: "Training inputs (.npy, N first).", completion: .file(extensions: ["npy"]))
    var inputs: String?

    @Option(
        name: .long, help: "Training targets (.npy): class indices, or values for mse/l1/bce-with-logits.",
        completion: .file(extensions: ["npy"]))
    var targets: String?

    @Option(name: .long, help: "A folder of validation pictures, one sub-folder per class.", completion: .directory)
    var val: String?

    @Option(name: .long, help: "Validation inputs (.npy).", completion: .file(extensions: ["npy"]))
    var valInputs: String?

    @Option(name: .long, help: "Validation targets (.npy).", completion: .file(extensions: ["npy"]))
    var valTargets: String?

    @Option(name: .long, help: "Total epochs (a resumed run continues up to it).")
    var epochs: Int

    @Option(name: .long, help: "Examples per batch.")
    var batchSize: Int

    @Option(name: .long, help: "The optimizer (default adam).")
    var optimizer: OptimizerKind?

    @Option(name: .long, help: "Learning rate (default 0.001).")
    var lr: Double?

    @Option(name: .long, help: "SGD momentum (default 0).")
    var momentum: Double?

    @Option(name: .long, help: "Weight decay (default 0; 0.01 for adamw).")
    var weightDecay: Double?

    @Option(name: .long, help: "The loss (default cross-entropy).")
    var loss: LossKind?

    @Flag(name: .long, help: "Batches in file order.")
    var noShuffle = false

    @Option(name: .long, help: "Seed of the generator that orders batches and draws dropout masks (default 0).")
    var seed: UInt64?

    @Option(name: .long, help: "Stop after this many optimizer steps and write a resumable checkpoint.")
    var steps: Int?

    @Flag(name: .long, help: "Continue the run FILE holds (its optimizer, scheduler, order and generator).")
    var resume = false

    @Option(name: .long, help: "Draw the epochs' loss and accuracy curves as a PNG.", completion: .file(extensions: ["png"]))
    var plot: String?

    @Option(name: .long, help: "Learning-rate schedule, stepped per epoch: step (StepLR) or cosine (CosineAnnealingLR).")
    var scheduler: SchedulerKind?

    @Option(name: .long, help: "--scheduler step: epochs between decays (StepLR's step_size).")
    var stepSize: Int?

    @Option(name: .long, help: "--scheduler step: the factor of each decay (default 0.1).")
    var gamma: Double?

    @Option(name: .long, help: "--scheduler cosine: epochs of the half cosine (T_max; default --epochs).")
    var tMax: Int?

    @Option(name: .long, help: "--scheduler cosine: the lowest learning rate (eta_min; default 0).")
    var etaMin: Double?

    func validate() throws {
        let lowered = output.lowercased()
        guard lowered.hasSuffix(".h5") || lowered.hasSuffix(".hdf5") || lowered.hasSuffix(".safetensors") else {
            throw ValidationError("--output must end in .h5 or .safetensors, got '\(output)'")
        }
        guard (data != nil) != (inputs != nil || targets != nil) else {
            throw ValidationError("give --data DIR or --inputs X.npy --targets Y.npy")
        }
        guard (inputs == nil) == (targets == nil) else { throw ValidationError("--inputs and --targets go together") }
        guard val == nil || (valInputs == nil && valTargets == nil) else {
            throw ValidationError("give --val DIR or --val-inputs and --val-targets")
        }
        guard (valInputs == nil) == (valTargets == nil) else { throw ValidationError("--val-inputs and --val-targets go together") }
        guard epochs > 0 else { throw ValidationError("--epochs must be at least 1") }
        guard batchSize > 0, batchSize <= 1 << 24 else { throw ValidationError("--batch-size must be between 1 and 16777216") }
        if let steps, steps < 1 { throw ValidationError("--steps must be at least 1") }
        for (name, value) in [
            ("--lr", lr), ("--momentum", momentum), ("--weight-decay", weightDecay), ("--gamma", gamma), ("--eta-min", etaMin),
        ] {
            if let value, !value.isFinite || value < 0 { throw ValidationError("\(name) must be a finite non-negative number") }
        }
        try validateScheduler()
    }

    /// Each scheduler flag belongs to one `--scheduler`; StepLR has no default step size.
    private func validateScheduler() throws {
        for (name, given, kind) in [
            ("--step-size", stepSize != nil, SchedulerKind.step), ("--gamma", gamma != nil, .step), ("--t-max", tMax != nil, .cosine),
            ("--eta-min", etaMin != nil, .cosine),
        ] where given && scheduler != kind {
            throw ValidationError("\(name) needs --scheduler \(kind.rawValue)")
        }
        if scheduler == .step && stepSize == nil && !resume { throw ValidationError("--scheduler step needs --step-size N") }
        for (name, value) in [("--step-size", stepSize), ("--t-max", tMax)] {
            if let value, value < 1 || value > Int32.max { throw ValidationError("\(name) must be between 1 and 2147483647") }
        }
    }

    func run() throws {
        let model: ZooModel
        do { model = try ZooModel(contentsOf: file, reading: reading.files) } catch {
            throw ZooExit.unusable("cannot train \(file)", details: [error.description])
        }
        let training: TrainingSet
        let validation: TrainingSet?
        do {
            training =
                try data.map { try TrainingSet.imageFolder($0, model: model) }
                ?? TrainingSet.arrays(inputs: inputs ?? "", targets: targets ?? "")
            if let val {
                validation = try TrainingSet.imageFolder(val, model: model)
            } else if let valInputs, let valTargets {
                validation = try TrainingSet.arrays(inputs: valInputs, targets: valTargets)
            } else {
                validation = nil
            }
        } catch { throw ZooExit.unusable("cannot read the training data", details: ["\(error)"]) }
        var options = TrainingOptions(epochs: epochs, batchSize: batchSize)
        options.optimizer = optimizer
        options.learningRate = lr
        options.momentum = momentum
        options.weightDecay = weightDecay
        options.loss = loss
        options.shuffle = noShuffle ? false : nil
        options.seed = seed
        options.maxSteps = steps
        options.resume = resume
        options.scheduler = scheduler.map { SchedulerOptions(kind: $0, stepSize: stepSize, gamma: gamma, tMax: tMax, etaMin: etaMin) }

        let bar = ProgressBar(
            enabled: !outputOptions.json && CommandContext.current.output === OutputSink.standardStreams && isatty(2) == 1)
        let signals = StopSignals()
        let report: TrainingReport
        do {
            report = try Trainer.train(
                model, data: training, validation: validation, options: options, output: output,
                shouldStop: { signals.requested != nil }, progress: bar.show)
        } catch {
            // A flag that contradicts the resumed run is named on the first line.
            if case TrainingError.options(let reason) = error { throw ZooExit.unusable(reason) }
            throw ZooExit.unusable("training \(file) failed", details: ["\(error)"])
        }
        bar.finish()
        if let plot {
            do { try LossPlot.write(report.epochs, to: plot) } catch {
                throw ZooExit.unusable("cannot draw \(plot)", details: ["\(error)"])
            }
        }
        if outputOptions.json { Output.json(report) } else { printLines(report) }
        // Ctrl-C stopped the run: OUT is written and the report printed, but a script's `&&`
        // must not carry on as if the run had finished.
        if report.stoppedEarly, let number = signals.requested { throw ZooExit.stopped(by: number) }
    }

    private func printLines(_ report: TrainingReport) {
        for epoch in report.epochs {
            var line = "epoch \(epoch.epoch): loss \(format(epoch.loss))"
            if let accuracy = epoch.accuracy { line += ", accuracy \(format(accuracy))" }
            if let loss = epoch.valLoss { line += ", val_loss \(format(loss))" }
            if let accuracy = epoch.valAccuracy { line += ", val_accuracy \(format(accuracy))" }
            Output.line(line)
        }
        Output.line(
            "wrote \(report.output) after \(report.steps) steps\(report.stoppedEarly ? " (stopped early: resume with --resume)" : "")")
    }

    private func format(_ value: Double) -> String { String(format: "%.4f", value) }
}

/// One line on a terminal's standard error, redrawn after each step: epoch, step, loss,
/// accuracy and the time left at this run's pace.
private struct ProgressBar {
    let enabled: Bool

    func show(_ progress: TrainingProgress) {
        guard enabled else { return }
        let width = 24
        let done = progress.stepsPerEpoch > 0 ? progress.step * width / progress.stepsPerEpoch : width
        let perStep = progress.elapsed / Double(max(progress.stepsThisRun, 1))
        let left = Int((perStep * Double(progress.stepsLeft)).rounded())
        var text =
            "\repoch \(progress.epoch)/\(progress.epochs) [\(String(repeating: "=", count: done))\(String(repeating: " ", count: width - done))] "
        text += "\(progress.step)/\(progress.stepsPerEpoch) loss \(String(format: "%.4f", progress.loss))"
        if let accuracy = progress.accuracy { text += " acc \(String(format: "%.3f", accuracy))" }
        text += " \(left / 60)m\(String(format: "%02d", left % 60))s left "
        CommandContext.current.output.write(text, to: .standardError)
    }

    func finish() {
        if enabled { CommandContext.current.output.write("\n", to: .standardError) }
    }
}
