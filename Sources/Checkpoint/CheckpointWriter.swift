import Foundation
import HDF5
import Tensor

/// Writes canonical format v1: one root dataset per key in state_dict order, a `__manifest__`
/// with a record and SHA-256 for every tensor, and `__tests__` when reference cases are given.
///
/// Writes are atomic: the file is built under a temporary name in the target's folder, flushed
/// and synced, then renamed over the target, so a crash never leaves a half-written file under
/// the target name and never destroys the previous one.
public enum CheckpointWriter {
    public static func write(
        _ stateDict: StateDict, manifest: Manifest = Manifest(), referenceCases: [ReferenceCase] = [],
        to path: String
    ) throws(CheckpointError) {
        for key in stateDict.keys {
            if key.isEmpty || key.contains("/") {
                throw .invalidKey(key: key, reason: "HDF5 names cannot be empty or contain '/'")
            }
            if CheckpointReader.isMetadata(key) {
                throw .invalidKey(key: key, reason: "names that start and end with '__' are reserved for metadata")
            }
        }
        var manifest = manifest
        manifest.formatVersion = Manifest.currentVersion
        manifest.tensors = [:]
        for (key, tensor) in stateDict { manifest.tensors[key] = TensorRecord(describing: tensor) }

        let target = URL(fileURLWithPath: path)
        let folder = target.deletingLastPathComponent()
        let temporary = folder.appendingPathComponent(
            ".\(target.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: .min ... .max))")
        do {
            try writeFile(stateDict, manifest: manifest, referenceCases: referenceCases, to: temporary.path)
            try syncFile(at: temporary.path)
            guard rename(temporary.path, target.path) == 0 else {
                throw CheckpointError.writeFailed(path: path, reason: "rename failed: \(String(cString: strerror(errno)))")
            }
            try? syncFile(at: folder.path)
        } catch {
            unlink(temporary.path)
            if let error = error as? CheckpointError { throw error }
            throw .writeFailed(path: path, reason: "\(error)")
        }
    }

    /// All HDF5 handles are released when this returns, which closes the file.
    private static func writeFile(_ stateDict: StateDict, manifest: Manifest, referenceCases: [ReferenceCase], to path: String) throws {
        let file = try HDF5File.create(path)
        let root = try file.rootGroup()
        for (key, tensor) in stateDict {
            try TensorIO.write(tensor, key: key, into: root)
        }
        try root.createStringDataset("__manifest__", value: manifest.json.serialized())
        try ReferenceVectorIO.write(referenceCases, into: root)
        try file.flush()
    }

    private static func syncFile(at path: String) throws {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            throw CheckpointError.writeFailed(path: path, reason: "cannot open to sync: \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else {
            throw CheckpointError.writeFailed(path: path, reason: "fsync failed: \(String(cString: strerror(errno)))")
        }
    }
}
