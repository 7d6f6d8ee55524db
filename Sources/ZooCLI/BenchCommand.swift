import ArgumentParser
import Checkpoint
import Foundation
import ModelZoo
import NN

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time forward passes, training steps and checkpoint loads (build with -c release; compare with Tools/bench_torch.py).",
        subcommands: [BenchForwardCommand.self, BenchLoadCommand.self, BenchTrainCommand.self])
}

struct BenchForwardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Eval-mode forward passes of a registry model (initialised with seed 0) or a checkpoint's model, on random input.")

    @OptionGroup var output: OutputOptions
    @OptionGroup var memory: MemoryOptions

    @Argument(help: "A registry architecture (e.g. resnet18) or a checkpoint file.", completion: .file())
    var model: String

    @Option(name: .long, help: "Samples per pass.") var batch = 1
    @Option(name: .long, help: "Input height (default: the model's).") var height: Int?
    @Option(name: .long, help: "Input width (default: the model's).") var width: Int?
    @Option(name: .customLong("repeat"), help: "Timed passes.") var repeats = 10
    @Option(name: .long, help: "Untimed passes first.") var warmup = 2
    @Option(name: .long, help: "Compute threads (default: OMP_NUM_THREADS if set, else the machine's cores).")
    var threads = ComputeThreads.count

    func validate() throws {
        for (flag, value) in [("--batch", batch), ("--repeat", repeats), ("--threads", threads)] where value < 1 {
            throw ValidationError("\(flag) must be at least 1")
        }
        if warmup < 0 { throw ValidationError("--warmup must not be negative") }
        // A bound a benchmark never needs, so that a mistyped count is a usage error, not a
        // run that never ends (or a thread count OpenMP cannot take).
        for (flag, value, most) in [
            ("--repeat", repeats, maximumRepeats), ("--warmup", warmup, maximumRepeats), ("--threads", threads, 1024),
        ]
        where value > most {
            throw ValidationError("\(flag) must be at most \(most), got \(value)")
        }
        for (flag, value) in [("--height", height), ("--width", width)] {
            if let value, value < 1 { throw ValidationError("\(flag) must be at least 1") }
        }
    }

    func run() throws {
        let built = try benchmarkedModel(model, height: height, width: width)
        let report: ForwardBenchmarkReport
        do {
            report = try Benchmark.forward(
                built.module, label: built.label, sampleShape: built.shape, batch: batch, repeats: repeats, warmup: warmup,
                threads: threads,
                memoryLimit: memory.maxMemory?.bytes)
        } catch let error as MemoryAdmissionError {
            throw memory.failure(error, running: built.label)
        } catch { throw ZooExit.unusable("the forward pass failed", details: ["\(error)"]) }
        if output.json { return Output.json(report) }
        Output.line(
            "\(report.arch)  input \(Output.shape(report.inputShape))  \(report.threads) thread(s): "
                + String(format: "min %.2f ms, median %.2f ms", report.minMilliseconds, report.medianMilliseconds)
                + ", peak RSS \(Output.bytes(report.peakResidentBytes))")
    }
}

struct BenchLoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load", abstract: "Read every tensor of a checkpoint (any format zoo reads) into memory, timed.")

    @OptionGroup var output: OutputOptions

    @Argument(help: "The checkpoint.", completion: .file())
    var file: String

    @Option(name: .customLong("repeat"), help: "Timed reads.") var repeats = 5
    @OptionGroup var reading: ReadOptions

    func validate() throws {
        if repeats < 1 { throw ValidationError("--repeat must be at least 1") }
        if repeats > maximumRepeats { throw ValidationError("--repeat must be at most \(maximumRepeats), got \(repeats)") }
    }

    func run() throws {
        // A contained read first: a hostile file is exit 2 here, before the timed in-process reads.
        // Nothing comes back but the tensor count: the tensors, or even their report, would only
        // be dropped, after raising this process's peak before its timed read.
        try checkCheckpoint(file, with: reading.files)
        let report: LoadBenchmarkReport
        do { report = try Benchmark.load(file, repeats: repeats) } catch {
            throw ZooExit.unusable("cannot read \(file) as a checkpoint", details: ["\(error)"])
        }
        if output.json { return Output.json(report) }
        Output.line(
            "\(report.path) (\(report.container.rawValue)): \(report.tensors) tensors, \(Output.bytes(report.bytes)): "
                + String(
                    format: "min %.1f ms, median %.1f ms, %.2f GB/s", report.minMilliseconds, report.medianMilliseconds,
                    report.gigabytesPerSecond)
                + ", peak RSS \(Output.bytes(report.peakResidentBytes))"
                + (report.readerPeakResidentBytes > 0 ? " (reading child: \(Output.bytes(report.readerPeakResidentBytes)))" : ""))
    }
}

/// The most timed passes or reads a benchmark takes.
let maximumRepeats = 100_000

/// The model a `zoo bench` subcommand times: a registry architecture initialised with seed 0,
/// or a checkpoint's model; with its label and its sample shape, `height` and `width` replacing
/// the last two axes when given.
func benchmarkedModel(_ model: String, height: Int?, width: Int?) throws -> (module: Module, label: String, shape: [Int]) {
    let built = try modelToTime(model)
    guard var shape = built.shape, shape.count >= 2 else {
        throw ZooExit.unusable("\(model): the input shape is unknown; the file has no reference vectors to take it from")
    }
    if let height { shape[shape.count - 2] = height }
    if let width { shape[shape.count - 1] = width }
    return (built.module, built.label, shape)
}

private func modelToTime(_ model: String) throws -> (module: Module, label: String, shape: [Int]?) {
    if let architecture = try? Registry.architecture(named: model) {
        let module = try architecture.initialisedModel(seed: 0)
        return (module, Registry.label(architecture, try architecture.resolvedArguments([:])), architecture.inputShape([:]))
    } else {
        let checkpoint = try readCheckpoint(model, with: CommandContext.current.reading(timeout: ContainedReading.defaultTimeout))
        let resolved: ResolvedModel
        do {
            resolved = try ModelResolver.resolve(checkpoint)
            try resolved.loadStrictly(checkpoint)
        } catch { throw ZooExit.failed("cannot run \(model)", details: [FlagHints.message(error)]) }
        return (
            resolved.model, resolved.label,
            resolved.inputShape ?? checkpoint.referenceCases.first.map { Array($0.input.shape.dropFirst()) }
        )
    }
}
