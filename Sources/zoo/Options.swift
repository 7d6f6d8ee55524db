import ArgumentParser
import Checkpoint
import ModelZoo

/// Options every subcommand that reports takes.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print machine-readable JSON instead of tables.")
    var json = false
}

/// A registry architecture named on the command line (`--arch simplecnn`); completes to the
/// registry's names, and an unknown name is a usage error (exit 2) listing them.
struct ArchitectureName: ExpressibleByArgument {
    var architecture: Architecture

    init?(argument: String) {
        guard let found = try? Registry.architecture(named: argument) else { return nil }
        architecture = found
    }

    static var allValueStrings: [String] { Registry.all.map(\.name) }
    static var defaultCompletionKind: CompletionKind { .list(allValueStrings) }
}

/// A constructor argument, `KEY=VALUE` with a positive integer value (`--set num_classes=5`).
struct ConstructorSetting: ExpressibleByArgument {
    var key: String
    var value: Int

    init?(argument: String) {
        let parts = argument.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty, let value = Int(parts[1]), value > 0 else { return nil }
        key = parts[0]
        self.value = value
    }

    static var defaultCompletionKind: CompletionKind { .list(Registry.all.flatMap { $0.arguments.map { "\($0.name)=" } }) }
}

/// Reads a checkpoint, turning failures into exit code 2 with the reader's explanation.
func readCheckpoint(_ path: String) throws -> LoadedCheckpoint {
    do {
        return try FaultGuard.whileReading(path) { try CheckpointReader.read(path) }
    } catch {
        throw ZooExit.unusable("cannot read \(path) as a checkpoint", details: ["\(error)"])
    }
}
