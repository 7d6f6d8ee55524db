import Checkpoint
import Foundation
import NN
import Pictures
import Synchronization

/// Where zoo parses a file that may come from a stranger.
///
/// ``inProcess`` parses in the calling process: zoo checks everything it can before allocating and
/// never traps on a file's contents in its own code, but a bug inside libhdf5 triggered by a
/// crafted file can still crash or hang the caller. ``contained(reader:timeout:)`` parses in a
/// child process (the `zoo` executable serves it)
/// with a wall-clock limit, so that a crash or an endless loop there is an error naming the file.
/// Choose it for files you did not make.
public enum FileReading: Sendable {
    case inProcess
    /// `reader` is an executable that serves zoo's child requests (`zoo` itself does); `timeout`
    /// is in seconds.
    case contained(reader: URL, timeout: Double = ContainedReading.defaultTimeout)

    /// Every tensor, the manifest and the reference vectors of the checkpoint at `path`.
    public func checkpoint(at path: String) throws(CheckpointError) -> LoadedCheckpoint {
        switch self {
        case .inProcess: return try CheckpointReader.read(path)
        case .contained(let reader, let timeout): return try ContainedReading.read(path, timeout: timeout, reader: reader)
        }
    }

    /// The checkpoint at `path` as ``checkpoint(at:)`` reads it, with a `.pt2`'s torch.export
    /// program parsed as soon as its text is read, before any tensor, and the text let go (the
    /// checkpoint's `programText` is nil): the program's parse (what `ExportedProgram` keeps) is
    /// held beside the tensors instead of its text and its parse. nil for a file without a
    /// program of its own (a converted file's, in its manifest, stays in `programText`).
    public func checkpointAndProgram(at path: String) throws(CheckpointError) -> (LoadedCheckpoint, ParsedProgram?) {
        let parsed = Mutex<ParsedProgram?>(nil)
        let take: ProgramTaker = { text in
            let program = Result { try ExportedProgram(text: text) }
            parsed.withLock { $0 = program }
        }
        let checkpoint: LoadedCheckpoint
        switch self {
        case .inProcess: checkpoint = try CheckpointReader.read(path, takingProgram: take)
        case .contained(let reader, let timeout):
            checkpoint = try ContainedReading.read(path, timeout: timeout, reader: reader, takingProgram: take)
        }
        return (checkpoint, parsed.withLock { $0 })
    }

    /// What `zoo inspect` shows of the checkpoint at `path`: every tensor read and checked, none
    /// kept (see `CheckpointReader.inspect(_:)` in Checkpoint).
    public func inspectReport(at path: String) throws(CheckpointError) -> InspectReport {
        switch self {
        case .inProcess: return try CheckpointReader.inspect(path)
        case .contained(let reader, let timeout): return try ContainedReading.inspect(path, timeout: timeout, reader: reader)
        }
    }

    /// Reads every tensor of the checkpoint at `path` as ``inspectReport(at:)`` does, keeping
    /// nothing but their count: that the file can be read, before the caller reads it itself.
    public func check(at path: String) throws(CheckpointError) -> Int {
        switch self {
        case .inProcess: return try CheckpointReader.inspect(path).tensors.count
        case .contained(let reader, let timeout): return try ContainedReading.check(path, timeout: timeout, reader: reader)
        }
    }

    /// The checkpoint's manifest text alone, no tensor read; nil when it has none.
    public func manifestText(at path: String) throws(CheckpointError) -> String? {
        switch self {
        case .inProcess: return try CheckpointReader.readManifestText(path)
        case .contained(let reader, let timeout): return try ContainedReading.readManifestText(path, timeout: timeout, reader: reader)
        }
    }

    /// The decoded picture at `path` (PNG or JPEG).
    public func picture(at path: String) throws(PictureError) -> Picture {
        switch self {
        case .inProcess: return try PictureFile.read(path)
        case .contained(let reader, let timeout): return try ContainedDecoding.read(path, timeout: timeout, decoder: reader)
        }
    }
}

/// A torch.export program parsed from a file's text, or why it could not be (the JSON's error, or
/// `NNError.invalidProgram`), thrown where the program is used, as a parse there would throw it.
public typealias ParsedProgram = Result<ExportedProgram, any Error>
