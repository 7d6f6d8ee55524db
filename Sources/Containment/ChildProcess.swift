import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How a contained child process ended.
public enum ChildOutcome: Sendable, Equatable {
    /// It exited; `message` is what it wrote to stderr, trimmed.
    case exited(status: Int32, message: String)
    /// A signal ended it (a fault inside the code it ran).
    case crashed(signal: Int32)
    /// It ran past the limit and was killed.
    case timedOut
}

/// Runs untrusted parsing in a child process with a wall-clock limit, so that a fault or an
/// endless loop there cannot take the caller down: the one mechanism behind contained reading
/// of checkpoints and contained decoding of pictures.
public enum ChildProcess {
    /// Runs `executable` with `arguments` (stdin and stdout closed), kills it with SIGKILL after
    /// `timeout` seconds, and says how it ended.
    public static func run(_ executable: URL, _ arguments: [String], timeout: Double) throws -> ChildOutcome {
        let errors = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-child-\(UUID().uuidString).err")
        defer { unlink(errors.path) }
        FileManager.default.createFile(atPath: errors.path, contents: nil)
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        // Closed here once the child has it: Process keeps the parent's copy open otherwise, one
        // descriptor per child for the life of a long-running host.
        guard let errorHandle = FileHandle(forWritingAtPath: errors.path) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: errors.path])
        }
        defer { try? errorHandle.close() }
        process.standardError = errorHandle
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        try process.run()
        if finished.wait(timeout: .now() + timeout) == .timedOut {
            kill(process.processIdentifier, SIGKILL)
            finished.wait()
            return .timedOut
        }
        if process.terminationReason == .uncaughtSignal { return .crashed(signal: process.terminationStatus) }
        let message = (try? String(contentsOf: errors, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        return .exited(status: process.terminationStatus, message: message)
    }
}
