import ArgumentParser
import ModelZoo
import NN

struct BenchTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Training steps (forward, backward, optimizer) of a registry model (seed 0) or a checkpoint's model, on random input.")

    @OptionGroup var output: OutputOptions

    @Argument(help: "A registry architecture (e.g. simplecnn) or a checkpoint file.", completion: .file())
    var model: String

    @Option(name: .long, help: "Samples per step.") var batch = 1
    @Option(name: .long, help: "Input height (default: the model's).") var height: Int?
    @Option(name: .long, help: "Input width (default: the model's).") var width: Int?
    @Option(name: .long, help: "The optimizer stepped.") var optimizer: OptimizerKind = .adam
    @Option(name: .customLong("repeat"), help: "Timed steps.") var repeats = 10

    func validate() throws {
        for (flag, value, most) in [("--batch", batch, 1 << 20), ("--repeat", repeats, maximumRepeats)] where value < 1 || value > most {
            throw ValidationError("\(flag) must be between 1 and \(most)")
        }
        for (flag, value) in [("--height", height), ("--width", width)] {
            if let value, value < 1 { throw ValidationError("\(flag) must be at least 1") }
        }
    }

    func run() throws {
        let built = try benchmarkedModel(model, height: height, width: width)
        let report: TrainBenchmarkReport
        do {
            report = try Benchmark.train(
                built.module, label: built.label, sampleShape: built.shape, batch: batch, optimizer: optimizer, repeats: repeats)
        } catch { throw ZooExit.unusable("the training step failed", details: ["\(error)"]) }
        if output.json { return Output.json(report) }
        Output.line(
            "\(report.arch)  input \(Output.shape(report.inputShape))  \(report.optimizer.rawValue)  \(report.threads) thread(s): "
                + String(format: "min %.2f ms, median %.2f ms", report.minMilliseconds, report.medianMilliseconds)
                + ", peak RSS \(Output.bytes(report.peakResidentBytes))")
    }
}
