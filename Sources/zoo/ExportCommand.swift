import ArgumentParser
import Checkpoint
import ModelZoo

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a freshly initialised registry model (PyTorch's initialisation) as canonical v1 with a reference input/output pair.")

    @Argument(help: "The registry architecture, e.g. simplecnn.")
    var arch: String

    @Option(name: .long, help: "Seed for the weights and the reference input.")
    var seed: UInt64 = 0

    @Option(name: .customLong("set"), help: "A constructor argument, KEY=VALUE (repeatable), e.g. --set num_classes=5.")
    var settings: [String] = []

    @Option(name: .long, help: "Where to write the checkpoint (.h5).")
    var output: String

    func run() throws {
        let architecture: Architecture
        do { architecture = try Registry.architecture(named: arch) } catch { throw ZooExit.unusable("\(error)") }
        var arguments: [String: Int] = [:]
        for setting in settings {
            let parts = setting.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let value = Int(parts[1]), value > 0 else {
                throw ZooExit.unusable("--set takes KEY=VALUE with a positive integer value, got '\(setting)'")
            }
            arguments[parts[0]] = value
        }
        do {
            let (stateDict, reference) = try Exporter.export(architecture, arguments: arguments, seed: seed, to: output)
            Output.line("wrote \(output): \(Registry.label(architecture, try architecture.resolvedArguments(arguments))), \(stateDict.count) tensors, reference input \(Output.shape(reference.input.shape)) -> \(Output.shape(reference.output.shape))")
        } catch let error as ModelZooError {
            throw ZooExit.unusable("\(error)")
        } catch let error as CheckpointError {
            throw ZooExit.unusable("cannot write \(output)", details: [error.description])
        }
    }
}
