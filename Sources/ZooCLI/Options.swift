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
        throw ZooExit.unusable("cannot read \(path) as a checkpoint", details: [FlagHints.message(error)])
    }
}

/// What `zoo inspect` shows of a checkpoint, read as `reading` says with no tensor kept; a file
/// that cannot be read fails as ``readCheckpoint(_:with:)`` fails.
func inspectCheckpoint(_ path: String, with reading: FileReading) throws -> InspectReport {
    do { return try reading.inspectReport(at: path) } catch {
        throw ZooExit.unusable("cannot read \(path) as a checkpoint", details: [FlagHints.message(error)])
    }
}

/// Reads every tensor of a checkpoint as `reading` says, keeping none: a file that cannot be
/// read fails as ``readCheckpoint(_:with:)`` fails.
func checkCheckpoint(_ path: String, with reading: FileReading) throws {
    do { _ = try reading.check(at: path) } catch {
        throw ZooExit.unusable("cannot read \(path) as a checkpoint", details: [FlagHints.message(error)])
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

/// The memory a forward pass may use: every command that runs a model takes it.
struct MemoryOptions: ParsableArguments {
    @Option(
        name: .long,
        help:
            "The most memory a forward pass may use (bytes, or with K, M, G, T, binary: 8G); default what the machine (or its control group) has available."
    )
    var maxMemory: MemorySize?

    /// Refused workloads are exit 2 with the line that says what they need.
    func failure(_ error: MemoryAdmissionError, running name: String) -> ZooExit {
        ZooExit.unusable("cannot run \(name): \(error)")
    }
}

/// A size on the command line: `8G`, `512M`, `1.5GiB`, `4096`.
struct MemorySize: ExpressibleByArgument {
    var bytes: Int

    init?(argument: String) {
        let text = argument.trimmingCharacters(in: .whitespaces).uppercased()
        let units: [(suffix: String, scale: Double)] = [
            ("TIB", 0x1p40), ("GIB", 0x1p30), ("MIB", 0x1p20), ("KIB", 0x1p10), ("T", 0x1p40), ("G", 0x1p30), ("M", 0x1p20), ("K", 0x1p10),
            ("B", 1),
        ]
        let unit = units.first { text.hasSuffix($0.suffix) } ?? ("", 1)
        guard let value = Double(text.dropLast(unit.suffix.count)), value.isFinite, value > 0, value * unit.scale < 0x1p62 else {
            return nil
        }
        bytes = Int(value * unit.scale)
    }
}
