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
}

/// The limit commands without `ReadOptions` use; set once from the parsed options.
nonisolated(unsafe) var readTimeout = ContainedReading.defaultTimeout

/// Reads a checkpoint in a child process (this executable, `zoo contained-read`), so that a
/// crash or hang inside libhdf5 on a crafted file is exit 2 naming the file, never a signal or a
/// hang here. `ZOO_IN_PROCESS=1` reads in this process instead (for fuzzing the readers).
func readCheckpoint(_ path: String, timeout: Double = readTimeout) throws -> LoadedCheckpoint {
    do {
        if readsInProcess { return try CheckpointReader.read(path) }
        return try ContainedReading.read(path, timeout: timeout, reader: ownExecutable)
    } catch {
        throw ZooExit.unusable("cannot read \(path) as a checkpoint", details: [FlagHints.message(error)])
    }
}

/// A checkpoint's manifest text, read in a child process without reading any tensor.
func readManifestText(_ path: String, timeout: Double) throws -> String? {
    do {
        if readsInProcess { return try CheckpointReader.readManifestText(path) }
        return try ContainedReading.readManifestText(path, timeout: timeout, reader: ownExecutable)
    } catch {
        throw ZooExit.unusable("cannot read \(path) as a checkpoint", details: ["\(error)"])
    }
}

/// Decodes a picture in a child process, as `readCheckpoint` reads checkpoints.
func decodePicture(_ path: String, timeout: Double) throws(PictureError) -> Picture {
    if readsInProcess { return try PictureFile.read(path) }
    return try ContainedDecoding.read(path, timeout: timeout, decoder: ownExecutable)
}

/// `ZOO_IN_PROCESS=1`: untrusted files are parsed in this process (for fuzzing the readers).
let readsInProcess = ProcessInfo.processInfo.environment["ZOO_IN_PROCESS"] == "1"

/// This executable, to run as the contained reader.
let ownExecutable: URL = {
    #if os(Linux)
        let link = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        if FileManager.default.isExecutableFile(atPath: link.path) { return link }
    #endif
    return Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])
}()
