import Containment
import Foundation
import JSON
import Tensor

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reading untrusted files where a fault or an endless loop in a C library (libhdf5 1.10 has
/// known heap overflows and hangs on crafted files) cannot take the caller down.
///
/// ``CheckpointReader/read(_:)`` parses in the calling process: it checks everything it can
/// before allocating and never traps on a file's contents in zoo's own code, but a bug inside
/// libhdf5 triggered by a crafted file can still crash or hang the caller. ``read(_:timeout:reader:)``
/// instead runs the reader in a child process (a `zoo` executable: `zoo contained-read FILE
/// --output TRANSFER`), with a wall-clock limit. The child writes what it read to a scratch
/// safetensors file, which the caller reads with zoo's own Swift safetensors reader (no C
/// library touches untrusted bytes in the caller). A crash or a hang of the child becomes a
/// ``CheckpointError`` naming the file.
public enum ContainedReading {
    /// `__metadata__` key of the transfer file that carries everything but the tensors.
    static let transferKey = "zoo_transfer"
    public static let defaultTimeout: Double = 60

    /// Reads `path` in a child process running `reader contained-read`; throws when the file
    /// cannot be read, the child crashes, or it runs longer than `timeout` seconds (it is then killed).
    public static func read(_ path: String, timeout: Double = defaultTimeout, reader: URL) throws(CheckpointError) -> LoadedCheckpoint {
        let scratch = scratchFolder().appendingPathComponent(
            "zoo-read-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString).safetensors")
        defer { unlink(scratch.path) }
        let outcome: ChildOutcome
        do { outcome = try ChildProcess.run(reader, ["contained-read", path, "--output", scratch.path], timeout: timeout) } catch {
            throw .containedFailure(path: path, reason: "cannot start the reader process \(reader.path): \(error)")
        }
        switch outcome {
        case .timedOut:
            throw .containedFailure(
                path: path,
                reason:
                    "\(path): reading took longer than \(Int(timeout)) s and was stopped; the file may be crafted to hang the reader (--timeout changes the limit)"
            )
        case .crashed(let signal):
            throw .containedFailure(
                path: path,
                reason: "\(path): the reader crashed (signal \(signal)) on this file; it is damaged or crafted, and nothing was loaded")
        case .exited(0, _):
            return try readTransfer(scratch.path, originalPath: path)
        case .exited(_, let message):
            throw .containedFailure(path: path, reason: message.isEmpty ? "\(path): the reader failed" : message)
        }
    }

    /// The manifest's text only (no tensor is read), in a child process as `read` does it.
    public static func readManifestText(_ path: String, timeout: Double = defaultTimeout, reader: URL) throws(CheckpointError) -> String? {
        let scratch = scratchFolder().appendingPathComponent("zoo-manifest-\(UUID().uuidString).json")
        defer { unlink(scratch.path) }
        let outcome: ChildOutcome
        do {
            outcome = try ChildProcess.run(reader, ["contained-read", path, "--output", scratch.path, "--manifest-only"], timeout: timeout)
        } catch {
            throw .containedFailure(path: path, reason: "cannot start the reader process \(reader.path): \(error)")
        }
        switch outcome {
        case .timedOut: throw .containedFailure(path: path, reason: "\(path): reading took longer than \(Int(timeout)) s and was stopped")
        case .crashed(let signal):
            throw .containedFailure(path: path, reason: "\(path): the reader crashed (signal \(signal)) on this file")
        case .exited(0, _):
            guard let text = try? String(contentsOf: scratch, encoding: .utf8), let value = try? JSONValue.parse(text) else {
                throw .containedFailure(path: path, reason: "\(path): the reader's answer is incomplete")
            }
            return value["manifest"]?.stringValue
        case .exited(_, let message): throw .containedFailure(path: path, reason: message.isEmpty ? "\(path): the reader failed" : message)
        }
    }

    /// The child's side of `readManifestText`.
    public static func serveManifest(_ path: String, output: String) throws(CheckpointError) {
        let text = try CheckpointReader.readManifestText(path)
        let answer = JSONValue.object(["manifest": text.map(JSONValue.string) ?? .null]).serialized()
        do { try answer.write(toFile: output, atomically: false, encoding: .utf8) } catch {
            throw .writeFailed(path: output, reason: "\(error)")
        }
    }

    /// The child's side: reads `path` in this process and writes it to `output` for the parent.
    public static func serve(_ path: String, output: String) throws(CheckpointError) {
        let checkpoint = try CheckpointReader.read(path)
        let fields: [String: JSONValue] = [
            "container": .string(checkpoint.container.rawValue),
            "layout_notes": .array(checkpoint.layoutNotes.map(JSONValue.string)),
            "stored_keys": .object(checkpoint.storedKeys.mapValues(JSONValue.string)),
            "pickle_globals": .array(checkpoint.pickleGlobals.map(JSONValue.string)),
            "metadata": .object(checkpoint.metadata.mapValues(JSONValue.string)),
            "manifest_text": checkpoint.manifestText.map(JSONValue.string) ?? .null,
            "signature": checkpoint.signatureText.map(JSONValue.string) ?? .null,
        ]
        try SafetensorsWriter.write(
            checkpoint.stateDict, manifest: checkpoint.manifest ?? Manifest(), referenceCases: checkpoint.referenceCases,
            evalSet: checkpoint.evalSet, signature: nil, extraMetadata: [transferKey: JSONValue.object(fields).serialized()], to: output,
            durable: false)
    }

    private static func readTransfer(_ scratch: String, originalPath: String) throws(CheckpointError) -> LoadedCheckpoint {
        let raw = try SafetensorsReader.read(scratch)
        guard let text = raw.metadata[transferKey], let fields = (try? JSONValue.parse(text))?.objectValue else {
            throw .containedFailure(path: originalPath, reason: "\(originalPath): the reader's transfer file is incomplete")
        }
        let manifestText = fields["manifest_text"]?.stringValue
        var checkpoint = LoadedCheckpoint(
            path: originalPath, stateDict: StateDict(raw.entries),
            manifest: try manifestText.map { text throws(CheckpointError) in try Manifest(json: text, path: originalPath) },
            referenceCases: raw.referenceCases, layoutNotes: fields["layout_notes"]?.arrayValue?.compactMap(\.stringValue) ?? [],
            storedKeys: fields["stored_keys"]?.objectValue?.compactMapValues(\.stringValue) ?? [:])
        checkpoint.container = fields["container"]?.stringValue.flatMap(CheckpointContainer.init(rawValue:)) ?? .hdf5
        checkpoint.pickleGlobals = fields["pickle_globals"]?.arrayValue?.compactMap(\.stringValue) ?? []
        checkpoint.metadata = fields["metadata"]?.objectValue?.compactMapValues(\.stringValue) ?? [:]
        checkpoint.evalSet = raw.evalSet
        checkpoint.manifestText = manifestText
        checkpoint.signatureText = fields["signature"]?.stringValue
        return checkpoint
    }

    /// RAM-backed when the system has one (/dev/shm), so the transfer costs memory copies only.
    private static func scratchFolder() -> URL {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: "/dev/shm", isDirectory: &isFolder), isFolder.boolValue,
            access("/dev/shm", W_OK) == 0
        {
            return URL(fileURLWithPath: "/dev/shm")
        }
        return FileManager.default.temporaryDirectory
    }
}
