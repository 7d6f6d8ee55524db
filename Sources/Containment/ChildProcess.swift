import Foundation
import Synchronization

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
        guard FileManager.default.createFile(atPath: errors.path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: errors.path])
        }
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
        let finished = Arc(Atomic<Bool>(false))
        process.terminationHandler = { _ in finished.value.store(true, ordering: .releasing) }
        try process.run()
        // Foundation hands the child's end to the run loop of the thread that started it, and
        // keeps about 1.2 KB per child there until that run loop runs: waitUntilExit runs it
        // (at once, the child being gone). Without it a host that never runs its run loop grew
        // by that much per contained read (LongRunningHost, 10,000 iterations).
        defer { process.waitUntilExit() }
        if !waitUntil(finished.value, timeout: timeout) {
            kill(process.processIdentifier, SIGKILL)
            _ = waitUntil(finished.value, timeout: .infinity)
            return .timedOut
        }
        if process.terminationReason == .uncaughtSignal { return .crashed(signal: process.terminationStatus) }
        return .exited(status: process.terminationStatus, message: message(in: errors))
    }

    /// What the child wrote to stderr, trimmed. An empty file is not read: Foundation's readers
    /// (String, Data and FileManager alike, Swift 6.3 on Linux) keep 4 KB for every empty file
    /// they read, and a child that succeeds writes nothing, so a long-running host grew by 4 KB
    /// per contained read.
    private static func message(in errors: URL) -> String {
        var status = stat()
        guard stat(errors.path, &status) == 0, status.st_size > 0 else { return "" }
        return (try? String(contentsOf: errors, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    }

    /// Polls `flag` until it is set or `timeout` seconds have passed; true when it was set. A
    /// child's end is noticed within 5 ms, which is nothing beside starting the child.
    private static func waitUntil(_ flag: borrowing Atomic<Bool>, timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(min(timeout, 1e9))
        var pause: UInt32 = 100
        while !flag.load(ordering: .acquiring) {
            if Date() >= deadline { return false }
            usleep(pause)
            pause = min(pause * 2, 5_000)
        }
        return true
    }

    /// Runs `executable` as the child that serves `request` and returns when it has answered
    /// (exit status 0, its answer in `request.output`); every other ending is thrown as the
    /// ``ContainmentFailure`` it is.
    public static func serve(_ request: ContainedRequest, with executable: URL, timeout: Double) throws(ContainmentFailure) {
        let outcome: ChildOutcome
        do { outcome = try run(executable, request.arguments, timeout: timeout) } catch {
            throw .cannotStart(executable: executable.path, reason: "\(error)")
        }
        if let failure = ContainmentFailure(outcome, timeout: timeout) { throw failure }
    }
}

/// A shared box for a value that cannot be copied (an `Atomic`), so that an escaping closure
/// (the termination handler) and its creator can both reach it.
private final class Arc<Value: ~Copyable & Sendable>: Sendable {
    let value: Value
    init(_ value: consuming Value) { self.value = value }
}
