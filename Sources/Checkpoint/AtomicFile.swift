import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Replaces a file so that a crash never leaves a half-written file under its name and never
/// destroys the previous one: the new content is written under a temporary name in the same
/// folder, flushed and synced, then renamed over the target, and the folder is synced.
enum AtomicFile {
    /// `write` fills the temporary path it is given (by any means: HDF5, a file handle).
    static func replace(_ path: String, write: (String) throws -> Void) throws(CheckpointError) {
        let target = URL(fileURLWithPath: path)
        let folder = target.deletingLastPathComponent()
        let temporary = folder.appendingPathComponent(
            ".\(target.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: .min ... .max))")
        do {
            try write(temporary.path)
            try sync(temporary.path, reportingAs: path)
            guard rename(temporary.path, target.path) == 0 else {
                throw CheckpointError.writeFailed(path: path, reason: "rename failed: \(String(cString: strerror(errno)))")
            }
            try? sync(folder.path, reportingAs: path)
        } catch {
            unlink(temporary.path)
            if let error = error as? CheckpointError { throw error }
            throw .writeFailed(path: path, reason: "\(error)")
        }
    }

    private static func sync(_ file: String, reportingAs path: String) throws {
        let descriptor = open(file, O_RDONLY)
        guard descriptor >= 0 else {
            throw CheckpointError.writeFailed(path: path, reason: "cannot open to sync: \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else {
            throw CheckpointError.writeFailed(path: path, reason: "fsync failed: \(String(cString: strerror(errno)))")
        }
    }
}
