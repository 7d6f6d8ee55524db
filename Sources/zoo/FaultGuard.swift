import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// libhdf5 does not validate every on-disk structure: some damaged files make it read or copy
/// through wild pointers (seen by fuzzing 1.10.8). Memory faults are turned into exit code 2
/// with a message naming the file, so that "never a crash" holds for users' scripts. Swift's own
/// traps (SIGILL, SIGTRAP) are left alone so that bugs in zoo still surface as crashes.
enum FaultGuard {
    /// The message written on a fault; prepared ahead because a signal handler may not allocate.
    nonisolated(unsafe) private static var message: UnsafeMutablePointer<CChar>?
    nonisolated(unsafe) private static var messageLength = 0

    /// Runs `body` with the handlers installed, then restores the previous ones (Swift's
    /// backtracer), so that faults elsewhere are reported as what they are.
    static func whileReading<T>(_ subject: String, _ body: () throws -> T) rethrows -> T {
        let previous = install(reading: subject)
        defer {
            for (signalNumber, action) in previous {
                var action = action
                sigaction(signalNumber, &action, nil)
            }
        }
        return try body()
    }

    private static func install(reading subject: String) -> [(Int32, sigaction)] {
        let text = "error: the HDF5 library hit a memory fault while reading \(subject); the file is damaged\n"
        message?.deallocate()
        let bytes = Array(text.utf8CString)
        let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count)
        buffer.initialize(from: bytes, count: bytes.count)
        message = buffer
        messageLength = bytes.count - 1
        var previous: [(Int32, sigaction)] = []
        for signalNumber in [SIGSEGV, SIGBUS] {
            var old = sigaction()
            var action = sigaction()
            #if canImport(Glibc)
                action.__sigaction_handler.sa_handler = faultHandler
            #else
                action.__sigaction_u.__sa_handler = faultHandler
            #endif
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0
            sigaction(signalNumber, &action, &old)
            previous.append((signalNumber, old))
        }
        return previous
    }

    fileprivate static func report() {
        if let message { _ = write(STDERR_FILENO, message, messageLength) }
        _exit(ZooExit.unusable)
    }
}

private func faultHandler(_ signal: Int32) {
    FaultGuard.report()
}
