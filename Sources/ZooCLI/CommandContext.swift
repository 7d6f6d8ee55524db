import Foundation
import ModelZoo
import Synchronization

/// What one run of the command tree reads and writes through: where its output goes, and which
/// executable parses untrusted files for it. The `zoo` executable runs with
/// ``CommandContext/process``; tests and host programs run commands in their own process with
/// captured output (``ZooCommand/run(_:readerExecutable:)``).
struct CommandContext: Sendable {
    /// The executable that serves `contained-read` and `contained-decode` for this run.
    var readerExecutable: URL
    /// `ZOO_IN_PROCESS=1`: untrusted files are parsed in this process (for fuzzing the readers).
    var readsInProcess: Bool
    var output: OutputSink

    @TaskLocal static var current = CommandContext.process

    /// The `zoo` executable: its own standard output and error, itself as the contained reader.
    static let process = CommandContext(
        readerExecutable: ownExecutable, readsInProcess: ProcessInfo.processInfo.environment["ZOO_IN_PROCESS"] == "1",
        output: .standardStreams)

    /// How this run reads a file, with the limit `timeout` (seconds) when it reads in a child.
    func reading(timeout: Double) -> FileReading {
        readsInProcess ? .inProcess : .contained(reader: readerExecutable, timeout: timeout)
    }
}

/// Where a run's output goes: the process's streams, or buffers a caller reads afterwards.
final class OutputSink: Sendable {
    enum Stream { case standardOutput, standardError }

    private let capturing: Bool
    private let captured = Mutex((standardOutput: "", standardError: ""))

    private init(capturing: Bool) { self.capturing = capturing }

    static let standardStreams = OutputSink(capturing: false)
    static func capturing() -> OutputSink { OutputSink(capturing: true) }

    func write(_ text: String, to stream: Stream) {
        guard capturing else {
            let handle = stream == .standardOutput ? FileHandle.standardOutput : FileHandle.standardError
            handle.write(Data(text.utf8))
            return
        }
        captured.withLock { buffers in
            switch stream {
            case .standardOutput: buffers.standardOutput += text
            case .standardError: buffers.standardError += text
            }
        }
    }

    var text: (standardOutput: String, standardError: String) { captured.withLock { $0 } }
}

/// This executable, to run as the contained reader.
private let ownExecutable: URL = {
    #if os(Linux)
        let link = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        if FileManager.default.isExecutableFile(atPath: link.path) { return link }
    #endif
    return Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])
}()
