import ArgumentParser
import Checkpoint
import Foundation
import ModelZoo
import Pictures

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

/// How long a file may take to read: every command that reads checkpoints takes it.
struct ReadOptions: ParsableArguments {
    @Option(name: .long, help: "Seconds a file may take to read before it is given up as hostile (default 60).")
    var timeout: Double = ContainedReading.defaultTimeout

    func validate() throws {
        guard timeout.isFinite, timeout > 0 else { throw ValidationError("--timeout must be a positive number of seconds") }
    }

    /// How this run reads files: in a child process with this limit, unless `ZOO_IN_PROCESS=1`.
    var files: FileReading { CommandContext.current.reading(timeout: timeout) }
}

/// Reads a checkpoint as `reading` says (contained unless `ZOO_IN_PROCESS=1`), so that a crash or
/// hang inside libhdf5 on a crafted file is exit 2 naming the file, never a signal or a hang here.
func readCheckpoint(_ path: String, with reading: FileReading) throws -> LoadedCheckpoint {
    do { return try reading.checkpoint(at: path) } catch {
        throw ZooExit.unusable("cannot read \(path) as a checkpoint", details: ["\(error)"])
    }
}

/// A checkpoint's manifest text, read without reading any tensor.
func readManifestText(_ path: String, with reading: FileReading) throws -> String? {
    do { return try reading.manifestText(at: path) } catch {
        throw ZooExit.unusable("cannot read \(path) as a checkpoint", details: ["\(error)"])
    }
}

/// A checkpoint that could not be written: a failed write (full disk, read-only folder) is one
/// line naming the file and the system's reason; anything else names the file, then the error.
func writeFailure(_ error: any Error, output: String) -> ZooExit {
    if case .writeFailed = error as? CheckpointError { return ZooExit.unusable("\(error)") }
    return ZooExit.unusable("cannot write \(output)", details: ["\(error)"])
}
