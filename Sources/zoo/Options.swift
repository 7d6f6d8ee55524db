import ArgumentParser
import Checkpoint

/// Options every subcommand that reports takes.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print machine-readable JSON instead of tables.")
    var json = false
}

/// Reads a checkpoint, turning failures into exit code 2 with the reader's explanation.
func readCheckpoint(_ path: String) throws -> LoadedCheckpoint {
    do {
        return try FaultGuard.whileReading(path) { try CheckpointReader.read(path) }
    } catch {
        throw ZooExit.unusable("cannot read \(path) as a checkpoint", details: ["\(error)"])
    }
}
