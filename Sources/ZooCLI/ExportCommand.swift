import ArgumentParser
import Checkpoint
import ModelZoo

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract:
            "Write a freshly initialised registry model (PyTorch's initialisation) as canonical v1 with a reference input/output pair.")

    @Argument(help: "The registry architecture, e.g. simplecnn.")
    var arch: ArchitectureName

    @Option(name: .long, help: "Seed for the weights and the reference input.")
    var seed: UInt64 = 0

    @Option(
        name: .customLong("set"),
        help: "A constructor argument, KEY=VALUE with a positive integer (repeatable), e.g. --set num_classes=5.")
    var settings: [ConstructorSetting] = []

    @Option(name: .long, help: "Where to write the checkpoint (.h5).", completion: .file(extensions: ["h5"]))
    var output: String

    func run() throws {
        let architecture = arch.architecture
        var arguments: [String: Int] = [:]
        for setting in settings { arguments[setting.key] = setting.value }
        do {
            let (stateDict, reference) = try Exporter.export(architecture, arguments: arguments, seed: seed, to: output)
            let label = Registry.label(architecture, try architecture.resolvedArguments(arguments))
            Output.line(
                "wrote \(output): \(label), \(stateDict.count) tensors, "
                    + "reference input \(Output.shape(reference.input.shape)) -> \(Output.shape(reference.output.shape))")
        } catch let error as ModelZooError {
            throw ZooExit.unusable("\(error)")
        } catch let error as CheckpointError {
            throw writeFailure(error, output: output)
        } catch let error as MemoryAdmissionError {
            throw ZooExit.unusable("cannot export \(architecture.name): \(error)")
        }
    }
}
