import Foundation
import Tensor

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Replaces a file so that a crash never leaves a half-written file under its name and never
/// destroys the previous one: the new content is written under a temporary name in the same
/// folder (`.NAME.tmp-PID-RANDOM`), flushed and synced, then renamed over the target, and the
/// folder is synced. Temporary files that a killed writer left behind (their process is gone)
/// are removed by the next write of the same target. System calls interrupted by a signal
/// (EINTR) are retried.
enum AtomicFile {
    /// `write` fills the temporary path it is given (by any means: HDF5, a file handle) and
    /// closes what it opened. With `durable` false (scratch files) nothing is synced.
    static func replace(_ path: String, durable: Bool = true, write: (String) throws -> Void) throws(CheckpointError) {
        let target = URL(fileURLWithPath: path)
        let folder = target.deletingLastPathComponent()
        removeStaleTemporaries(of: target)
        let temporary = folder.appendingPathComponent(
            "\(temporaryPrefix(of: target))\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: .min ... .max))")
        do {
            try write(temporary.path)
            if durable { try sync(temporary.path, reportingAs: path) }
            guard retryingInterrupts({ rename(temporary.path, target.path) }) == 0 else {
                throw CheckpointError.writeFailed(path: path, reason: "rename failed: \(String(cString: strerror(errno)))")
            }
            if durable { try? sync(folder.path, reportingAs: path) }
        } catch {
            unlink(temporary.path)
            // Failures of the temporary are the target's to the user, who never sees that name.
            if case .writeFailed(_, let reason) = error as? CheckpointError { throw .writeFailed(path: path, reason: reason) }
            if let error = error as? CheckpointError { throw error }
            throw .writeFailed(path: path, reason: "\(error)")
        }
    }

    /// Creates `path` (mode 0644, which umask narrows) and writes `bytes` to it.
    static func writeAll(_ bytes: [UInt8], to path: String) throws(CheckpointError) {
        try writeAll(to: path) { append throws(CheckpointError) in try append.bytes(bytes) }
    }

    /// Creates `path` (mode 0644, which umask narrows) and writes what `produce` appends, in
    /// order, retrying short and interrupted writes; a full disk or any other failure throws
    /// with the system's reason (ENOSPC: "No space left on device").
    static func writeAll(to path: String, _ produce: (_ append: Appender) throws(CheckpointError) -> Void) throws(CheckpointError) {
        let descriptor = retryingInterrupts { open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
        guard descriptor >= 0 else { throw .writeFailed(path: path, reason: String(cString: strerror(errno))) }
        defer { _ = close(descriptor) }
        try produce(Appender(descriptor: descriptor, path: path))
    }

    /// Appends bytes to the file ``writeAll(to:_:)`` writes.
    struct Appender {
        fileprivate let descriptor: Int32
        fileprivate let path: String

        func bytes(_ bytes: [UInt8]) throws(CheckpointError) {
            try bytes.withUnsafeBytes { put($0) }.get()
        }

        /// A tensor's little-endian bytes, written from its storage without a copy on
        /// little-endian hosts.
        func tensor(_ tensor: Tensor) throws(CheckpointError) {
            guard hostIsLittleEndian else { return try bytes(tensor.littleEndianBytes) }
            try tensor.storage.withUnsafeBytes { put($0) }.get()
        }

        private func put(_ buffer: UnsafeRawBufferPointer) -> Result<Void, CheckpointError> {
            var offset = 0
            while offset < buffer.count, let base = buffer.baseAddress {
                let written = write(descriptor, base + offset, buffer.count - offset)
                if written < 0 && errno != EINTR { return .failure(.writeFailed(path: path, reason: String(cString: strerror(errno)))) }
                offset += Swift.max(written, 0)
            }
            return .success(())
        }
    }

    private static func temporaryPrefix(of target: URL) -> String { ".\(target.lastPathComponent).tmp-" }

    /// Removes `.NAME.tmp-PID-*` files of this target whose writer process no longer exists.
    private static func removeStaleTemporaries(of target: URL) {
        let folder = target.deletingLastPathComponent()
        let prefix = temporaryPrefix(of: target)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return }
        for name in names where name.hasPrefix(prefix) {
            guard let pid = Int32(name.dropFirst(prefix.count).split(separator: "-").first ?? "") else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { unlink(folder.appendingPathComponent(name).path) }
        }
    }

    private static func sync(_ file: String, reportingAs path: String) throws {
        let descriptor = retryingInterrupts { open(file, O_RDONLY) }
        guard descriptor >= 0 else {
            throw CheckpointError.writeFailed(path: path, reason: "cannot open to sync: \(String(cString: strerror(errno)))")
        }
        defer { _ = close(descriptor) }
        guard retryingInterrupts({ fsync(descriptor) }) == 0 else {
            throw CheckpointError.writeFailed(path: path, reason: "fsync failed: \(String(cString: strerror(errno)))")
        }
    }
}

/// Runs a system call again while it fails with EINTR.
func retryingInterrupts(_ call: () -> Int32) -> Int32 {
    while true {
        let result = call()
        if result == -1 && errno == EINTR { continue }
        return result
    }
}
